package kit_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/internal/tuftest"
	"github.com/ferry-dev/ferry/keys"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/verify"
	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const issuersYAML = `issuers:
  - id: https://security.vendor.example/vex
    name: Vendor PSIRT
    tier: vendor
    keys: [vendor]
  - id: https://acme.example/security
    name: "ACME <security> & co"
    tier: self
    identities:
      - issuer: https://token.actions.githubusercontent.com
        subjectRegexp: ^https://github\.com/acme/
      - issuer: https://accounts.google.com
        subject: security@acme.example
  - id: https://distro.example/
    tier: distro
`

// subFS returns the kit files under prefix as a file system.
func subFS(files map[string][]byte, prefix string) fstest.MapFS {
	out := fstest.MapFS{}
	for p, b := range files {
		if rel, ok := strings.CutPrefix(p, prefix); ok {
			out[rel] = &fstest.MapFile{Data: b}
		}
	}
	return out
}

func TestTrustSourcesBuildAndReverify(t *testing.T) {
	repo := tuftest.New(t, fixtures.Created, map[string][]byte{
		"trusted_root.json": []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[]}` + "\n"),
	})
	srv, root1 := repo.Serve(t), repo.Root1
	dir := t.TempDir()
	rootFile := writeFile(t, dir, "sigstore-root.json", root1)
	ec, _ := keys.Generate(keys.ECDSAP256, strings.NewReader(strings.Repeat("cosign key seed ", 4)))
	cosignPub, _ := keys.MarshalPublic(ec.Public())
	keyFile := writeFile(t, dir, "cosign.pub", append([]byte("# comment before the key\n"), cosignPub...))
	vendorPub, _ := keys.MarshalPublic(fixtures.Key("vendor").Public())
	vendorFile := writeFile(t, dir, "vendor.pem", vendorPub)
	issuersFile := writeFile(t, dir, "issuers.yaml", []byte(issuersYAML))

	spec := specIn(t, "name: trust\nchannel: trust\nversion: 1\ncreated: 2026-11-28T00:00:00Z\ntrust:\n"+
		"  - name: sigstore\n    tuf: {url: "+srv.URL+", root: "+rootFile+", targets: [trusted_root.json]}\n"+
		"  - name: keys\n    keys: ["+keyFile+", "+vendorFile+"]\n"+
		"  - issuers: "+issuersFile+"\n")
	res, files := buildAndVerify(t, spec, func(o *kit.BuildOptions) { o.HTTPClient = srv.Client() })

	var paths []string
	for p := range files {
		if strings.HasPrefix(p, "trust/") {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	want := []string{
		"trust/issuers.json", "trust/keys/cosign.pub", "trust/keys/vendor.pub",
		"trust/sigstore/metadata/1.root.json", "trust/sigstore/metadata/2.root.json",
		"trust/sigstore/metadata/snapshot.json", "trust/sigstore/metadata/targets.json", "trust/sigstore/metadata/timestamp.json",
		"trust/sigstore/targets/trusted_root.json",
	}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Fatalf("trust files (-want +got):\n%s", diff)
	}
	if string(files["trust/keys/cosign.pub"]) != string(cosignPub) {
		t.Errorf("cosign key carried as\n%s\nwant the PEM block alone", files["trust/keys/cosign.pub"])
	}
	counts := map[string]map[string]int{}
	for _, p := range res.Manifest.Sources {
		counts[p.Name] = p.Counts
	}
	wantCounts := map[string]map[string]int{
		"sigstore": {"roots": 2, "rootVersion": 2, "targets": 1, "targetsVersion": 1},
		"keys":     {"keys": 2},
		"issuers":  {"issuers": 3, "tier.self": 1, "tier.vendor": 1, "tier.distro": 1},
	}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("provenance counts (-want +got):\n%s", diff)
	}

	// The site: offline, from the same pinned root, with a pinned clock.
	carried := subFS(files, "trust/sigstore/")
	check := func(fsys fstest.MapFS, at time.Time) *verify.TUFRepoReport {
		t.Helper()
		rep, err := verify.TUFRepo(t.Context(), fsys, verify.TUFRepoOptions{At: at, Root: root1, Targets: []string{"trusted_root.json"}})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	t.Run("verifies", func(t *testing.T) {
		rep := check(carried, fixtures.Created.AddDate(0, 0, 1))
		if !rep.OK {
			t.Fatal(rep.Err())
		}
		if diff := cmp.Diff([]int64{1, 2}, rep.Roots); diff != "" {
			t.Errorf("roots (-want +got):\n%s", diff)
		}
		if len(rep.Targets) != 1 || rep.Targets[0].Path != "trusted_root.json" {
			t.Errorf("targets %+v", rep.Targets)
		}
		// From the carried (oldest) root, when the site pins none itself.
		rep, _ = verify.TUFRepo(t.Context(), carried, verify.TUFRepoOptions{At: fixtures.Created.AddDate(0, 0, 1)})
		if !rep.OK {
			t.Errorf("from the carried root: %v", rep.Err())
		}
	})
	t.Run("tampered target", func(t *testing.T) {
		fsys := subFS(files, "trust/sigstore/")
		b := slices.Clone(fsys["targets/trusted_root.json"].Data)
		b[10] ^= 1
		fsys["targets/trusted_root.json"] = &fstest.MapFile{Data: b}
		rep := check(fsys, fixtures.Created.AddDate(0, 0, 1))
		if diff := cmp.Diff([]verify.TUFCode{verify.TUFTargetMismatch, verify.TUFTargetMismatch}, rep.Codes()); diff != "" || rep.OK {
			t.Errorf("codes (-want +got):\n%s\n%v", diff, rep.Err())
		}
	})
	t.Run("expired timestamp at a later --at", func(t *testing.T) {
		rep := check(carried, fixtures.Created.AddDate(0, 0, 30))
		if rep.OK || len(rep.Failures) != 1 || rep.Failures[0].Code != verify.TUFExpired || rep.Failures[0].Entry != "metadata/timestamp.json" {
			t.Errorf("got %+v, want one TUF_EXPIRED on metadata/timestamp.json", rep.Failures)
		}
	})
	t.Run("root chain cut", func(t *testing.T) {
		fsys := subFS(files, "trust/sigstore/")
		delete(fsys, "metadata/1.root.json")
		fsys["metadata/3.root.json"] = fsys["metadata/2.root.json"]
		delete(fsys, "metadata/2.root.json")
		rep := check(fsys, fixtures.Created.AddDate(0, 0, 1))
		if rep.OK || rep.Failures[0].Code != verify.TUFRootChain {
			t.Errorf("got %+v, want TUF_ROOT_CHAIN", rep.Failures)
		}
	})
	t.Run("issuers canonical", func(t *testing.T) {
		want := `{"issuers":[` +
			`{"id":"https://acme.example/security","identities":[{"issuer":"https://accounts.google.com","subject":"security@acme.example"},{"issuer":"https://token.actions.githubusercontent.com","subjectRegexp":"^https://github\\.com/acme/"}],"name":"ACME <security> & co","rank":0,"tier":"self"},` +
			`{"id":"https://distro.example/","rank":2,"tier":"distro"},` +
			`{"id":"https://security.vendor.example/vex","keys":["vendor"],"name":"Vendor PSIRT","rank":1,"tier":"vendor"}` +
			`],"schema":"ferry.dev/issuers/v1"}`
		if got := string(files["trust/issuers.json"]); got != want {
			t.Errorf("issuers.json\n got %s\nwant %s", got, want)
		}
	})
}

func TestTrustSpecValidation(t *testing.T) {
	dir := t.TempDir()
	root1 := tuftest.New(t, fixtures.Created, map[string][]byte{"trusted_root.json": []byte("{}")}).Root1
	root := writeFile(t, dir, "root.json", root1)
	notRoot := writeFile(t, dir, "targets.json", []byte(`{"signed":{"_type":"targets"},"signatures":[]}`))
	privPEM, _ := keys.MarshalPrivate(fixtures.Key("secret"))
	priv := writeFile(t, dir, "leaked.pub", privPEM)
	privBlock, _ := pem.Decode(privPEM)
	privDER := writeFile(t, dir, "leaked-der.pub", privBlock.Bytes)
	rsaPriv := writeFile(t, dir, "rsa.pub", []byte("-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\n"))
	cosignPriv := writeFile(t, dir, "cosign.key", []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nc2VjcmV0IHNlY3JldA==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
	notKey := writeFile(t, dir, "notes.pub", []byte("hello\n"))
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), strings.NewReader(strings.Repeat("x", 200)))
	p384PEM, _ := keys.MarshalPublic(&p384.PublicKey)
	pubA := writeFile(t, dir, "a.pub", p384PEM)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	pubA2 := writeFile(t, sub, "a.pem", p384PEM)
	badIssuers := writeFile(t, dir, "issuers.yaml", []byte("issuers:\n  - id: x\n    tier: 1\n  - id: x\n    tier: vendor\n    identities: [{issuer: https://i.example, subject: a, subjectRegexp: b}]\n"))
	goodIssuers := writeFile(t, dir, "good-issuers.yaml", []byte(issuersYAML))

	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()

	head := "name: k\nchannel: k\nversion: 1\n"
	for _, tc := range []struct {
		name, yaml string
		want       []kit.SpecCode
	}{
		{"plain http", "trust:\n  - name: s\n    tuf: {url: " + srv.URL + ", root: " + root + ", targets: [t.json]}\n", []kit.SpecCode{kit.SpecInsecureURL}},
		{"plain http, insecure", "trust:\n  - name: s\n    tuf: {url: " + srv.URL + ", root: " + root + ", targets: [t.json], insecure: true}\n", nil},
		{"not a URL", "trust:\n  - name: s\n    tuf: {url: ftp://x/y, root: " + root + ", targets: [t.json], targetsUrl: 'https://'}\n", []kit.SpecCode{kit.SpecInvalidURL, kit.SpecInvalidURL}},
		{"missing root", "trust:\n  - name: s\n    tuf: {url: https://x.example, root: " + filepath.Join(dir, "nope.json") + ", targets: [t.json]}\n", []kit.SpecCode{kit.SpecMissingTUFRoot}},
		{"no root", "trust:\n  - name: s\n    tuf: {url: https://x.example, targets: [t.json]}\n", []kit.SpecCode{kit.SpecMissingTUFRoot}},
		{"not a root", "trust:\n  - name: s\n    tuf: {url: https://x.example, root: " + notRoot + ", targets: [t.json]}\n", []kit.SpecCode{kit.SpecInvalidTUFRoot}},
		{"no targets", "trust:\n  - name: s\n    tuf: {url: https://x.example, root: " + root + ", targets: []}\n", []kit.SpecCode{kit.SpecMissingTUFTargets}},
		{"unsafe target", "trust:\n  - name: s\n    tuf: {url: https://x.example, root: " + root + ", targets: [../x]}\n", []kit.SpecCode{kit.SpecInvalidTUFTarget}},
		{"two kinds", "trust:\n  - name: s\n    keys: [" + pubA + "]\n    issuers: " + goodIssuers + "\n", []kit.SpecCode{kit.SpecMissingSourceKind}},
		{"private key", "trust:\n  - name: k\n    keys: [" + priv + "]\n", []kit.SpecCode{kit.SpecPrivateKeyGiven}},
		{"cosign private key", "trust:\n  - name: k\n    keys: [" + cosignPriv + "]\n", []kit.SpecCode{kit.SpecPrivateKeyGiven}},
		{"der private key", "trust:\n  - name: k\n    keys: [" + privDER + "]\n", []kit.SpecCode{kit.SpecPrivateKeyGiven}},
		{"rsa private key", "trust:\n  - name: k\n    keys: [" + rsaPriv + "]\n", []kit.SpecCode{kit.SpecPrivateKeyGiven}},
		{"not a key", "trust:\n  - name: k\n    keys: [" + notKey + "]\n", []kit.SpecCode{kit.SpecInvalidKey}},
		{"same key name", "trust:\n  - name: k\n    keys: [" + pubA + ", " + pubA2 + "]\n", []kit.SpecCode{kit.SpecDuplicatePath}},
		{"bad issuers", "issuers: " + badIssuers + "\n", []kit.SpecCode{kit.SpecInvalidIssuers, kit.SpecInvalidIssuers, kit.SpecInvalidIssuers}},
		{"issuers twice", "issuers: " + goodIssuers + "\ntrust:\n  - issuers: " + goodIssuers + "\n", []kit.SpecCode{kit.SpecDuplicatePath}},
		{"top-level issuers", "issuers: " + goodIssuers + "\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kit.ParseSpec(filepath.Join(dir, "kit.yaml"), []byte(head+tc.yaml))
			var got []kit.SpecCode
			var es kit.SpecErrors
			if errors.As(err, &es) {
				got = es.Codes()
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("codes (-want +got):\n%s\n%v", diff, err)
			}
			if err != nil && (strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), string(privPEM[30:60]))) {
				t.Errorf("the error shows key material: %v", err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("spec validation made %d HTTP requests, want none", n)
	}
}

func TestIssuersDeterministic(t *testing.T) {
	a, _, errs := kit.ParseIssuers([]byte(issuersYAML))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	// The same issuers in another order, keys and identities reordered.
	reordered := `issuers:
  - {id: https://distro.example/, tier: distro}
  - id: https://acme.example/security
    tier: self
    name: "ACME <security> & co"
    identities:
      - {issuer: https://accounts.google.com, subject: security@acme.example}
      - {issuer: https://token.actions.githubusercontent.com, subjectRegexp: '^https://github\.com/acme/'}
  - {id: https://security.vendor.example/vex, name: Vendor PSIRT, tier: vendor, keys: [vendor]}
`
	b, _, errs := kit.ParseIssuers([]byte(reordered))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if string(a) != string(b) {
		t.Errorf("same issuers, different bytes:\n%s\n%s", a, b)
	}
}
