package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	bolt "go.etcd.io/bbolt"
)

// deltaFiles is version v of a channel for the delta tests: kitFiles plus
// a file that only version 3 removes, and content that moves between
// paths.
func deltaFiles(v int) map[string][]byte {
	m := kitFiles(v)
	m["kit.json"] = []byte(fmt.Sprintf(`{"schema":"ferry.dev/kit/v1","version":%d}`+"\n", v))
	if v < 3 {
		m["docs/old.txt"] = []byte("dropped in version 3\n")
	}
	m[fmt.Sprintf("docs/moved-%d.txt", v)] = []byte("the same bytes under a new path\n")
	return m
}

// chainKits returns full kits of versions 1..3 of ch and the deltas
// 1→2 and 2→3.
func chainKits(ch *fixtures.Channel) (full [4][]byte, delta [4][]byte) {
	for v := 1; v <= 3; v++ {
		full[v] = fixtures.Kit(ch, deltaFiles(v), fixtures.KitOptions{Version: int64(v)})
		if v > 1 {
			delta[v] = fixtures.DeltaKit(ch, deltaFiles(v), fixtures.KitOptions{Version: int64(v)}, fixtures.BaseOf(full[v-1], deltaFiles(v-1)))
		}
	}
	return full, delta
}

// state is what a store holds, for comparison: its inventory and every
// index entry of every channel.
func state(t *testing.T, s *Store) string {
	t.Helper()
	inv, err := s.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := json.NewEncoder(&b).Encode(inv); err != nil {
		t.Fatal(err)
	}
	err = s.view(context.Background(), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIndex).ForEach(func(ix, _ []byte) error {
			return tx.Bucket(bucketIndex).Bucket(ix).ForEach(func(ch, _ []byte) error {
				return tx.Bucket(bucketIndex).Bucket(ix).Bucket(ch).ForEach(func(k, v []byte) error {
					fmt.Fprintf(&b, "%s/%s/%q=%q\n", ix, ch, k, v)
					return nil
				})
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func blobNames(t *testing.T, s *Store) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.dir, blobsDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, "\n")
}

func importErr(t *testing.T, s *Store, kit []byte, opts ImportOptions) (*ImportResult, error) {
	t.Helper()
	if opts.At.IsZero() {
		opts.At = at
	}
	return s.Import(context.Background(), bytes.NewReader(kit), opts)
}

// TestDeltaChainEqualsFull imports 1, then the deltas 1→2 and 2→3, and
// checks that the store then holds exactly what importing the full kit 3
// gives, and that each delta carried less than its full kit.
func TestDeltaChainEqualsFull(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	full, delta := chainKits(ch)
	for v := 2; v <= 3; v++ {
		if len(delta[v]) >= len(full[v])/2 {
			t.Errorf("delta %d is %d bytes, the full kit %d", v, len(delta[v]), len(full[v]))
		}
	}

	chain := newStore(t)
	mustImport(t, chain, full[1], ImportOptions{Root: ch.Root()})
	for v := 2; v <= 3; v++ {
		res := mustImport(t, chain, delta[v], ImportOptions{})
		if res.Outcome != OutcomeActivated || res.Report.Delta == nil {
			t.Fatalf("delta %d: outcome %q, delta %+v", v, res.Outcome, res.Report.Delta)
		}
		if res.Receipt.DeltaOf == nil || res.Receipt.DeltaOf.Version != int64(v-1) || res.Receipt.TargetsSHA256 != res.Report.Delta.TargetsSHA256 {
			t.Errorf("delta %d: receipt %+v", v, res.Receipt)
		}
		for _, e := range fixtures.Entries(delta[v]) {
			sum := sha256.Sum256(e.Content)
			if _, err := os.Stat(chain.blobPath(hex.EncodeToString(sum[:]))); e.Name == bundle.DeltaPath && err == nil {
				t.Errorf("delta %d: its %s was stored as a blob", v, bundle.DeltaPath)
			}
		}
		if v == 3 && res.Changes.Removed != 2 {
			t.Errorf("delta 3 removed %d files, want 2 (docs/old.txt, docs/moved-2.txt)", res.Changes.Removed)
		}
	}
	direct := newStore(t)
	mustImport(t, direct, full[3], ImportOptions{Root: ch.Root()})
	if got, want := state(t, chain), state(t, direct); got != want {
		t.Errorf("store after 1 + deltas:\n%s\nstore after the full kit 3:\n%s", got, want)
	}
	// After a gc that keeps no replaced kit (the chain's store still holds
	// blobs of kits 1 and 2 for replay), the same blobs: nothing of the
	// deltas themselves is left.
	for _, st := range []*Store{chain, direct} {
		if _, err := st.GCHistory(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GC(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := blobNames(t, chain), blobNames(t, direct); got != want {
		t.Errorf("blobs after 1 + deltas:\n%s\nafter the full kit 3:\n%s", got, want)
	}

	// The same delta again changes nothing.
	res := mustImport(t, chain, delta[3], ImportOptions{})
	if res.Outcome != OutcomeUnchanged {
		t.Errorf("second import of delta 3: outcome %q", res.Outcome)
	}
}

// wantCode fails unless err carries code and the store's state is before.
func wantCode(t *testing.T, s *Store, before string, err error, code bundle.Code, msgs ...string) {
	t.Helper()
	if bundle.CodeOf(err) != code {
		t.Fatalf("import: %v, want %s", err, code)
	}
	for _, m := range msgs {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not say %q", err, m)
		}
	}
	if after := state(t, s); after != before {
		t.Errorf("the failed import changed the store:\n%s\nwas\n%s", after, before)
	}
	ents, _ := os.ReadDir(filepath.Join(s.dir, tmpDir))
	if len(ents) > 0 {
		t.Errorf("staging files left: %v", ents)
	}
}

func TestDeltaOnWrongBase(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	_, delta := chainKits(ch)
	other := deltaFiles(1)
	other["docs/README.md"] = []byte("another kit 1\n")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(ch, other, fixtures.KitOptions{Version: 1}), ImportOptions{Root: ch.Root()})
	before := state(t, s)
	_, err := importErr(t, s, delta[2], ImportOptions{})
	wantCode(t, s, before, err, bundle.CodeBaseMismatch, "holds version 1", "needs targets sha256")
}

func TestDeltaOnEmptyStore(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	_, delta := chainKits(ch)
	s := newStore(t)
	_, err := importErr(t, s, delta[2], ImportOptions{Root: ch.Root()})
	if bundle.CodeOf(err) != bundle.CodeBaseMismatch || !strings.Contains(err.Error(), "no version of channel") {
		t.Fatalf("import: %v, want KIT_BASE_MISMATCH", err)
	}
	if s.exists() {
		t.Errorf("the failed first import left a store")
	}
}

func TestDeltaChainGap(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	full, delta := chainKits(ch)
	s := newStore(t)
	mustImport(t, s, full[1], ImportOptions{Root: ch.Root()})
	before := state(t, s)
	_, err := importErr(t, s, delta[3], ImportOptions{})
	wantCode(t, s, before, err, bundle.CodeBaseMismatch, "holds version 1", "needs version 2", "gap")
	// In order, the chain applies.
	mustImport(t, s, delta[2], ImportOptions{})
	mustImport(t, s, delta[3], ImportOptions{})
}

func TestDeltaOlderThanStore(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	full, delta := chainKits(ch)
	s := newStore(t)
	mustImport(t, s, full[3], ImportOptions{Root: ch.Root()})
	before := state(t, s)
	_, err := importErr(t, s, delta[2], ImportOptions{})
	wantCode(t, s, before, err, bundle.CodeRollback, "older")
	// Forced, the rollback rules step aside, but the base does not match.
	_, err = importErr(t, s, delta[2], ImportOptions{ForceActivate: true, Reason: "test"})
	wantCode(t, s, before, err, bundle.CodeBaseMismatch, "holds version 3", "needs version 1")
}

// haveOf is the have-list of s as mirror --have reads it.
func haveOf(t *testing.T, s *Store, channel string) bundle.DeltaFrom {
	t.Helper()
	inv, err := s.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	from := bundle.DeltaFrom{Base: bundle.Base{Channel: channel, Have: true}, Files: map[string]string{}, Have: map[string]bool{}}
	for _, c := range inv.Channels {
		for p, d := range c.Files {
			if c.Channel == channel {
				from.Files[p] = d
			} else {
				from.Have[d] = true
			}
		}
		if c.Channel == channel {
			from.Base.Version, from.Base.TargetsSHA256 = c.Version, c.TargetsSHA256
		}
	}
	for _, d := range inv.Images {
		from.Have[strings.TrimPrefix(d, "sha256:")] = true
	}
	return from
}

// TestHaveListDelta: a delta made against the site's have-list applies
// onto the site whatever version it holds, and gives the full kit's state.
func TestHaveListDelta(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	full, _ := chainKits(ch)
	s := newStore(t)
	mustImport(t, s, full[1], ImportOptions{Root: ch.Root()})
	have := haveOf(t, s, ch.Name)
	d := fixtures.DeltaKit(ch, deltaFiles(3), fixtures.KitOptions{Version: 3}, have)
	res := mustImport(t, s, d, ImportOptions{})
	if res.Outcome != OutcomeActivated || res.Report.Delta == nil || !res.Report.Delta.Base.Have {
		t.Fatalf("outcome %q, delta %+v", res.Outcome, res.Report.Delta)
	}
	direct := newStore(t)
	mustImport(t, direct, full[3], ImportOptions{Root: ch.Root()})
	if got, want := state(t, s), state(t, direct); got != want {
		t.Errorf("store after 1 + have-list delta:\n%s\nstore after the full kit 3:\n%s", got, want)
	}
}

// TestHaveListClaimsMissingBlob: a have-list that claims content the store
// lacks gives a delta that leaves it out; the import names the digest and
// changes nothing.
func TestHaveListClaimsMissingBlob(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	full, _ := chainKits(ch)
	s := newStore(t)
	mustImport(t, s, full[1], ImportOptions{Root: ch.Root()})
	have := haveOf(t, s, ch.Name)
	files := deltaFiles(2)
	files["docs/new.txt"] = []byte("the site never had this\n")
	sum := sha256.Sum256(files["docs/new.txt"])
	missing := hex.EncodeToString(sum[:])
	have.Have[missing] = true // the lie
	d := fixtures.DeltaKit(ch, files, fixtures.KitOptions{Version: 2}, have)
	before := state(t, s)
	blobs, _ := os.ReadDir(filepath.Join(s.dir, blobsDir))
	_, err := importErr(t, s, d, ImportOptions{})
	wantCode(t, s, before, err, bundle.CodeBlobMissing, "sha256:"+missing, "docs/new.txt")
	after, _ := os.ReadDir(filepath.Join(s.dir, blobsDir))
	if !slices.EqualFunc(blobs, after, func(a, b os.DirEntry) bool { return a.Name() == b.Name() }) {
		t.Errorf("blobs changed: %d before, %d after", len(blobs), len(after))
	}
	// A dry run says the same.
	_, err = importErr(t, s, d, ImportOptions{DryRun: true})
	if bundle.CodeOf(err) != bundle.CodeBlobMissing {
		t.Errorf("dry run: %v", err)
	}
}
