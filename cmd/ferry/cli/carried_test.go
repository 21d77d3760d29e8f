package cli_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/format"
	"github.com/ferry-dev/ferry/internal/tuftest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// carriedFile is one file of a test kit with its custom object.
func carriedFile(p string, data, custom []byte) bundle.File {
	return bundle.File{Path: p, Custom: custom, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// tamperedTUFKit carries a TUF trust source whose target was changed after
// the connected side checked it: the kit's signature covers the change.
func tamperedTUFKit(t *testing.T) []bundle.File {
	trusted := []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
	repo := tuftest.New(t, fixtures.Created, map[string][]byte{"trusted_root.json": trusted})
	out := []bundle.File{carriedFile("kit.json", []byte(`{"schema":"ferry.dev/kit/v1"}`+"\n"), nil)}
	for name, data := range repo.Files {
		switch {
		case strings.HasSuffix(name, ".root.json"), name == "timestamp.json":
			out = append(out, carriedFile("trust/sigstore/metadata/"+name, data, nil))
		case name == "1.snapshot.json", name == "1.targets.json":
			out = append(out, carriedFile("trust/sigstore/metadata/"+strings.TrimPrefix(name, "1."), data, nil))
		}
	}
	return append(out, carriedFile("trust/sigstore/targets/trusted_root.json", []byte(`{"mediaType":"evil"}`), nil))
}

// misclaimedAttestationKit carries an OCI VEX attestation that verifies,
// and a document that claims another signer than the one it verified as.
func misclaimedAttestationKit(t *testing.T) []bundle.File {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
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
	rec, err := json.MarshalIndent(map[string]any{
		"schema": format.AttestationSchema, "image": "registry.example/app:1", "repository": "registry.example/app",
		"subject": subject.String(), "manifest": "sha256:" + strings.Repeat("cd", 32), "via": "tag", "layer": 0,
		"layerDigest": "sha256:" + strings.Repeat("ef", 32), "mediaType": "application/vnd.dsse.envelope.v1+json",
		"envelope": json.RawMessage(fixtures.DSSEEnvelope(key, stmt)), "predicateType": fixtures.PredicateOpenVEX,
		"predicate": "vex/att/" + docHex + ".json", "predicateDigest": "sha256:" + docHex,
		"verified": map[string]string{"mode": "key", "key": "vex/att/trust/cosign.pub", "tlog": "none"},
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	recSum := sha256.Sum256(rec)
	recPath := "vex/att/attestations/" + hex.EncodeToString(recSum[:]) + ".json"
	pub := fixtures.PublicKeyPEM(key)
	if b, _ := pem.Decode(pub); b == nil {
		t.Fatal("public key is not PEM")
	}
	custom, _ := json.Marshal(map[string]string{"mediaType": format.MediaOpenVEX, "source": "att", "attestation": recPath,
		"signer": "release@example.com"})
	return []bundle.File{
		carriedFile("kit.json", []byte(`{"schema":"ferry.dev/kit/v1"}`+"\n"), nil),
		carriedFile("vex/att/trust/cosign.pub", pub, nil),
		carriedFile(recPath, rec, nil),
		carriedFile("vex/att/"+docHex+".json", st.Predicate, custom),
	}
}

// TestVerifyChecksCarriedTrustAsImport: a kit whose signature holds but
// whose carried trust material does not re-verify fails ferry verify
// (exit 3, the entry named, in the table and in --json) with the same
// failure that fails ferry import.
func TestVerifyChecksCarriedTrustAsImport(t *testing.T) {
	tests := []struct {
		name  string
		files func(t *testing.T) []bundle.File
		want  bundle.Code
		entry string // prefix of the failing entry
	}{
		{"tampered TUF target", tamperedTUFKit, bundle.CodeDigestMismatch, "trust/sigstore/targets/trusted_root.json"},
		{"signer the attestation does not give", misclaimedAttestationKit, bundle.CodeSignatureInvalid, "vex/att/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ch := fixtures.NewChannel("site")
			var buf bytes.Buffer
			if _, err := bundle.Write(context.Background(), &buf, bundle.WriteOptions{
				Info:  bundle.Info{Name: ch.Name, Channel: ch.Name, Version: 1, Created: fixtures.Created, Expires: fixtures.Created.AddDate(0, 1, 0)},
				Roots: ch.Chain, Signers: ch.SigningKeys(),
			}, tt.files(t)); err != nil {
				t.Fatal(err)
			}
			kit, root := filepath.Join(dir, "site.kit.tar.zst"), filepath.Join(dir, "root.json")
			write(t, kit, buf.String())
			write(t, root, string(ch.Root()))
			at := "--at=" + fixtures.Created.Add(time.Hour).Format(time.RFC3339)

			r := ferry(t, dir, "verify", kit, "--root", root, at, "--json")
			if r.code != cli.ExitVerification {
				t.Fatalf("verify: exit %d, want %d\n%s%s", r.code, cli.ExitVerification, r.stdout, r.stderr)
			}
			var rep struct {
				OK       bool `json:"ok"`
				Failures []struct {
					Code, Entry, Message string
				} `json:"failures"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("verify --json: %v\n%s", err, r.stdout)
			}
			if rep.OK || len(rep.Failures) == 0 || rep.Failures[0].Code != string(tt.want) || !strings.HasPrefix(rep.Failures[0].Entry, tt.entry) {
				t.Fatalf("verify --json failures %+v, want %s naming %s…", rep.Failures, tt.want, tt.entry)
			}
			first := rep.Failures[0]
			if r := ferry(t, dir, "verify", kit, "--root", root, at); r.code != cli.ExitVerification || !strings.Contains(r.stdout+r.stderr, first.Entry) {
				t.Errorf("verify: exit %d, output does not name %s:\n%s%s", r.code, first.Entry, r.stdout, r.stderr)
			}

			r = ferry(t, dir, "import", kit, "--store", filepath.Join(dir, "store"), "--root", root, at, "--reason", "test clock")
			if r.code != cli.ExitVerification {
				t.Fatalf("import: exit %d, want %d\n%s%s", r.code, cli.ExitVerification, r.stdout, r.stderr)
			}
			for _, want := range []string{first.Code, first.Entry, first.Message} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("import does not report %q as verify does:\n%s", want, r.stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "store", "ferry.db")); err == nil {
				t.Error("the refused import left a store")
			}
		})
	}
}
