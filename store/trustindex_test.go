package store_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"github.com/ferry-dev/ferry/format"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/internal/attestverify"
	"github.com/ferry-dev/ferry/internal/tuftest"
	"github.com/ferry-dev/ferry/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// siteStore opens a new store as the CLI does: attestations re-verified
// with images, through attestverify.
func siteStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "store"),
		store.Options{Indexers: store.DefaultIndexers(store.WithAttestationVerifier(attestverify.Verifier{}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rep, err := s.Check(context.Background())
		if errors.Is(err, store.ErrNoStore) {
			return // a failed first import leaves no store
		}
		if err == nil {
			err = rep.Err()
		}
		if err != nil {
			t.Errorf("store check: %v", err)
		}
	})
	return s
}

// tufKitFiles is what a kit carries for a TUF trust source named sigstore,
// from a repository tuftest builds (timestamp valid a week after
// fixtures.Created, the rest a year).
func tufKitFiles(t *testing.T) map[string][]byte {
	t.Helper()
	trusted := []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
	repo := tuftest.New(t, fixtures.Created, map[string][]byte{"trusted_root.json": trusted})
	files := map[string][]byte{"kit.json": []byte(`{"schema":"ferry.dev/kit/v1"}` + "\n")}
	for name, data := range repo.Files {
		switch {
		case strings.HasSuffix(name, ".root.json"), name == "timestamp.json":
			files["trust/sigstore/metadata/"+name] = data
		case name == "1.snapshot.json", name == "1.targets.json":
			files["trust/sigstore/metadata/"+strings.TrimPrefix(name, "1.")] = data
		}
	}
	files["trust/sigstore/targets/trusted_root.json"] = trusted
	return files
}

func importFiles(t *testing.T, files map[string][]byte, at time.Time) (*store.Store, error) {
	t.Helper()
	ch := fixtures.NewChannel("site")
	data := fixtures.Kit(ch, files, fixtures.KitOptions{Expires: 90 * 24 * time.Hour})
	s := siteStore(t)
	_, err := s.Import(context.Background(), bytes.NewReader(data), store.ImportOptions{At: at, Root: ch.Root(), Operator: "test"})
	return s, err
}

func storeInfo(t *testing.T, s *store.Store, at time.Time) *store.Info {
	t.Helper()
	in, err := s.Info(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestImportReverifiesTUF(t *testing.T) {
	at := fixtures.Created.Add(time.Hour)
	s, err := importFiles(t, tufKitFiles(t), at)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	in := storeInfo(t, s, at)
	tufs := in.Channels[0].TUF
	if len(tufs) != 1 {
		t.Fatalf("TUF repositories %+v, want 1", tufs)
	}
	got := tufs[0]
	if got.Repository != "trust/sigstore" || got.State != store.TUFFresh || got.ExpiredNow ||
		len(got.Roots) != 2 || len(got.Targets) != 1 || got.Targets[0].Path != "trusted_root.json" {
		t.Errorf("status %+v", got)
	}
	want := "fresh until " + fixtures.Created.AddDate(0, 0, 7).Format(time.RFC3339)
	if got.String() != want {
		t.Errorf("status says %q, want %q", got.String(), want)
	}
}

// TestImportTUFTamperedTarget: the connected side changed a carried target
// after the TUF check, then signed the kit. The kit verifies; the carried
// repository does not.
func TestImportTUFTamperedTarget(t *testing.T) {
	files := tufKitFiles(t)
	files["trust/sigstore/targets/trusted_root.json"] = []byte(`{"mediaType":"evil"}`)
	_, err := importFiles(t, files, fixtures.Created.Add(time.Hour))
	if err == nil {
		t.Fatal("a kit with a tampered TUF target imported")
	}
	for _, want := range []string{"trust/sigstore", "targets/trusted_root.json", "TUF_TARGET_MISMATCH"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

// TestImportTUFExpiredAtImport: the timestamp expires a week after the
// kit was built; imported a month later, the kit imports and the
// repository shows as expired.
func TestImportTUFExpiredAtImport(t *testing.T) {
	at := fixtures.Created.AddDate(0, 0, 30)
	s, err := importFiles(t, tufKitFiles(t), at)
	if err != nil {
		t.Fatalf("an expired TUF timestamp at import failed the import: %v", err)
	}
	got := storeInfo(t, s, at).Channels[0].TUF[0]
	if got.State != store.TUFExpired || !got.ExpiredNow || len(got.Expired) != 1 || got.Expired[0].Entry != "metadata/timestamp.json" {
		t.Errorf("status %+v", got)
	}
	if !strings.HasPrefix(got.String(), "metadata/timestamp.json expired") {
		t.Errorf("status %q does not name the expiry", got.String())
	}
}

// attestationFiles is an OCI VEX source "att" as a kit carries it: a
// key, one attestation record signed with it and its predicate document.
// envelope, when not nil, replaces the signed envelope in the record.
func attestationFiles(t *testing.T, key *ecdsa.PrivateKey, envelope func([]byte) []byte, signer func(string) string) []bundle.File {
	t.Helper()
	subject := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	stmt := fixtures.InTotoStatement(subject, fixtures.PredicateOpenVEX,
		fixtures.OpenVEXDocument("Example Vendor", "CVE-2026-3001", "pkg:oci/app@"+subject.String()))
	var st struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(stmt, &st); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(st.Predicate)
	docHex := hex.EncodeToString(sum[:])
	pub := fixtures.PublicKeyPEM(key)
	env := fixtures.DSSEEnvelope(key, stmt)
	if envelope != nil {
		env = envelope(env)
	}
	rec, err := json.MarshalIndent(map[string]any{
		"schema": "ferry.dev/attestation/v1", "image": "registry.example/app:1", "repository": "registry.example/app",
		"subject": subject.String(), "manifest": "sha256:" + strings.Repeat("cd", 32), "via": "tag", "layer": 0,
		"layerDigest": "sha256:" + strings.Repeat("ef", 32), "mediaType": "application/vnd.dsse.envelope.v1+json",
		"envelope": json.RawMessage(env), "predicateType": fixtures.PredicateOpenVEX,
		"predicate": "vex/att/" + docHex + ".json", "predicateDigest": "sha256:" + docHex,
		"verified": map[string]string{"mode": "key", "key": "vex/att/trust/cosign.pub", "tlog": "none"},
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	recSum := sha256.Sum256(rec)
	recPath := "vex/att/attestations/" + hex.EncodeToString(recSum[:]) + ".json"
	block, _ := pemDecode(pub)
	keySum := sha256.Sum256(block)
	custom, _ := json.Marshal(map[string]string{"mediaType": format.MediaOpenVEX, "source": "att", "attestation": recPath,
		"signer": signer("key sha256:" + hex.EncodeToString(keySum[:]))})
	file := func(p string, data []byte, custom []byte) bundle.File {
		return bundle.File{Path: p, Custom: custom, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
	}
	return []bundle.File{
		file("kit.json", []byte(`{"schema":"ferry.dev/kit/v1"}`+"\n"), nil),
		file("vex/att/trust/cosign.pub", pub, nil),
		file(recPath, rec, nil),
		file("vex/att/"+docHex+".json", st.Predicate, custom),
	}
}

func pemDecode(b []byte) ([]byte, []byte) {
	block, rest := pem.Decode(b)
	return block.Bytes, rest
}

// TestImportReverifiesAttestations: the connected side altered a carried
// attestation (or the signer it claims) and signed the kit again; the
// site's re-verification refuses it.
func TestImportReverifiesAttestations(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	same := func(s string) string { return s }
	tests := []struct {
		name     string
		envelope func([]byte) []byte
		signer   func(string) string
		want     string // "" imports
	}{
		{name: "verifies", signer: same},
		// The statement changed, its predicate not: only the signature
		// check can tell.
		{name: "altered envelope", signer: same, want: "attestation does not re-verify", envelope: func(env []byte) []byte {
			var e map[string]any
			json.Unmarshal(env, &e)
			payload, _ := base64.StdEncoding.DecodeString(e["payload"].(string))
			e["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte("in-toto.io/Statement/v1"), []byte("in-toto.io/Statement/v0.1"), 1))
			out, _ := json.Marshal(e)
			return out
		}},
		{name: "claimed signer", signer: func(string) string { return "release@example.com" }, want: "but attestation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := fixtures.NewChannel("site")
			var buf bytes.Buffer
			_, err := bundle.Write(context.Background(), &buf, bundle.WriteOptions{
				Info:  bundle.Info{Name: ch.Name, Channel: ch.Name, Version: 1, Created: fixtures.Created, Expires: fixtures.Created.AddDate(0, 1, 0)},
				Roots: ch.Chain, Signers: ch.SigningKeys(),
			}, attestationFiles(t, key, tt.envelope, tt.signer))
			if err != nil {
				t.Fatal(err)
			}
			s := siteStore(t)
			_, err = s.Import(context.Background(), &buf, store.ImportOptions{At: fixtures.Created.Add(time.Hour), Root: ch.Root(), Operator: "test"})
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "vex/att/") {
					t.Fatalf("import: %v, want an error naming the file and %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			err = s.View(context.Background(), func(r *store.Reader) error {
				sts, err := r.VEXStatements("CVE-2026-3001")
				if err != nil {
					return err
				}
				if len(sts) != 1 || !strings.HasPrefix(sts[0].Signer, "key sha256:") {
					t.Errorf("statements %+v", sts)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("no verifier", func(t *testing.T) {
		ch := fixtures.NewChannel("site")
		var buf bytes.Buffer
		if _, err := bundle.Write(context.Background(), &buf, bundle.WriteOptions{
			Info:  bundle.Info{Name: ch.Name, Channel: ch.Name, Version: 1, Created: fixtures.Created, Expires: fixtures.Created.AddDate(0, 1, 0)},
			Roots: ch.Chain, Signers: ch.SigningKeys(),
		}, attestationFiles(t, key, nil, same)); err != nil {
			t.Fatal(err)
		}
		s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "store"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Import(context.Background(), &buf, store.ImportOptions{At: fixtures.Created.Add(time.Hour), Root: ch.Root(), Operator: "test"})
		if !errors.Is(err, store.ErrNoAttestationVerifier) {
			t.Errorf("import without a verifier: %v, want ErrNoAttestationVerifier", err)
		}
	})
}
