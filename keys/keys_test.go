package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestGenerateWriteLoad(t *testing.T) {
	for _, alg := range []Algorithm{Ed25519, ECDSAP256} {
		t.Run(string(alg), func(t *testing.T) {
			dir := t.TempDir()
			priv, err := Generate(alg, bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
			if err != nil {
				t.Fatal(err)
			}
			privPath, pubPath, err := WritePair(dir, "signer", priv)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(privPath)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
			}
			got, err := LoadPrivate(privPath)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := LoadPublic(pubPath)
			if err != nil {
				t.Fatal(err)
			}
			id1, _ := ID(got.Public())
			id2, _ := ID(pub)
			if id1 == "" || id1 != id2 {
				t.Errorf("key ids differ: %q vs %q", id1, id2)
			}
			if _, _, err := WritePair(dir, "signer", priv); !errors.Is(err, ErrKeyExists) {
				t.Errorf("overwrite: got %v, want ErrKeyExists", err)
			}
			// A private key where a public key belongs is refused, and its
			// content never appears in the error.
			_, err = LoadPublic(privPath)
			if !errors.Is(err, ErrPrivateKeyGiven) {
				t.Errorf("LoadPublic(private): got %v, want ErrPrivateKeyGiven", err)
			}
			data, _ := os.ReadFile(privPath)
			if strings.Contains(err.Error(), string(data[30:60])) {
				t.Error("error message leaks key material")
			}
			if _, err := LoadPrivate(pubPath); !errors.Is(err, ErrNotPrivateKey) {
				t.Errorf("LoadPrivate(public): got %v, want ErrNotPrivateKey", err)
			}
			s, err := Signer(got)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.SignMessage(bytes.NewReader([]byte("x"))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGenerateSeeded(t *testing.T) {
	for _, alg := range []Algorithm{Ed25519, ECDSAP256} {
		a, _ := Generate(alg, bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
		b, _ := Generate(alg, bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
		c, _ := Generate(alg, bytes.NewReader(bytes.Repeat([]byte{2}, 64)))
		ida, _ := ID(a.Public())
		idb, _ := ID(b.Public())
		idc, _ := ID(c.Public())
		if ida != idb || ida == idc {
			t.Errorf("%s: seeded generation not reproducible or not seed-dependent", alg)
		}
	}
	if _, ok := mustGen(t, Ed25519).(ed25519.PrivateKey); !ok {
		t.Error("ed25519 key has the wrong type")
	}
	if _, ok := mustGen(t, ECDSAP256).(*ecdsa.PrivateKey); !ok {
		t.Error("ecdsa key has the wrong type")
	}
}

func mustGen(t *testing.T, alg Algorithm) any {
	k, err := Generate(alg, bytes.NewReader(make([]byte, 64)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseErrors(t *testing.T) {
	if _, err := ParseAlgorithm("rsa"); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("rsa: %v", err)
	}
	if _, err := ParsePrivate("x", []byte("not pem")); err == nil {
		t.Error("garbage accepted as a private key")
	}
	if _, err := ParsePublic("x", []byte("not pem")); err == nil {
		t.Error("garbage accepted as a public key")
	}
	if _, _, err := WritePair(t.TempDir(), "../evil", mustGen(t, Ed25519).(ed25519.PrivateKey)); err == nil {
		t.Error("a key name with a path was accepted")
	}
	if !IsPrivatePEM([]byte("-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n")) {
		t.Error("EC PRIVATE KEY not detected")
	}
}

func TestLoadPrivateRefusesOpenMode(t *testing.T) {
	dir := t.TempDir()
	privPath, _, err := WritePair(dir, "signer", mustGen(t, Ed25519).(ed25519.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o606} {
		if err := os.Chmod(privPath, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPrivate(privPath)
		if !errors.Is(err, ErrKeyPermissions) {
			t.Fatalf("mode %04o: got %v, want ErrKeyPermissions", mode, err)
		}
		if !strings.Contains(err.Error(), "chmod 600 "+privPath) {
			t.Errorf("mode %04o: the error does not say what to do: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if err := os.Chmod(privPath, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPrivate(privPath); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
}
