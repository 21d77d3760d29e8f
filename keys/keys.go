package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/fips140"
	cryptorand "crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Algorithm names a key algorithm.
type Algorithm string

// The algorithms ferry signs with.
const (
	Ed25519   Algorithm = "ed25519"
	ECDSAP256 Algorithm = "ecdsa-p256"
)

// ParseAlgorithm returns the Algorithm named s, or ErrUnsupportedAlgorithm.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch Algorithm(s) {
	case Ed25519, ECDSAP256:
		return Algorithm(s), nil
	}
	return "", fmt.Errorf("%w: %q (use ed25519 or ecdsa-p256)", ErrUnsupportedAlgorithm, s)
}

// Generate creates a new private key of algorithm alg, reading randomness from
// rand. Tests pass a seeded reader to get reproducible keys. Given
// crypto/rand.Reader, the key comes from the standard library's own key
// generation (for ECDSA, with its pairwise consistency test), which is
// what FIPS 140-3 mode approves; in FIPS 140-only mode
// (GODEBUG=fips140=only) any other reader is refused with
// ErrNotFIPSApproved.
func Generate(alg Algorithm, rand io.Reader) (crypto.Signer, error) {
	system := rand == cryptorand.Reader
	if !system && fips140.Enforced() {
		return nil, fmt.Errorf("generating a %s key from a seeded reader: %w", alg, ErrNotFIPSApproved)
	}
	switch alg {
	case Ed25519, "":
		_, priv, err := ed25519.GenerateKey(rand)
		if err != nil {
			return nil, err
		}
		return priv, nil
	case ECDSAP256:
		if system {
			return ecdsa.GenerateKey(elliptic.P256(), rand)
		}
		// ecdsa.GenerateKey ignores a custom reader for determinism; derive
		// the scalar ourselves so a seeded reader gives a reproducible key.
		seed := make([]byte, 40)
		if _, err := io.ReadFull(rand, seed); err != nil {
			return nil, err
		}
		return ecdsaFromSeed(seed)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
}

// MarshalPrivate encodes priv as PKCS#8 PEM.
func MarshalPrivate(priv crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublic encodes pub as PKIX PEM.
func MarshalPublic(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// WritePair writes dir/name.key (mode 0600) and dir/name.pub (mode 0644). It
// refuses to overwrite an existing file (ErrKeyExists) and leaves no partial
// file behind on error.
func WritePair(dir, name string, priv crypto.Signer) (privPath, pubPath string, err error) {
	if name == "" || filepath.Base(name) != name || name == "." || name == ".." {
		return "", "", fmt.Errorf("key name %q: must be a plain file name", name)
	}
	privPath = filepath.Join(dir, name+".key")
	pubPath = filepath.Join(dir, name+".pub")
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("%s: %w", p, ErrKeyExists)
		}
	}
	privPEM, err := MarshalPrivate(priv)
	if err != nil {
		return "", "", err
	}
	pubPEM, err := MarshalPublic(priv.Public())
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	if err := writeNew(privPath, privPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(pubPath, pubPEM, 0o644); err != nil {
		os.Remove(privPath)
		return "", "", err
	}
	return privPath, pubPath, nil
}

// writeNew creates path exclusively with mode perm, writes data and syncs.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, werr)
	}
	return nil
}

// ParsePrivate decodes a PKCS#8 PEM private key. source names where the bytes
// came from and is used in errors; the key material never is.
func ParsePrivate(source string, data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block found", source)
	}
	switch block.Type {
	case "PRIVATE KEY":
	case "PUBLIC KEY":
		return nil, fmt.Errorf("%s: %w (it holds a public key)", source, ErrNotPrivateKey)
	default:
		return nil, fmt.Errorf("%s: PEM block %q is not a PKCS#8 private key", source, block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: parsing PKCS#8 private key: %w", source, err)
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%s: %w: ECDSA curve %s", source, ErrUnsupportedAlgorithm, k.Curve.Params().Name)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%s: %w: %T", source, ErrUnsupportedAlgorithm, k)
}

// LoadPrivate reads a private key file. Like ssh, it refuses a file that
// others than its owner may read or write (mode & 0o077 != 0) with
// ErrKeyPermissions: a signing key that others could have copied is not to
// be trusted, and the error says to chmod 600 it. A file that holds no
// private key gets the parse error instead (ErrNotPrivateKey for a public
// key).
// (On Windows, whose files carry no such mode bits, it does not check.)
func LoadPrivate(path string) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPrivateKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxPrivateKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a private key file", path, maxPrivateKeyFile)
	}
	k, err := ParsePrivate(path, data)
	if err != nil {
		return nil, err
	}
	if err := checkPrivateMode(path, fi); err != nil {
		return nil, err
	}
	return k, nil
}

// maxPrivateKeyFile caps what LoadPrivate reads: a PEM key is a few
// hundred bytes.
const maxPrivateKeyFile = 64 << 10

// checkPrivateMode refuses a private key file that is not private.
func checkPrivateMode(path string, fi os.FileInfo) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s: %w: mode %04o lets others read or change it; run chmod 600 %s (or pass the key as env:VAR)",
			path, ErrKeyPermissions, perm, path)
	}
	return nil
}

// ParsePublic decodes a PKIX PEM public key. A PEM private key is refused with
// ErrPrivateKeyGiven.
func ParsePublic(source string, data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block found", source)
	}
	if bytes.Contains([]byte(block.Type), []byte("PRIVATE")) {
		return nil, fmt.Errorf("%s: %w", source, ErrPrivateKeyGiven)
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s: PEM block %q is not a PKIX public key", source, block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: parsing public key: %w", source, err)
	}
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		return pub, nil
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%s: %w: ECDSA curve %s", source, ErrUnsupportedAlgorithm, pub.Curve.Params().Name)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("%s: %w: %T", source, ErrUnsupportedAlgorithm, pub)
}

// LoadPublic reads a public key file; given a private key file it returns
// ErrPrivateKeyGiven.
func LoadPublic(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePublic(path, data)
}

// Signer wraps priv as a signature.Signer of the kind TUF metadata expects:
// pure ed25519, or ECDSA P-256 over SHA-256 (ASN.1 signatures).
func Signer(priv crypto.Signer) (signature.Signer, error) {
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		return signature.LoadED25519Signer(k)
	case *ecdsa.PrivateKey:
		return signature.LoadECDSASigner(k, crypto.SHA256)
	}
	return nil, fmt.Errorf("%w: %T", ErrUnsupportedAlgorithm, priv)
}

// TUFKey returns pub as a TUF key.
func TUFKey(pub crypto.PublicKey) (*metadata.Key, error) {
	k, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedAlgorithm, err)
	}
	return k, nil
}

// ID returns the TUF key id of pub: the sha256 of its canonical JSON form.
func ID(pub crypto.PublicKey) (string, error) {
	k, err := TUFKey(pub)
	if err != nil {
		return "", err
	}
	return k.ID()
}

// IsPrivatePEM reports whether data looks like a PEM private key of any kind.
// Callers use it to refuse private keys before copying a file anywhere.
func IsPrivatePEM(data []byte) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if bytes.Contains([]byte(block.Type), []byte("PRIVATE")) {
			return true
		}
	}
}

var errShortSeed = errors.New("short seed")
