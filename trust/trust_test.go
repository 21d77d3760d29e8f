package trust

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

var created = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

func key(seed string) crypto.Signer {
	s := sha256.Sum256([]byte(seed))
	return ed25519.NewKeyFromSeed(s[:])
}

func opts(channel string, rootKeys ...crypto.Signer) Options {
	var pubs []crypto.PublicKey
	for _, k := range rootKeys {
		pubs = append(pubs, k.Public())
	}
	return Options{Channel: channel, RootKeys: pubs, SigningKeys: []crypto.PublicKey{key("signer").Public()}, Created: created}
}

func initRoot(t *testing.T, o Options, signers ...crypto.Signer) []byte {
	t.Helper()
	b, err := Init(o, signers)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInitDeterministicAndSelfSigned(t *testing.T) {
	a := initRoot(t, opts("acme-feeds", key("r1")), key("r1"))
	b := initRoot(t, opts("acme-feeds", key("r1")), key("r1"))
	if !bytes.Equal(a, b) {
		t.Error("same inputs gave different roots")
	}
	tm, err := trustedmetadata.New(a)
	if err != nil {
		t.Fatalf("root does not verify itself: %v", err)
	}
	if got := Channel(tm.Root); got != "acme-feeds" {
		t.Errorf("channel %q", got)
	}
	if got := tm.Root.Signed.Expires; !got.Equal(created.Add(DefaultRootExpiry)) {
		t.Errorf("expires %v", got)
	}
}

func TestInitValidation(t *testing.T) {
	cases := map[string]Options{
		"bad channel":       opts("Acme Feeds", key("r1")),
		"no root key":       opts("acme"),
		"threshold too big": func() Options { o := opts("acme", key("r1")); o.Threshold = 2; return o }(),
		"no signing key":    func() Options { o := opts("acme", key("r1")); o.SigningKeys = nil; return o }(),
		"no created":        func() Options { o := opts("acme", key("r1")); o.Created = time.Time{}; return o }(),
		"expires before":    func() Options { o := opts("acme", key("r1")); o.Expires = created.Add(-time.Hour); return o }(),
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Init(o, []crypto.Signer{key("r1")}); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestRotateThreshold(t *testing.T) {
	r1, r2, r3 := key("r1"), key("r2"), key("r3")
	o := opts("acme", r1, r2, r3)
	o.Threshold = 2
	if _, err := Init(o, []crypto.Signer{r1}); err == nil {
		t.Fatal("root v1 signed by 1 of 2 required keys was accepted")
	}
	v1 := initRoot(t, o, r1, r2, r3)
	n1 := key("n1")
	// One old key is below the old threshold of 2.
	if _, err := Rotate(v1, []crypto.Signer{r1, n1}, opts("", n1)); err == nil {
		t.Fatal("rotation signed by 1 of 2 required old keys was accepted")
	}
	// The new root must be signed by its own keys too.
	if _, err := Rotate(v1, []crypto.Signer{r1, r3}, opts("", n1)); err == nil {
		t.Fatal("rotation not signed by the new root key was accepted")
	}
	v2, err := Rotate(v1, []crypto.Signer{r1, r3, n1}, opts("", n1))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain([][]byte{v1, v2}); err != nil {
		t.Fatalf("chain v1→v2: %v", err)
	}
	// The channel cannot change in a rotation.
	if _, err := Rotate(v2, []crypto.Signer{n1}, opts("other", n1)); err == nil {
		t.Error("rotation to another channel accepted")
	}
	// A gap breaks the chain.
	v3, err := Rotate(v2, []crypto.Signer{n1, key("n2")}, opts("", key("n2")))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain([][]byte{v1, v3}); !errors.Is(err, ErrChain) {
		t.Errorf("gap v1→v3: got %v, want ErrChain", err)
	}
}

func TestWriteAndLoadChain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trust", "root.json")
	r1 := key("r1")
	v1 := initRoot(t, opts("acme", r1), r1)
	if err := WriteChainFile(path, v1); err != nil {
		t.Fatal(err)
	}
	v2, err := Rotate(v1, []crypto.Signer{r1, key("r2")}, opts("", key("r2")))
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteChainFile(path, v2); err != nil {
		t.Fatal(err)
	}
	chain, err := LoadChain(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !bytes.Equal(chain[0], v1) || !bytes.Equal(chain[1], v2) {
		t.Fatalf("chain has %d roots or wrong content", len(chain))
	}
	os.Remove(filepath.Join(dir, "trust", "1.root.json"))
	if _, err := LoadChain(path); err == nil || !strings.Contains(err.Error(), "1.root.json") {
		t.Errorf("missing 1.root.json: got %v", err)
	}
	pubs, th, err := SigningKeys(mustParse(t, v2))
	if err != nil || th != 1 || len(pubs) != 1 {
		t.Errorf("SigningKeys: %v %d %d", err, th, len(pubs))
	}
}

func mustParse(t *testing.T, b []byte) *metadata.Metadata[metadata.RootType] {
	r, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
