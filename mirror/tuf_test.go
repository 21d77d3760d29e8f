package mirror_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/tuftest"
	"github.com/ferry-dev/ferry/mirror"
	"github.com/google/go-cmp/cmp"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

var tufCreated = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

// tufTarget is the one target of the test repository.
var tufTarget = []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}` + "\n")

// newTUFRepo is a repository created at tufCreated whose one target is
// trusted_root.json (tufTarget).
func newTUFRepo(t *testing.T) *tuftest.Repo {
	t.Helper()
	return tuftest.New(t, tufCreated, map[string][]byte{"trusted_root.json": tufTarget})
}

func TestFetchTUFRotationAndTarget(t *testing.T) {
	repo := newTUFRepo(t)
	srv := repo.Serve(t)
	res, err := mirror.FetchTUF(t.Context(), mirror.TUFOptions{
		MetadataURL: srv.URL, Root: repo.Root1, Targets: []string{"trusted_root.json"},
		At: tufCreated.Add(time.Hour), Client: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2}, res.RootVersions); diff != "" {
		t.Errorf("root versions (-want +got):\n%s", diff)
	}
	if string(res.Roots[0]) != string(repo.Root1) || string(res.Roots[1]) != string(repo.Files["2.root.json"]) {
		t.Error("the carried roots are not the bytes the repository served")
	}
	if string(res.Timestamp) != string(repo.Files["timestamp.json"]) || string(res.Snapshot) != string(repo.Files["1.snapshot.json"]) ||
		string(res.Targets) != string(repo.Files["1.targets.json"]) {
		t.Error("timestamp, snapshot or targets are not the bytes the repository served")
	}
	if len(res.Files) != 1 || res.Files[0].Path != "trusted_root.json" || string(res.Files[0].Data) != string(tufTarget) {
		t.Errorf("files %+v", res.Files)
	}
}

func TestFetchTUFFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*tuftest.Repo)
		targets []string
		at      time.Time
		want    error
		wantMsg string
	}{
		{name: "freeze: expired timestamp", at: tufCreated.AddDate(0, 0, 8), want: &metadata.ErrExpiredMetadata{}},
		{name: "tampered target", edit: func(r *tuftest.Repo) {
			r.ReplaceTarget("trusted_root.json", []byte(strings.Replace(string(tufTarget), "0.1", "6.6", 1)))
		}, want: &metadata.ErrLengthOrHashMismatch{}},
		{name: "rotation not signed by the old root", edit: func(r *tuftest.Repo) {
			m, _ := metadata.Root().FromBytes(r.Files["2.root.json"])
			m.Signatures = m.Signatures[1:] // keep only the new key's signature
			r.Files["2.root.json"], _ = m.ToBytes(true)
		}, want: &metadata.ErrUnsignedMetadata{}},
		{name: "target not listed", targets: []string{"nope.json"}, wantMsg: `target "nope.json" is not listed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := newTUFRepo(t)
			if tc.edit != nil {
				tc.edit(repo)
			}
			srv := repo.Serve(t)
			at := tc.at
			if at.IsZero() {
				at = tufCreated.Add(time.Hour)
			}
			targets := tc.targets
			if targets == nil {
				targets = []string{"trusted_root.json"}
			}
			_, err := mirror.FetchTUF(t.Context(), mirror.TUFOptions{MetadataURL: srv.URL + "/", Root: repo.Root1, Targets: targets, At: at, Client: srv.Client()})
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
