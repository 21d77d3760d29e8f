package mirror_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"github.com/ferry-dev/ferry/format"
	mrand "math/rand"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/internal/ocitest"
	"github.com/ferry-dev/ferry/mirror"
	"github.com/ferry-dev/ferry/vex"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

const (
	vexIdentity = "release@example.com"
	vexIssuer   = "https://issuer.example.com"
)

// vexRegistry is a loopback registry with two images:
//
//	app: .att tag with (a) OpenVEX signed with good, (b) OpenVEX signed
//	     with bad, (c) SLSA provenance signed with good; and an OCI
//	     referrer with another OpenVEX document signed with good.
//	svc: an OCI referrer with a keyless OpenVEX attestation (d).
type vexRegistry struct {
	host      string
	app, svc  v1.Hash
	good, bad *ecdsa.PrivateKey
	vs        *ca.VirtualSigstore
}

func newVEXRegistry(t *testing.T) *vexRegistry {
	t.Helper()
	r := &vexRegistry{host: ocitest.Registry(t)}
	var err error
	if r.good, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if r.bad, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if r.vs, err = ca.NewVirtualSigstore(); err != nil {
		t.Fatal(err)
	}
	push := func(s string, img v1.Image) v1.Hash {
		t.Helper()
		ref, err := name.ParseReference(s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	image := func(seed int64) v1.Image {
		img, err := random.Image(512, 1, random.WithSource(mrand.New(mrand.NewSource(seed))))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	appImg, svcImg := image(1), image(2)
	r.app = push(r.host+"/app:1.4", appImg)
	r.svc = push(r.host+"/svc:2.0", svcImg)
	vexFor := func(subject v1.Hash, vuln string) []byte {
		return fixtures.InTotoStatement(subject, fixtures.PredicateOpenVEX, fixtures.OpenVEXDocument("Example Vendor", vuln, "pkg:oci/app@"+subject.String()))
	}
	slsa := fixtures.InTotoStatement(r.app, fixtures.PredicateSLSA, []byte(`{"buildDefinition":{"buildType":"x"}}`))
	push(r.host+"/app:sha256-"+r.app.Hex+".att", fixtures.CosignManifest(nil,
		fixtures.AttestationLayer(fixtures.DSSEEnvelope(r.good, vexFor(r.app, "CVE-2026-0001")), fixtures.PredicateOpenVEX, nil),
		fixtures.AttestationLayer(fixtures.DSSEEnvelope(r.bad, vexFor(r.app, "CVE-2026-0002")), fixtures.PredicateOpenVEX, nil),
		fixtures.AttestationLayer(fixtures.DSSEEnvelope(r.good, slsa), fixtures.PredicateSLSA, nil),
	))
	appDesc := descriptor(t, appImg)
	ref := fixtures.CosignManifest(&appDesc, fixtures.AttestationLayer(fixtures.DSSEEnvelope(r.good, vexFor(r.app, "CVE-2026-0003")), fixtures.PredicateOpenVEX, nil))
	d, _ := ref.Digest()
	push(r.host+"/app@"+d.String(), ref)
	svcDesc := descriptor(t, svcImg)
	kl := fixtures.CosignManifest(&svcDesc, ocitest.KeylessAttestationLayer(t, r.vs, vexIdentity, vexIssuer, vexFor(r.svc, "CVE-2026-0004"), fixtures.PredicateOpenVEX))
	d, _ = kl.Digest()
	push(r.host+"/svc@"+d.String(), kl)
	return r
}

func descriptor(t *testing.T, img v1.Image) v1.Descriptor {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	return v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}
}

func (r *vexRegistry) refs(t *testing.T, repos ...string) []mirror.ImageRef {
	t.Helper()
	var out []mirror.ImageRef
	for _, s := range repos {
		ref, err := mirror.ParseReference(r.host+"/"+s, false)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, mirror.ImageRef{Ref: ref})
	}
	return out
}

func (r *vexRegistry) insecure() map[string]mirror.RegistryConfig {
	return map[string]mirror.RegistryConfig{r.host: {Insecure: true}}
}

func TestFetchVEXAttestationsKeyPair(t *testing.T) {
	r := newVEXRegistry(t)
	res, err := mirror.FetchVEXAttestations(context.Background(), mirror.VEXAttestationsOptions{
		Images: r.refs(t, "app:1.4"), Verify: images.VerifyOptions{Key: r.good.Public()}, Registries: r.insecure(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Images) != 1 || res.Images[0].Digest != r.app.String() || res.Images[0].Ref != r.host+"/app:1.4" {
		t.Errorf("images %+v: want the tag resolved to %s", res.Images, r.app)
	}
	// (a) the .att VEX and the referrer VEX verify; (c) SLSA is ignored.
	var vulns []string
	for _, a := range res.Verified {
		doc, err := vex.ParseOpenVEX(a.Predicate)
		if err != nil {
			t.Fatalf("predicate: %v", err)
		}
		vulns = append(vulns, doc.Statements[0].Vulnerability+"/"+a.Record.Via)
		if a.Record.Subject != r.app.String() || a.Record.Verified.Mode != "key" || a.Record.PredicateType != fixtures.PredicateOpenVEX {
			t.Errorf("record %+v", a.Record)
		}
		// The record re-verifies on its own (offline).
		if _, err := a.Record.Verify(context.Background(), images.VerifyOptions{Key: r.good.Public()}); err != nil {
			t.Errorf("re-verify %s: %v", a.Record.LayerDigest, err)
		}
		if _, err := a.Record.Verify(context.Background(), images.VerifyOptions{Key: r.bad.Public()}); err == nil {
			t.Errorf("%s re-verifies with the wrong key", a.Record.LayerDigest)
		}
	}
	if strings.Join(vulns, " ") != "CVE-2026-0001/tag CVE-2026-0003/referrer" {
		t.Errorf("verified %v", vulns)
	}
	// (b) the wrong key is rejected, with the reason.
	if len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "verification failed") || !strings.Contains(res.Rejected[0].Item, "#1") {
		t.Errorf("rejected %+v", res.Rejected)
	}
	if res.Ignored != 1 {
		t.Errorf("ignored %d, want 1 (the SLSA provenance)", res.Ignored)
	}
}

func TestFetchVEXAttestationsKeyless(t *testing.T) {
	r := newVEXRegistry(t)
	tr := ocitest.TrustedRootJSON(t, r.vs)
	for name, c := range map[string]struct {
		identity, issuer string
		verified         int
	}{
		"right identity": {vexIdentity, vexIssuer, 1},
		"other identity": {"mallory@example.com", vexIssuer, 0},
		"other issuer":   {vexIdentity, "https://other.example.com", 0},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := mirror.FetchVEXAttestations(context.Background(), mirror.VEXAttestationsOptions{
				Images: r.refs(t, "svc:2.0", "app:1.4"), Registries: r.insecure(),
				Verify: images.VerifyOptions{Identity: c.identity, Issuer: c.issuer, TrustedRoot: tr},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Verified) != c.verified {
				t.Fatalf("verified %d, want %d; rejected %+v", len(res.Verified), c.verified, res.Rejected)
			}
			// The key-signed VEX attestations of app have no certificate.
			if want := 3 + 1 - c.verified; len(res.Rejected) != want {
				t.Errorf("rejected %d, want %d: %+v", len(res.Rejected), want, res.Rejected)
			}
			if c.verified == 1 {
				a := res.Verified[0]
				if a.Result.Identity != vexIdentity || a.Record.Annotations[format.AnnotationCosignCertificate] == "" || a.Record.Verified.Tlog != "checked" {
					t.Errorf("keyless result %+v tlog %q", a.Result, a.Record.Verified.Tlog)
				}
				if _, err := a.Record.Verify(context.Background(), images.VerifyOptions{Identity: vexIdentity, Issuer: vexIssuer, TrustedRoot: tr}); err != nil {
					t.Errorf("re-verify: %v", err)
				}
			}
		})
	}
}

func TestFetchVEXAttestationsPlainHTTP(t *testing.T) {
	r := newVEXRegistry(t)
	_, err := mirror.FetchVEXAttestations(context.Background(), mirror.VEXAttestationsOptions{
		Images: r.refs(t, "app:1.4"), Verify: images.VerifyOptions{Key: r.good.Public()},
	})
	if !errors.Is(err, mirror.ErrPlainHTTP) {
		t.Fatalf("got %v, want ErrPlainHTTP", err)
	}
}
