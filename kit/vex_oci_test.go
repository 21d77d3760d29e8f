package kit_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	mrand "math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/internal/ocitest"
	"github.com/ferry-dev/ferry/internal/tuftest"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/verify"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

const (
	ociIdentity = "release@example.com"
	ociIssuer   = "https://issuer.example.com"
)

// ociVEXRegistry pushes app:1.4 with a .att tag holding an OpenVEX
// attestation signed with good, one signed with bad and a SLSA provenance
// signed with good; and svc:2.0 with a keyless OpenVEX referrer.
func ociVEXRegistry(t *testing.T) (host string, app, svc v1.Hash, good, bad *ecdsa.PrivateKey, vs *ca.VirtualSigstore) {
	t.Helper()
	host = ocitest.Registry(t)
	good, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bad, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
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
		d, _ := img.Digest()
		return d
	}
	img := func(seed int64) v1.Image {
		i, err := random.Image(256, 1, random.WithSource(mrand.New(mrand.NewSource(seed))))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	appImg, svcImg := img(11), img(12)
	app, svc = push(host+"/app:1.4", appImg), push(host+"/svc:2.0", svcImg)
	vexFor := func(d v1.Hash, vuln string) []byte {
		return fixtures.InTotoStatement(d, fixtures.PredicateOpenVEX, fixtures.OpenVEXDocument("Example Vendor", vuln, "pkg:oci/app@"+d.String()))
	}
	push(host+"/app:sha256-"+app.Hex+".att", fixtures.CosignManifest(nil,
		fixtures.AttestationLayer(fixtures.DSSEEnvelope(good, vexFor(app, "CVE-2026-1001")), fixtures.PredicateOpenVEX, nil),
		fixtures.AttestationLayer(fixtures.DSSEEnvelope(bad, vexFor(app, "CVE-2026-1002")), fixtures.PredicateOpenVEX, nil),
		fixtures.AttestationLayer(fixtures.DSSEEnvelope(good, fixtures.InTotoStatement(app, fixtures.PredicateSLSA, []byte(`{}`))), fixtures.PredicateSLSA, nil),
	))
	raw, _ := svcImg.RawManifest()
	mt, _ := svcImg.MediaType()
	ref := fixtures.CosignManifest(&v1.Descriptor{MediaType: mt, Digest: svc, Size: int64(len(raw))},
		ocitest.KeylessAttestationLayer(t, vs, ociIdentity, ociIssuer, vexFor(svc, "CVE-2026-1004"), fixtures.PredicateOpenVEX))
	d, _ := ref.Digest()
	push(host+"/svc@"+d.String(), ref)
	return host, app, svc, good, bad, vs
}

func TestOCIVEXKit(t *testing.T) {
	host, app, svc, good, _, vs := ociVEXRegistry(t)
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "cosign.pub"), fixtures.PublicKeyPEM(good), 0o644))
	tr := ocitest.TrustedRootJSON(t, vs)
	must(os.WriteFile(filepath.Join(dir, "trusted_root.json"), tr, 0o644))
	yaml := "name: f\nchannel: f\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nregistries:\n  " + host + ": {insecure: true}\nvex:\n" +
		"  - name: app-attestations\n    oci:\n      images: [" + host + "/app:1.4]\n      cosign: {mode: keypair, key: cosign.pub}\n" +
		"  - name: svc-attestations\n    oci:\n      images: [" + host + "/svc:2.0]\n      cosign: {mode: keyless, issuer: '" + ociIssuer + "', subject: " + ociIdentity + "}\n      trustedRoot: trusted_root.json\n"
	path := filepath.Join(dir, "kit.yaml")
	must(os.WriteFile(path, []byte(yaml), 0o644))
	spec, err := kit.LoadSpec(path)
	must(err)
	res, files := buildAndVerify(t, spec, nil)

	provs := map[string]kit.Provenance{}
	for _, p := range res.Manifest.Sources {
		provs[p.Name] = p
	}
	ap := provs["app-attestations"]
	if ap.Counts["attestationsVerified"] != 1 || ap.Counts["attestationsRejected"] != 1 || ap.Counts["attestationsIgnored"] != 1 ||
		ap.Counts["documents"] != 1 || ap.Counts["statements"] != 1 {
		t.Errorf("app counts %v", ap.Counts)
	}
	if len(ap.Skipped) != 1 || !strings.Contains(ap.Skipped[0].Reason, "verification failed") || !strings.HasSuffix(ap.Skipped[0].Item, "#1") {
		t.Errorf("app skipped %+v", ap.Skipped)
	}
	if len(ap.Images) != 1 || ap.Images[0].Digest != app.String() {
		t.Errorf("app images %+v: the tag must resolve to %s", ap.Images, app)
	}
	sp := provs["svc-attestations"]
	if sp.Counts["attestationsVerified"] != 1 || sp.Counts["attestationsRejected"] != 0 || len(sp.Images) != 1 || sp.Images[0].Digest != svc.String() {
		t.Errorf("svc provenance %+v", sp)
	}

	// The carried layout, and each record re-verifies offline from what
	// the kit carries.
	var paths []string
	for p := range files {
		if strings.HasPrefix(p, "vex/") {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var recs []string
	for _, p := range paths {
		src, rest, _ := strings.Cut(strings.TrimPrefix(p, "vex/"), "/")
		switch {
		case strings.HasPrefix(rest, "attestations/"):
			recs = append(recs, p)
			if sha256Hex(files[p])+".json" != strings.TrimPrefix(rest, "attestations/") {
				t.Errorf("%s is not named by its sha256", p)
			}
			var rec images.AttestationRecord
			must(json.Unmarshal(files[p], &rec))
			if _, ok := files[rec.Predicate]; !ok || sha256Hex(files[rec.Predicate]) != strings.TrimPrefix(rec.PredicateDigest, "sha256:") {
				t.Errorf("%s: predicate %s not carried", p, rec.Predicate)
			}
			var o images.VerifyOptions
			if src == "app-attestations" {
				block, _ := pem.Decode(files[rec.Verified.Key])
				if block == nil {
					t.Fatalf("%s: no key carried at %q", p, rec.Verified.Key)
				}
				pub, err := x509.ParsePKIXPublicKey(block.Bytes)
				must(err)
				o.Key = pub
			} else {
				o = images.VerifyOptions{Identity: rec.Verified.Identity, Issuer: rec.Verified.Issuer, TrustedRoot: files[rec.Verified.TrustedRoot]}
			}
			if _, err := rec.Verify(t.Context(), o); err != nil {
				t.Errorf("%s does not re-verify offline: %v", p, err)
			}
		case rest == "trust/cosign.pub", rest == "trust/trusted_root.json":
		case strings.Count(rest, "/") == 0:
		default:
			t.Errorf("unexpected %s", p)
		}
	}
	if len(recs) != 2 {
		t.Errorf("attestation records %v, want 2", recs)
	}
}

func TestOCIVEXSpecErrors(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	os.WriteFile(filepath.Join(dir, "cosign.pub"), fixtures.PublicKeyPEM(key), 0o644)
	base := "name: f\nchannel: f\nversion: 1\nvex:\n  - name: x\n    oci:\n"
	keypair := "      cosign: {mode: keypair, key: cosign.pub}\n"
	img := "      images: [registry.example.com/app/api:1.4]\n"
	cases := map[string]struct {
		yaml string
		code kit.SpecCode
	}{
		"no images":         {keypair, kit.SpecMissingImageSubscriptions},
		"empty images":      {"      images: []\n" + keypair, kit.SpecMissingImageSubscriptions},
		"bad reference":     {"      images: [app:1.4]\n" + keypair, kit.SpecInvalidImageReference},
		"no cosign":         {img, kit.SpecInvalidCosignMode},
		"no mode":           {img + "      cosign: {key: cosign.pub}\n", kit.SpecInvalidCosignMode},
		"bad mode":          {img + "      cosign: {mode: x509, key: cosign.pub}\n", kit.SpecInvalidCosignMode},
		"no key":            {img + "      cosign: {mode: keypair}\n", kit.SpecMissingCosignKey},
		"key missing":       {img + "      cosign: {mode: keypair, key: nope.pub}\n", kit.SpecMissingCosignKey},
		"no issuer":         {img + "      cosign: {mode: keyless, subject: a@b.c}\n      tufRoot: root.json\n", kit.SpecMissingCosignIssuer},
		"no subject":        {img + "      cosign: {mode: keyless, issuer: https://i}\n      tufRoot: root.json\n", kit.SpecMissingCosignSubject},
		"no tuf root":       {img + "      cosign: {mode: keyless, issuer: https://i, subject: a@b.c}\n", kit.SpecMissingTUFRoot},
		"tuf root missing":  {img + "      cosign: {mode: keyless, issuer: https://i, subject: a@b.c}\n      tufRoot: nope.json\n", kit.SpecMissingTUFRoot},
		"bad trusted root":  {img + "      cosign: {mode: keyless, issuer: https://i, subject: a@b.c}\n      trustedRoot: cosign.pub\n", kit.SpecInvalidTrustedRoot},
		"bad tuf root":      {img + "      cosign: {mode: keyless, issuer: https://i, subject: a@b.c}\n      tufRoot: cosign.pub\n", kit.SpecInvalidTUFRoot},
		"both roots":        {img + "      cosign: {mode: keyless, issuer: https://i, subject: a@b.c}\n      tufRoot: root.json\n      trustedRoot: root.json\n", kit.SpecInvalidTUFRoot},
		"tuf url alone":     {img + "      cosign: {mode: keyless, issuer: https://i, subject: a@b.c}\n      trustedRoot: root.json\n      tufUrl: https://tuf.example.com\n", kit.SpecUnknownField},
		"tuf url http":      {img + "      cosign: {mode: keyless, issuer: https://i, subject: a@b.c}\n      tufRoot: root.json\n      tufUrl: http://tuf.example.com\n", kit.SpecInsecureURL},
		"tuf root keypair":  {img + keypair + "      tufRoot: root.json\n", kit.SpecUnknownField},
		"plain http":        {"      images: [localhost:5000/app:1.4]\n" + keypair, kit.SpecHTTPRegistryBlocked},
		"private key given": {img + "      cosign: {mode: keypair, key: cosign.key}\n", kit.SpecPrivateKeyGiven},
		"unknown field":     {img + keypair + "      platforms: [linux/amd64]\n", kit.SpecUnknownField},
	}
	os.WriteFile(filepath.Join(dir, "cosign.key"), []byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"), 0o600)
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			os.WriteFile(path, []byte(base+c.yaml), 0o644)
			_, err := kit.LoadSpec(path)
			var errs kit.SpecErrors
			if !errors.As(err, &errs) || !slices.Contains(errs.Codes(), c.code) {
				t.Fatalf("got %v, want %s", err, c.code)
			}
		})
	}
	// One mistake is one problem: a plain-HTTP tufUrl next to a good
	// pinned root.
	writeFile(t, dir, "sigstore-root.json", tuftest.New(t, fixtures.Created, map[string][]byte{"trusted_root.json": []byte("{}")}).Root1)
	path := writeFile(t, dir, "http-tuf-url.yaml", []byte(base+img+"      cosign: {mode: keyless, issuer: https://i, subject: a@b.c}\n      tufRoot: sigstore-root.json\n      tufUrl: http://tuf.example.com\n"))
	var errs kit.SpecErrors
	if _, err := kit.LoadSpec(path); !errors.As(err, &errs) || !slices.Equal(errs.Codes(), []kit.SpecCode{kit.SpecInsecureURL}) {
		t.Errorf("plain-HTTP tufUrl: got %v, want one %s", err, kit.SpecInsecureURL)
	}
	// The insecure registry is accepted when registries: says so, and a
	// well-formed spec loads without touching the network.
	ok := base + "      images: [localhost:5000/app:1.4]\n" + keypair + "registries:\n  localhost:5000: {insecure: true}\n"
	path = filepath.Join(dir, "ok.yaml")
	os.WriteFile(path, []byte(ok), 0o644)
	if _, err := kit.LoadSpec(path); err != nil {
		t.Fatal(err)
	}
}

// ociTUFSpec writes kit.yaml with one keyless oci VEX source,
// svc-attestations, for host/svc:2.0, whose trusted root comes through
// the TUF repository at tufURL from the pinned root.
func ociTUFSpec(t *testing.T, host, tufURL string, pinned []byte) *kit.Spec {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "trust"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "trust/sigstore-root.json", pinned)
	yaml := "name: f\nchannel: f\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nregistries:\n  " + host + ": {insecure: true}\nvex:\n" +
		"  - name: svc-attestations\n    oci:\n      images: [" + host + "/svc:2.0]\n" +
		"      cosign: {mode: keyless, issuer: '" + ociIssuer + "', subject: " + ociIdentity + "}\n" +
		"      tufRoot: trust/sigstore-root.json\n      tufUrl: " + tufURL + "\n"
	spec, err := kit.LoadSpec(writeFile(t, dir, "kit.yaml", []byte(yaml)))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestOCIVEXKitTUFRoot: keyless verification against the trusted root
// that the pinned Sigstore TUF root leads to, fetched from a loopback TUF
// repository; the kit carries the TUF chain and the trusted root, and a
// site re-verifies both the chain and the attestation offline.
func TestOCIVEXKitTUFRoot(t *testing.T) {
	host, _, svc, _, _, vs := ociVEXRegistry(t)
	tr := ocitest.TrustedRootJSON(t, vs)
	repo := tuftest.New(t, fixtures.Created, map[string][]byte{"trusted_root.json": tr})
	srv := repo.Serve(t)
	spec := ociTUFSpec(t, host, srv.URL, repo.Root1)
	res, files := buildAndVerify(t, spec, func(o *kit.BuildOptions) { o.HTTPClient = srv.Client() })

	if len(res.Manifest.Sources) != 1 {
		t.Fatalf("sources %+v", res.Manifest.Sources)
	}
	p := res.Manifest.Sources[0]
	if p.Counts["attestationsVerified"] != 1 || p.Counts["attestationsRejected"] != 0 || p.Counts["documents"] != 1 ||
		p.Counts["statements"] != 1 || len(p.Skipped) != 0 {
		t.Errorf("counts %v, skipped %+v: want the keyless attestation verified", p.Counts, p.Skipped)
	}
	if len(p.Images) != 1 || p.Images[0].Digest != svc.String() {
		t.Errorf("images %+v, want svc:2.0 resolved to %s", p.Images, svc)
	}
	if hits := repo.Hits(); !slices.Contains(hits, "2.root.json") || !slices.ContainsFunc(hits, func(h string) bool {
		return strings.HasPrefix(h, "targets/") && strings.HasSuffix(h, ".trusted_root.json")
	}) {
		t.Errorf("TUF requests %v: want the root rotation followed and the target fetched", hits)
	}

	const dir = "vex/svc-attestations/"
	var got []string
	var rec string
	for path := range files {
		rest, ok := strings.CutPrefix(path, dir)
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(rest, "attestations/"):
			rec = path
			rest = "attestations/R.json"
		case !strings.Contains(rest, "/"):
			rest = "D.json"
		}
		got = append(got, rest)
	}
	slices.Sort(got)
	want := []string{"D.json", "attestations/R.json",
		"trust/metadata/1.root.json", "trust/metadata/2.root.json", "trust/metadata/snapshot.json",
		"trust/metadata/targets.json", "trust/metadata/timestamp.json", "trust/targets/trusted_root.json"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("carried files (-want +got):\n%s", diff)
	}
	if string(files[dir+"trust/metadata/1.root.json"]) != string(repo.Root1) || string(files[dir+"trust/targets/trusted_root.json"]) != string(tr) {
		t.Error("the pinned root or trusted_root.json is not carried byte-exact")
	}

	// The site: the TUF chain re-verifies offline from the pinned root
	// (and from the oldest carried root, which is the same) …
	for name, pinned := range map[string][]byte{"pinned": repo.Root1, "carried": nil} {
		rep, err := verify.TUFRepo(t.Context(), subFS(files, dir+"trust/"), verify.TUFRepoOptions{
			At: fixtures.Created.Add(time.Hour), Root: pinned, Targets: []string{"trusted_root.json"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK || !slices.Equal(rep.Roots, []int64{1, 2}) || len(rep.Targets) != 1 || rep.Targets[0].SHA256 != sha256Hex(tr) {
			t.Errorf("%s root: TUF re-verification %+v: %v", name, rep, rep.Err())
		}
	}
	// … and the attestation re-verifies against the carried trusted root.
	var r images.AttestationRecord
	if err := json.Unmarshal(files[rec], &r); err != nil {
		t.Fatal(err)
	}
	if r.Verified.Mode != "keyless" || r.Verified.TrustedRoot != dir+"trust/targets/trusted_root.json" {
		t.Errorf("record verified %+v", r.Verified)
	}
	if _, err := r.Verify(t.Context(), images.VerifyOptions{Identity: r.Verified.Identity, Issuer: r.Verified.Issuer, TrustedRoot: files[r.Verified.TrustedRoot]}); err != nil {
		t.Errorf("%s does not re-verify offline: %v", rec, err)
	}
}

// TestOCIVEXKitTUFRootTargetMismatch: the TUF repository serves a
// trusted_root.json (one that would verify the attestation) other than
// the one its signed targets metadata lists. The source fails on the hash
// and nothing is carried: no kit is written.
func TestOCIVEXKitTUFRootTargetMismatch(t *testing.T) {
	host, _, _, _, _, vs := ociVEXRegistry(t)
	other, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	served, listed := ocitest.TrustedRootJSON(t, vs), ocitest.TrustedRootJSON(t, other)
	// Same length, so that only the hash tells them apart.
	for len(served) < len(listed) {
		served = append(served, ' ')
	}
	for len(listed) < len(served) {
		listed = append(listed, ' ')
	}
	repo := tuftest.New(t, fixtures.Created, map[string][]byte{"trusted_root.json": listed})
	repo.ReplaceTarget("trusted_root.json", served)
	srv := repo.Serve(t)
	spec := ociTUFSpec(t, host, srv.URL, repo.Root1)
	ch := fixtures.NewChannel(spec.Channel)
	var buf bytes.Buffer
	res, err := kit.Build(t.Context(), &buf, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys(), HTTPClient: srv.Client()})
	if err == nil {
		t.Fatalf("built a kit (%d bytes, sources %+v) from a trusted_root.json that does not match its TUF targets metadata", buf.Len(), res.Manifest.Sources)
	}
	if !errors.Is(err, &metadata.ErrLengthOrHashMismatch{}) || !strings.Contains(err.Error(), "svc-attestations") || !strings.Contains(err.Error(), "trusted_root.json") {
		t.Errorf("got %v, want a hash mismatch of trusted_root.json in source svc-attestations", err)
	}
	if buf.Len() != 0 || res != nil {
		t.Errorf("%d bytes written: nothing must be carried", buf.Len())
	}
}
