package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestDetector(t *testing.T) {
	ed := mustGen(t, Ed25519)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ed)
	if err != nil {
		t.Fatal(err)
	}
	ecKey := mustGen(t, ECDSAP256).(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	// A small RSA key is enough to exercise the PKCS#1 parser.
	rsaKey, err := rsa.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{1}, 4096)), 1024)
	if err != nil {
		t.Skipf("rsa.GenerateKey: %v", err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaKey)
	pubDER, _ := x509.MarshalPKIXPublicKey(ecKey.Public())
	block := func(typ string, b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})) }
	// pbes2 is an EncryptedPrivateKeyInfo with PBES2 (openssl pkcs8 -topk8 -v2 aes256).
	pbes2 := []byte{0x30, 0x1a, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d, 0x30, 0x00,
		0x04, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	pbes2[1] = byte(len(pbes2) - 2)
	pbes2[3] = 0x0d
	for _, tc := range []struct {
		name string
		data string
		kind string // "" = nothing found
		line int
	}{
		{"pkcs8 pem", block("PRIVATE KEY", pkcs8), "PRIVATE KEY", 1},
		{"encrypted pkcs8 pem", block("ENCRYPTED PRIVATE KEY", []byte("x")), "ENCRYPTED PRIVATE KEY", 1},
		{"rsa pem", "notes\n\n" + block("RSA PRIVATE KEY", pkcs1), "RSA PRIVATE KEY", 3},
		{"ec pem", block("EC PRIVATE KEY", sec1), "EC PRIVATE KEY", 1},
		{"openssh", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n", "OPENSSH PRIVATE KEY", 1},
		{"pgp", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----\n", "PGP PRIVATE KEY BLOCK", 1},
		{"sigstore", "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nc2VjcmV0\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n", "ENCRYPTED SIGSTORE PRIVATE KEY", 1},
		{"inside json", `{"a":1,` + "\n" + `"key":"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n"}`, "PRIVATE KEY", 2},
		{"after a certificate", block("CERTIFICATE", []byte("c")) + block("PRIVATE KEY", pkcs8), "PRIVATE KEY", 4},
		{"der pkcs8", string(pkcs8), "DER PKCS#8", 0},
		{"der sec1", string(sec1), "DER SEC 1", 0},
		{"der pkcs1", string(pkcs1), "DER PKCS#1", 0},
		{"der encrypted pkcs8", string(pbes2), "DER encrypted PKCS#8", 0},
		{"public key", block("PUBLIC KEY", pubDER), "", 0},
		{"der public key", string(pubDER), "", 0},
		{"certificate", block("CERTIFICATE", []byte("c")), "", 0},
		{"prose", "Keep the -----BEGIN PRIVATE KEY----- file offline.\n", "", 0},
		{"mismatched end", "-----BEGIN RSA PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n", "", 0},
		{"dashes", strings.Repeat("-", 200) + "\n# title\n" + strings.Repeat("-", 7), "", 0},
		{"empty", "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{1, 7, 64, 1 << 20} {
				var d Detector
				data := []byte(tc.data)
				for len(data) > 0 {
					n := min(chunk, len(data))
					d.Write(data[:n])
					data = data[n:]
				}
				got := d.Found()
				switch {
				case tc.kind == "" && got != nil:
					t.Fatalf("chunk %d: found %v, want nothing", chunk, got)
				case tc.kind != "" && got == nil:
					t.Fatalf("chunk %d: found nothing, want %s", chunk, tc.kind)
				case got != nil && (got.Kind != tc.kind || got.Line != tc.line):
					t.Fatalf("chunk %d: found %s at line %d, want %s at line %d", chunk, got.Kind, got.Line, tc.kind, tc.line)
				}
			}
		})
	}
}

func TestDetectorKeyDeepInLargeFile(t *testing.T) {
	priv, _ := MarshalPrivate(mustGen(t, Ed25519).(crypto.Signer))
	data := append(bytes.Repeat([]byte("x\n"), 3<<20), priv...)
	got, err := FindPrivateKey(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Line != 3<<20+1 {
		t.Fatalf("got %v, want the key at line %d", got, 3<<20+1)
	}
}

func FuzzDetector(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"), 3)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00}, 1)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		whole, _ := FindPrivateKey(bytes.NewReader(data))
		var d Detector
		for rest := data; len(rest) > 0; {
			n := min(chunk, len(rest))
			d.Write(rest[:n])
			rest = rest[n:]
		}
		got := d.Found()
		if (whole == nil) != (got == nil) || (got != nil && *got != *whole) {
			t.Fatalf("chunked %v, whole %v", got, whole)
		}
	})
}

func BenchmarkDetector(b *testing.B) {
	data := bytes.Repeat([]byte("# Runbook\n\nSome prose of a document, a list of steps and notes.\n\n---\n"), 5000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var d Detector
		for rest := data; len(rest) > 0; {
			n := min(256<<10, len(rest))
			d.Write(rest[:n])
			rest = rest[n:]
		}
		if d.Found() != nil {
			b.Fatal("found a key")
		}
	}
}
