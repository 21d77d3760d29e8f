package tuftest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Repo is a TUF repository: root version 1 (root key A) rotated to version
// 2 (root key B, signed by A and B), one online key for timestamp,
// snapshot and targets, consistent snapshots, and top-level targets each
// served under its sha256 and sha512 names. Everything expires a year
// after the creation time but the timestamp, which expires a week after.
//
// Repo is an http.Handler; it is safe for concurrent use once the test
// has stopped editing Files.
type Repo struct {
	// Files are the bodies served, by URL path without the leading "/".
	// A test edits them before serving to attack the client.
	Files map[string][]byte
	// Root1 is root version 1: the root a client pins.
	Root1 []byte

	mu   sync.Mutex
	hits []string
}

var _ http.Handler = (*Repo)(nil)

// New builds a repository created at created with the given targets
// (target path → contents).
func New(t testing.TB, created time.Time, targets map[string][]byte) *Repo {
	t.Helper()
	rootA, rootB, online := signer(t, "root A"), signer(t, "root B"), signer(t, "online")
	key := func(s signature.Signer) *metadata.Key {
		pub, err := s.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		k, err := metadata.KeyFromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	sign := func(m interface {
		Sign(signature.Signer) (*metadata.Signature, error)
		ToBytes(bool) ([]byte, error)
	}, signers ...signature.Signer) []byte {
		for _, s := range signers {
			if _, err := m.Sign(s); err != nil {
				t.Fatal(err)
			}
		}
		b, err := m.ToBytes(true)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	year := created.AddDate(1, 0, 0)
	r := &Repo{Files: map[string][]byte{}}

	root := metadata.Root(year)
	root.Signed.ConsistentSnapshot = true
	for _, role := range []string{metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS} {
		must(root.Signed.AddKey(key(online), role))
	}
	must(root.Signed.AddKey(key(rootA), metadata.ROOT))
	r.Root1 = sign(root, rootA)
	r.Files["1.root.json"] = r.Root1

	// Rotation: version 2 replaces root key A by B, signed by both.
	idA, err := key(rootA).ID()
	must(err)
	must(root.Signed.RevokeKey(idA, metadata.ROOT))
	must(root.Signed.AddKey(key(rootB), metadata.ROOT))
	root.Signed.Version = 2
	root.ClearSignatures()
	r.Files["2.root.json"] = sign(root, rootA, rootB)

	tm := metadata.Targets(year)
	for _, p := range slices.Sorted(maps.Keys(targets)) {
		tf, err := metadata.TargetFile().FromBytes(p, targets[p], "sha256", "sha512")
		must(err)
		tm.Signed.Targets[p] = tf
		for _, h := range tf.Hashes {
			r.Files[targetPath(p, h)] = targets[p]
		}
	}
	r.Files["1.targets.json"] = sign(tm, online)

	snapshot := metadata.Snapshot(year)
	snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(1)
	snapshotJSON := sign(snapshot, online)
	r.Files["1.snapshot.json"] = snapshotJSON

	timestamp := metadata.Timestamp(created.AddDate(0, 0, 7))
	sum := sha256.Sum256(snapshotJSON)
	timestamp.Signed.Meta["snapshot.json"] = &metadata.MetaFiles{Version: 1, Length: int64(len(snapshotJSON)), Hashes: metadata.Hashes{"sha256": sum[:]}}
	r.Files["timestamp.json"] = sign(timestamp, online)
	return r
}

// targetPath is where a consistent-snapshot repository serves target p
// under hash h: the hash prefixes the base name.
func targetPath(p string, h []byte) string {
	dir, base := "", p
	if i := strings.LastIndex(p, "/"); i >= 0 {
		dir, base = p[:i+1], p[i+1:]
	}
	return "targets/" + dir + hex.EncodeToString(h) + "." + base
}

// ReplaceTarget serves data for target p under every name the targets
// metadata gives it, leaving the signed metadata as it is: the
// repository then serves a file that does not match its signed hashes.
func (r *Repo) ReplaceTarget(p string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dir, base := "targets/", p
	if i := strings.LastIndex(p, "/"); i >= 0 {
		dir, base = "targets/"+p[:i+1], p[i+1:]
	}
	for name := range r.Files {
		rest, ok := strings.CutPrefix(name, dir)
		if !ok {
			continue
		}
		if h, b, ok := strings.Cut(rest, "."); ok && b == base && !strings.Contains(h, "/") {
			r.Files[name] = data
		}
	}
}

// ServeHTTP serves Files and records each request path.
func (r *Repo) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := strings.TrimPrefix(req.URL.Path, "/")
	r.mu.Lock()
	r.hits = append(r.hits, p)
	b, ok := r.Files[p]
	r.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// Hits returns the paths requested so far, in order.
func (r *Repo) Hits() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.hits)
}

// Serve serves r on a loopback TLS server, closed at cleanup. Use the
// server's Client, which trusts its certificate.
func (r *Repo) Serve(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// signer is the ed25519 key derived from seed.
func signer(t testing.TB, seed string) signature.Signer {
	t.Helper()
	sum := sha256.Sum256([]byte("ferry tuftest key: " + seed))
	s, err := signature.LoadED25519Signer(ed25519.NewKeyFromSeed(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
