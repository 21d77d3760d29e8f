package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	mrand "math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/internal/ocitest"
	"github.com/ferry-dev/ferry/store"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// TestVEXAttestationsIndexed builds a kit from OpenVEX attestations of an
// image on a loopback registry (one signed with the subscribed key, one
// with another key, one keyless), imports it and queries the statements:
// the verified ones are found with their signer, the rejected one is not.
func TestVEXAttestationsIndexed(t *testing.T) {
	host := ocitest.Registry(t)
	good, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bad, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1, random.WithSource(mrand.New(mrand.NewSource(7))))
	if err != nil {
		t.Fatal(err)
	}
	push := func(s string, i v1.Image) {
		t.Helper()
		ref, err := name.ParseReference(s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, i); err != nil {
			t.Fatal(err)
		}
	}
	push(host+"/app:1.4", img)
	d, _ := img.Digest()
	stmt := func(vuln string) []byte {
		return fixtures.InTotoStatement(d, fixtures.PredicateOpenVEX, fixtures.OpenVEXDocument("Example Vendor", vuln, "pkg:oci/app@"+d.String()))
	}
	push(host+"/app:sha256-"+d.Hex+".att", fixtures.CosignManifest(nil,
		fixtures.AttestationLayer(fixtures.DSSEEnvelope(good, stmt("CVE-2026-2001")), fixtures.PredicateOpenVEX, nil),
		fixtures.AttestationLayer(fixtures.DSSEEnvelope(bad, stmt("CVE-2026-2002")), fixtures.PredicateOpenVEX, nil),
		ocitest.KeylessAttestationLayer(t, vs, "release@example.com", "https://issuer.example.com", stmt("CVE-2026-2003"), fixtures.PredicateOpenVEX),
	))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cosign.pub"), fixtures.PublicKeyPEM(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trusted_root.json"), ocitest.TrustedRootJSON(t, vs), 0o644); err != nil {
		t.Fatal(err)
	}
	ch := fixtures.NewChannel("atts")
	body := "registries:\n  " + host + ": {insecure: true}\nvex:\n" +
		"  - name: signed\n    oci:\n      images: [" + host + "/app:1.4]\n      cosign: {mode: keypair, key: " + filepath.Join(dir, "cosign.pub") + "}\n" +
		"  - name: keyless\n    oci:\n      images: [" + host + "/app:1.4]\n      cosign: {mode: keyless, issuer: 'https://issuer.example.com', subject: release@example.com}\n" +
		"      trustedRoot: " + filepath.Join(dir, "trusted_root.json") + "\n"
	data, res := buildKit(t, ch, body)
	var counts []string
	for _, p := range res.Manifest.Sources {
		counts = append(counts, p.Name+":"+strconv.Itoa(p.Counts["attestationsVerified"])+"/"+strconv.Itoa(p.Counts["attestationsRejected"]))
	}
	// Each source rejects the attestations that are not its signer's.
	if got := strings.Join(counts, " "); got != "signed:1/2 keyless:1/2" {
		t.Errorf("verified/rejected per source: %s", got)
	}
	s := importKit(t, nil, ch, data)
	err = s.View(context.Background(), func(r *store.Reader) error {
		for vuln, signer := range map[string]string{"CVE-2026-2001": "key sha256:", "CVE-2026-2003": "release@example.com"} {
			sts, err := r.VEXStatements(vuln)
			if err != nil {
				return err
			}
			if len(sts) != 1 || sts[0].Status != "not_affected" || !strings.HasPrefix(sts[0].Signer, signer) || sts[0].Channel != "atts" {
				t.Errorf("%s: statements %+v", vuln, sts)
			}
		}
		if sts, _ := r.VEXStatements("CVE-2026-2002"); len(sts) != 0 {
			t.Errorf("the attestation signed with another key was indexed: %+v", sts)
		}
		if sts, _ := r.VEXStatementsForProduct("pkg:oci/app@" + d.String()); len(sts) != 2 {
			t.Errorf("by product: %d statements, want 2", len(sts))
		}
		docs, err := r.VEXDocuments()
		if err != nil {
			return err
		}
		for _, doc := range docs {
			if !strings.HasPrefix(doc.Attestation, "vex/"+doc.Source+"/attestations/") || doc.Signer == "" {
				t.Errorf("document %+v does not name its attestation and signer", doc)
			}
		}
		if len(docs) != 2 {
			t.Errorf("%d documents, want 2", len(docs))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
