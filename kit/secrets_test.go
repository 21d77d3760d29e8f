package kit

import (
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/keys"
)

// privateKeyFiles are private keys as operators have them lying around.
func privateKeyFiles(t *testing.T) map[string][]byte {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	pemKey, err := keys.MarshalPrivate(priv)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"root.key":        pemKey,
		"signer.der":      der,
		"id_ed25519":      []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n"),
		"tls/server.pem":  []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"),
		"old/rsa.key":     []byte("-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\n"),
		"enc/pkcs8.pem":   []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkq\n-----END ENCRYPTED PRIVATE KEY-----\n"),
		"config/app.json": []byte(`{"tls":{"key":"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n"}}`),
	}
}

// TestFilesSourceRefusesPrivateKeys: a files source that would carry a
// private key — the channel's own root.key beside kit.yaml, a DER key, an
// SSH key, a key in a JSON file — is refused by CheckLocal (what mirror
// --check runs) with SPEC_PRIVATE_KEY_GIVEN naming kit.yaml, the entry,
// its line and the file; nothing else in the directory is reported.
func TestFilesSourceRefusesPrivateKeys(t *testing.T) {
	for name, data := range privateKeyFiles(t) {
		t.Run(name, func(t *testing.T) {
			path := writeSpec(t, "name: acme\nchannel: acme-feeds\nversion: 1\nfiles:\n  - src: ./docs\n    dest: docs/\n  - name: site\n    src: ./site\n    dest: site/\n")
			dir := filepath.Dir(path)
			writeTestFile(t, filepath.Join(dir, "docs", "ok.md"), []byte("Keep -----BEGIN PRIVATE KEY----- files offline.\n"))
			writeTestFile(t, filepath.Join(dir, "site", name), data)
			spec, err := LoadSpec(path)
			if err != nil {
				t.Fatal(err)
			}
			err = spec.CheckLocal(t.Context())
			var errs SpecErrors
			if !errors.As(err, &errs) || !slices.Equal(errs.Codes(), []SpecCode{SpecPrivateKeyGiven}) {
				t.Fatalf("got %v, want one SPEC_PRIVATE_KEY_GIVEN", err)
			}
			e := errs[0]
			if e.File != path || e.Field != "site" || e.Line != 7 || !strings.Contains(e.Msg, filepath.Join(dir, "site", name)) {
				t.Errorf("error %q: want kit.yaml, entry site at line 7 and the file named", e)
			}
			if strings.Contains(e.Error(), "MC4C") || strings.Contains(e.Error(), "b3Bl") {
				t.Errorf("error %q shows key material", e)
			}
		})
	}
}

// TestFilesSourceKeyGuard: a file that becomes a private key after
// CheckLocal (between --check and the build, or while images download) is
// still refused when the writer reads it.
func TestFilesSourceKeyGuard(t *testing.T) {
	path := writeSpec(t, docExample)
	spec, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.CheckLocal(t.Context()); err != nil {
		t.Fatal(err)
	}
	f, err := spec.Sources[0].Fetch(t.Context(), &Env{})
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(filepath.Dir(path), "docs", "a.md"), privateKeyFiles(t)["root.key"])
	var got error
	for _, file := range f.Files {
		rc, err := file.Open()
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			got = err
		}
	}
	var se *SpecError
	if !errors.As(got, &se) || se.Code != SpecPrivateKeyGiven {
		t.Fatalf("got %v, want SPEC_PRIVATE_KEY_GIVEN", got)
	}
}

// TestFilesSourceOutsideSpecDir: a files source reaches outside the
// directory of kit.yaml — by ../, an absolute path, or a symlinked
// directory on the way — only with allowOutside: true.
func TestFilesSourceOutsideSpecDir(t *testing.T) {
	outside := t.TempDir()
	writeTestFile(t, filepath.Join(outside, "secret.txt"), []byte("s\n"))
	head := "name: acme\nchannel: acme-feeds\nversion: 1\nfiles:\n"
	for _, tc := range []struct {
		name, entry string
		link        bool
		want        []SpecCode
	}{
		{"inside", "  - src: ./docs\n    dest: docs/\n", false, nil},
		{"absolute path", "  - src: " + filepath.Join(outside, "secret.txt") + "\n    dest: x/\n", false, []SpecCode{SpecOutsideSpecDir}},
		{"absolute directory", "  - src: " + outside + "\n    dest: x/\n", false, []SpecCode{SpecOutsideSpecDir}},
		{"dot dot", "  - src: ../" + filepath.Base(outside) + "/secret.txt\n    dest: x/\n", false, []SpecCode{SpecOutsideSpecDir}},
		{"through a symlink", "  - src: ./out/secret.txt\n    dest: x/\n", true, []SpecCode{SpecOutsideSpecDir}},
		{"allowed", "  - src: " + outside + "\n    dest: x/\n    allowOutside: true\n", false, nil},
		{"allowed through a symlink", "  - src: ./out/secret.txt\n    dest: x/\n    allowOutside: true\n", true, nil},
		{"allowOutside not a bool", "  - src: ./docs\n    dest: x/\n    allowOutside: yes please\n", false, []SpecCode{SpecInvalidYAML}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := head + tc.entry
			if strings.Contains(yaml, "../") {
				// kit.yaml must sit beside outside for ../ to reach it.
				yaml = strings.ReplaceAll(yaml, "../"+filepath.Base(outside), filepath.Join("..", "..", filepath.Base(filepath.Dir(outside)), filepath.Base(outside)))
			}
			path := writeSpec(t, yaml)
			if tc.link {
				if err := os.Symlink(outside, filepath.Join(filepath.Dir(path), "out")); err != nil {
					t.Skip("symlinks not supported here:", err)
				}
			}
			_, err := LoadSpec(path)
			var got []SpecCode
			var errs SpecErrors
			if errors.As(err, &errs) {
				got = errs.Codes()
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("codes %v, want %v (%v)", got, tc.want, err)
			}
			if len(got) > 0 && got[0] == SpecOutsideSpecDir && (!strings.Contains(err.Error(), "allowOutside: true") || errs[0].Field != "files[0].src") {
				t.Errorf("error %q does not name the field and the way out", err)
			}
		})
	}
}

// TestLocalVEXAndIssuersRefusePrivateKeys: the other sources that carry
// local files refuse a private key too.
func TestLocalVEXAndIssuersRefusePrivateKeys(t *testing.T) {
	path := writeSpec(t, "name: acme\nchannel: acme-feeds\nversion: 1\nvex:\n  - name: local\n    openvex: {dir: ./vex}\nissuers: issuers.yaml\n")
	dir := filepath.Dir(path)
	writeTestFile(t, filepath.Join(dir, "vex", "doc.json"), privateKeyFiles(t)["config/app.json"])
	writeTestFile(t, filepath.Join(dir, "issuers.yaml"), []byte("issuers:\n  - id: https://acme.example\n    tier: vendor\n# -----BEGIN PRIVATE KEY-----\n# MC4CAQAwBQYDK2VwBCIEI\n# -----END PRIVATE KEY-----\n"))
	spec, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	err = spec.CheckLocal(t.Context())
	var errs SpecErrors
	if !errors.As(err, &errs) || !slices.Equal(errs.Codes(), []SpecCode{SpecPrivateKeyGiven, SpecPrivateKeyGiven}) {
		t.Fatalf("got %v, want SPEC_PRIVATE_KEY_GIVEN for the VEX document and the issuers file", err)
	}
	if errs[0].Field != "local" || errs[1].Field != "issuers" {
		t.Errorf("fields %q, %q", errs[0].Field, errs[1].Field)
	}
}

func writeTestFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
