package mirror_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/mirror"
	"github.com/google/go-cmp/cmp"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

var tufCreated = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

// tufRepo is a TUF repository built with go-tuf's metadata API: root v1
// (root key A) rotated to v2 (root key B, signed by A and B), one online
// key for timestamp, snapshot and targets, consistent snapshots, one
// target. The timestamp expires a week after tufCreated.
type tufRepo struct {
	files  map[string][]byte // URL path (without the leading /) → body
	root1  []byte
	target []byte

	mu   sync.Mutex
	hits []string
}

func newTUFRepo(t *testing.T) *tufRepo {
	t.Helper()
	rootA, rootB, online := fixtures.Signer("tuf root A"), fixtures.Signer("tuf root B"), fixtures.Signer("tuf online")
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
	year := tufCreated.AddDate(1, 0, 0)
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
	r := &tufRepo{files: map[string][]byte{}, target: []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}` + "\n")}

	root := metadata.Root(year)
	root.Signed.ConsistentSnapshot = true
	for _, role := range []string{metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS} {
		if err := root.Signed.AddKey(key(online), role); err != nil {
			t.Fatal(err)
		}
	}
	if err := root.Signed.AddKey(key(rootA), metadata.ROOT); err != nil {
		t.Fatal(err)
	}
	r.root1 = sign(root, rootA)
	r.files["1.root.json"] = r.root1

	// Rotation: v2 replaces root key A by B, signed by both.
	idA, _ := key(rootA).ID()
	if err := root.Signed.RevokeKey(idA, metadata.ROOT); err != nil {
		t.Fatal(err)
	}
	if err := root.Signed.AddKey(key(rootB), metadata.ROOT); err != nil {
		t.Fatal(err)
	}
	root.Signed.Version = 2
	root.ClearSignatures()
	r.files["2.root.json"] = sign(root, rootA, rootB)

	targets := metadata.Targets(year)
	tf, err := metadata.TargetFile().FromBytes("trusted_root.json", r.target, "sha256", "sha512")
	if err != nil {
		t.Fatal(err)
	}
	targets.Signed.Targets["trusted_root.json"] = tf
	targetsJSON := sign(targets, online)
	r.files["1.targets.json"] = targetsJSON
	for _, h := range tf.Hashes {
		r.files["targets/"+hex.EncodeToString(h)+".trusted_root.json"] = r.target
	}

	snapshot := metadata.Snapshot(year)
	snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(1)
	snapshotJSON := sign(snapshot, online)
	r.files["1.snapshot.json"] = snapshotJSON

	timestamp := metadata.Timestamp(tufCreated.AddDate(0, 0, 7))
	sum := sha256.Sum256(snapshotJSON)
	timestamp.Signed.Meta["snapshot.json"] = &metadata.MetaFiles{Version: 1, Length: int64(len(snapshotJSON)), Hashes: metadata.Hashes{"sha256": sum[:]}}
	r.files["timestamp.json"] = sign(timestamp, online)
	return r
}

func (r *tufRepo) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := strings.TrimPrefix(req.URL.Path, "/")
	r.mu.Lock()
	r.hits = append(r.hits, p)
	b, ok := r.files[p]
	r.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func (r *tufRepo) serve(t *testing.T) *httptest.Server {
	srv := httptest.NewTLSServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchTUFRotationAndTarget(t *testing.T) {
	repo := newTUFRepo(t)
	srv := repo.serve(t)
	res, err := mirror.FetchTUF(t.Context(), mirror.TUFOptions{
		MetadataURL: srv.URL, Root: repo.root1, Targets: []string{"trusted_root.json"},
		At: tufCreated.Add(time.Hour), Client: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2}, res.RootVersions); diff != "" {
		t.Errorf("root versions (-want +got):\n%s", diff)
	}
	if string(res.Roots[0]) != string(repo.root1) || string(res.Roots[1]) != string(repo.files["2.root.json"]) {
		t.Error("the carried roots are not the bytes the repository served")
	}
	if string(res.Timestamp) != string(repo.files["timestamp.json"]) || string(res.Snapshot) != string(repo.files["1.snapshot.json"]) ||
		string(res.Targets) != string(repo.files["1.targets.json"]) {
		t.Error("timestamp, snapshot or targets are not the bytes the repository served")
	}
	if len(res.Files) != 1 || res.Files[0].Path != "trusted_root.json" || string(res.Files[0].Data) != string(repo.target) {
		t.Errorf("files %+v", res.Files)
	}
}

func TestFetchTUFFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*tufRepo)
		targets []string
		at      time.Time
		want    error
		wantMsg string
	}{
		{name: "freeze: expired timestamp", at: tufCreated.AddDate(0, 0, 8), want: &metadata.ErrExpiredMetadata{}},
		{name: "tampered target", edit: func(r *tufRepo) {
			for p := range r.files {
				if strings.HasPrefix(p, "targets/") {
					r.files[p] = []byte(strings.Replace(string(r.files[p]), "0.1", "6.6", 1))
				}
			}
		}, want: &metadata.ErrLengthOrHashMismatch{}},
		{name: "rotation not signed by the old root", edit: func(r *tufRepo) {
			m, _ := metadata.Root().FromBytes(r.files["2.root.json"])
			m.Signatures = m.Signatures[1:] // keep only the new key's signature
			r.files["2.root.json"], _ = m.ToBytes(true)
		}, want: &metadata.ErrUnsignedMetadata{}},
		{name: "target not listed", targets: []string{"nope.json"}, wantMsg: `target "nope.json" is not listed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := newTUFRepo(t)
			if tc.edit != nil {
				tc.edit(repo)
			}
			srv := repo.serve(t)
			at := tc.at
			if at.IsZero() {
				at = tufCreated.Add(time.Hour)
			}
			targets := tc.targets
			if targets == nil {
				targets = []string{"trusted_root.json"}
			}
			_, err := mirror.FetchTUF(t.Context(), mirror.TUFOptions{MetadataURL: srv.URL + "/", Root: repo.root1, Targets: targets, At: at, Client: srv.Client()})
			if err == nil {
				t.Fatal("fetched, want an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %T", err, tc.want)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("got %v, want %q", err, tc.wantMsg)
			}
		})
	}
}

func TestFetchTUFOptions(t *testing.T) {
	for _, o := range []mirror.TUFOptions{
		{Root: []byte("{}"), Targets: []string{"a"}, At: tufCreated},
		{MetadataURL: "https://x", Targets: []string{"a"}, At: tufCreated},
		{MetadataURL: "https://x", Root: []byte("{}"), At: tufCreated},
		{MetadataURL: "https://x", Root: []byte("{}"), Targets: []string{"a"}},
	} {
		if _, err := mirror.FetchTUF(t.Context(), o); err == nil {
			t.Errorf("%+v: accepted", o)
		}
	}
}
