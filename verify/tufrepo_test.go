//go:build conformance

package verify_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ferry-dev/ferry/verify"
	"github.com/google/go-cmp/cmp"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// corpusSigstoreTUF is Sigstore's root-signing repository in the corpus,
// below $FERRY_CORPUS (make conformance sets it).
func corpusSigstoreTUF() string {
	return filepath.Join(os.Getenv("FERRY_CORPUS"), "tuf", "sigstore-root-signing")
}

// sigstoreRepo lays the corpus out as carried TUF material: roots 1 to 15
// (root_history), the timestamp, and trusted_root.json. The corpus has no
// snapshot.json and no targets.json.
func sigstoreRepo(t *testing.T) fstest.MapFS {
	t.Helper()
	dir := corpusSigstoreTUF()
	if os.Getenv("FERRY_CORPUS") == "" {
		t.Skip("SKIP: needs the corpus (FERRY_CORPUS; make conformance sets it)")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skip("SKIP: corpus not available:", err)
	}
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fsys := fstest.MapFS{}
	for v := 1; v <= 15; v++ {
		fsys[verify.TUFRootPath(int64(v))] = &fstest.MapFile{Data: read(fmt.Sprintf("metadata/root_history/%d.root.json", v))}
	}
	fsys["metadata/timestamp.json"] = &fstest.MapFile{Data: read("metadata/timestamp.json")}
	fsys["targets/trusted_root.json"] = &fstest.MapFile{Data: read("targets/trusted_root.json")}
	return fsys
}

func versions(from, to int64) []int64 {
	var out []int64
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

func TestTUFRepoSigstoreRootChain(t *testing.T) {
	fsys := sigstoreRepo(t)
	root1 := fsys[verify.TUFRootPath(1)].Data
	// Quirk 1: roots 1-4 give their ECDSA keys hex-encoded; go-tuf v2
	// alone cannot load them (TUFRepo bridges it, see tufrepo.go).
	if _, err := trustedmetadata.New(root1); err == nil {
		t.Log("go-tuf now loads hex-encoded keys: the bridge in tufrepo.go may go")
	}
	missingSnapshot := verify.TUFFailure{Code: verify.TUFMissingMetadata, Entry: "metadata/snapshot.json", Message: "not carried"}
	for _, tc := range []struct {
		name string
		at   time.Time
		want []verify.TUFFailure
	}{
		// Before the timestamp expired (2026-08-28): the chain 1 → 15
		// (hex keys in 1-4, root 11's key id that is not its key's hash,
		// empty signatures in 12-14) and the timestamp verify; the corpus
		// ends there.
		{"before expiry", time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), []verify.TUFFailure{missingSnapshot}},
		{"timestamp expired", time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), []verify.TUFFailure{missingSnapshot,
			{Code: verify.TUFExpired, Entry: "metadata/timestamp.json", Message: "expired 2026-08-28T19:25:56Z (checked at 2026-09-01T00:00:00Z)"}}},
		{"root 15 expired too", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), []verify.TUFFailure{missingSnapshot,
			{Code: verify.TUFExpired, Entry: "metadata/15.root.json", Message: "expired 2026-11-20T13:58:18Z (checked at 2026-12-01T00:00:00Z)"},
			{Code: verify.TUFExpired, Entry: "metadata/timestamp.json", Message: "expired 2026-08-28T19:25:56Z (checked at 2026-12-01T00:00:00Z)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := verify.TUFRepo(t.Context(), fsys, verify.TUFRepoOptions{At: tc.at, Root: root1})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(versions(1, 15), rep.Roots); diff != "" {
				t.Errorf("roots followed (-want +got):\n%s", diff)
			}
			if rep.TimestampVersion != 762 {
				t.Errorf("timestamp version %d, want 762", rep.TimestampVersion)
			}
			if diff := cmp.Diff(tc.want, rep.Failures); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
			if rep.OK || len(rep.Targets) != 0 {
				t.Error("trusted_root.json counted as verified without targets metadata")
			}
		})
	}
}

// Every real root can be the pinned one: the chain from each reaches 15.
func TestTUFRepoSigstoreFromEachRoot(t *testing.T) {
	fsys := sigstoreRepo(t)
	for v := int64(1); v <= 15; v++ {
		rep, err := verify.TUFRepo(t.Context(), fsys, verify.TUFRepoOptions{At: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), Root: fsys[verify.TUFRootPath(v)].Data})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(versions(v, 15), rep.Roots); diff != "" || len(rep.Failures) != 1 {
			t.Errorf("from root %d: roots (-want +got):\n%s\nfailures %v", v, diff, rep.Failures)
		}
	}
}

func TestTUFRepoSigstoreTampered(t *testing.T) {
	at := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		edit  func(fstest.MapFS)
		code  verify.TUFCode
		entry string
	}{
		{"hex-key root with a changed expiry", func(f fstest.MapFS) {
			f["metadata/3.root.json"].Data = bytes.Replace(f["metadata/3.root.json"].Data, []byte(`"expires": "2022-11-10`), []byte(`"expires": "2032-11-10`), 1)
		}, verify.TUFRootChain, "metadata/3.root.json"},
		{"root 11 with a changed expiry", func(f fstest.MapFS) {
			f["metadata/11.root.json"].Data = bytes.Replace(f["metadata/11.root.json"].Data, []byte(`"expires": "2025`), []byte(`"expires": "2035`), 1)
		}, verify.TUFRootChain, "metadata/11.root.json"},
		{"a root left out", func(f fstest.MapFS) { delete(f, "metadata/7.root.json") }, verify.TUFRootChain, "metadata/8.root.json"},
		{"timestamp from elsewhere", func(f fstest.MapFS) {
			f["metadata/timestamp.json"].Data = bytes.Replace(f["metadata/timestamp.json"].Data, []byte(`"version": 762`), []byte(`"version": 763`), 1)
		}, verify.TUFSignature, "metadata/timestamp.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := sigstoreRepo(t)
			for p, f := range fsys {
				fsys[p] = &fstest.MapFile{Data: bytes.Clone(f.Data)}
			}
			root1 := fsys[verify.TUFRootPath(1)].Data
			tc.edit(fsys)
			rep, err := verify.TUFRepo(t.Context(), fsys, verify.TUFRepoOptions{At: at, Root: root1})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || len(rep.Failures) == 0 || rep.Failures[0].Code != tc.code || rep.Failures[0].Entry != tc.entry {
				t.Errorf("got %+v, want %s on %s first", rep.Failures, tc.code, tc.entry)
			}
		})
	}
}
