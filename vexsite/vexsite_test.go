package vexsite

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/vex"
	"github.com/ferry-dev/ferry/vex/consensus"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

// fakeStore is an in-memory store.Reader.
type fakeStore struct {
	stmts []store.VEXStatement
	docs  []store.VEXDocument
	trust []store.TrustFile
	advs  map[string][]store.Advisory
}

func (f *fakeStore) VEXStatements(ids ...string) ([]store.VEXStatement, error) {
	var out []store.VEXStatement
	for _, s := range f.stmts {
		for _, id := range ids {
			if s.Vulnerability == id {
				out = append(out, s)
				break
			}
		}
	}
	return out, nil
}

func (f *fakeStore) ForEachVEXStatement(fn func(store.VEXStatement) error) error {
	for _, s := range f.stmts {
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeStore) VEXDocuments() ([]store.VEXDocument, error) { return f.docs, nil }
func (f *fakeStore) TrustFiles() ([]store.TrustFile, error)     { return f.trust, nil }
func (f *fakeStore) Advisory(id string) ([]store.Advisory, error) {
	return f.advs[id], nil
}

var _ Reader = (*fakeStore)(nil)

const pkg = "pkg:golang/example.com/lib@v1.0.0"

func stmt(issuer, signer, digest string, status openvex.Status) store.VEXStatement {
	s := store.VEXStatement{Statement: vex.Statement{
		Vulnerability: "CVE-2026-0001", Status: status, Issuer: issuer, Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Products: []vex.Product{{ID: pkg, PURL: pkg}}, DocumentDigest: digest,
	}, Channel: "feeds", Source: "vendor", Signer: signer}
	if status == openvex.StatusNotAffected {
		s.Justification = openvex.VulnerableCodeNotPresent
	}
	return s
}

// TestSignedIssuers: the kit's issuer list names a key for the vendor; a
// statement signed with it is the vendor's (tier vendor), an unsigned one
// naming the vendor is dropped with SIGNATURE_REQUIRED, and the advisory's
// alias joins.
func TestSignedIssuers(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	sum := sha256.Sum256(der)
	signer := "key sha256:" + hex.EncodeToString(sum[:])
	fs := &fakeStore{
		stmts: []store.VEXStatement{
			stmt("Vendor", signer, "sha256:01", openvex.StatusNotAffected),
			stmt("Vendor", "", "sha256:02", openvex.StatusAffected),
		},
		trust: []store.TrustFile{
			{Channel: "feeds", Path: "trust/issuers.json", Data: []byte(`{"issuers":[{"id":"Vendor","keys":["vendor"],"rank":1,"tier":"vendor"}],"schema":"ferry.dev/issuers/v1"}`)},
			{Channel: "feeds", Path: "trust/keys/vendor.pub", Data: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})},
		},
		advs: map[string][]store.Advisory{"GO-2026-0001": {{ID: "GO-2026-0001", Record: []byte(`{"id":"GO-2026-0001","aliases":["CVE-2026-0001"]}`)}}},
	}
	site, err := Load(context.Background(), fs, fs, fs, Options{At: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), IDs: []string{"GO-2026-0001"}})
	if err != nil {
		t.Fatal(err)
	}
	rep := site.Report(Filter{Vuln: "GO-2026-0001", Product: pkg})
	r := rep.Results[0]
	if r.Status != consensus.StatusNotAffected || r.Issuer != "Vendor" || r.Tier != consensus.TierVendor {
		t.Fatalf("got %s by %s (%s)", r.Status, r.Issuer, r.Tier)
	}
	if len(r.Statements) != 2 || r.Statements[1].Reason != consensus.ReasonSignatureRequired {
		t.Fatalf("statements %+v", r.Statements)
	}

	// The site's issuers file demotes the vendor; its key stays resolved.
	over := filepath.Join(t.TempDir(), "issuers.yaml")
	os.WriteFile(over, []byte("issuers:\n  - id: Vendor\n    tier: distro\n    keys: [vendor]\n"), 0o644)
	site, err = Load(context.Background(), fs, fs, fs, Options{IssuersFile: over})
	if err != nil {
		t.Fatal(err)
	}
	if r := site.Report(Filter{Vuln: "CVE-2026-0001", Product: pkg}).Results[0]; r.Tier != consensus.TierDistro || r.Issuer != "Vendor" {
		t.Fatalf("with the override: %s by %s (%s)", r.Status, r.Issuer, r.Tier)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("issuers:\n  - id: X\n    tier: friend\n"), 0o644)
	if _, err := Load(context.Background(), fs, fs, fs, Options{IssuersFile: bad}); err == nil {
		t.Fatal("an unknown tier in --issuers must be an error")
	}
}

func TestReadLocalRefusesNonOpenVEX(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.json"), []byte(`{"not":"vex"}`), 0o644)
	if _, err := ReadLocal(dir); err == nil {
		t.Fatal("want an error naming the file")
	}
}
