package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

const patchedPath = "advisories/go/osv.jsonl"

// patchFiles is version v of a channel whose osv.jsonl changes a few
// records from one version to the next.
func patchFiles(v int) map[string][]byte {
	m := deltaFiles(v)
	m[patchedPath] = fixtures.Advisories(300, func(i int) bool { return v > 1 && i%100 == v })
	if v == 3 {
		m[patchedPath] = append(m[patchedPath], fixtures.Advisories(301, nil)[len(fixtures.Advisories(300, nil)):]...)
	}
	return m
}

// patchedDelta is the delta v-1 → v of patchFiles, carrying the osv.jsonl
// as a patch.
func patchedDelta(t *testing.T, ch *fixtures.Channel, base []byte, v int) []byte {
	t.Helper()
	from := fixtures.BaseOf(base, patchFiles(v-1))
	from.Content = fixtures.ContentOf(patchFiles(v - 1))
	d := fixtures.DeltaKit(ch, patchFiles(v), fixtures.KitOptions{Version: int64(v)}, from)
	found := false
	for _, e := range fixtures.Entries(d) {
		found = found || e.Name == bundle.PatchPath(patchedPath)
		if e.Name == patchedPath {
			t.Fatalf("delta %d carries %s whole", v, patchedPath)
		}
	}
	if !found {
		t.Fatalf("delta %d carries no patch", v)
	}
	return d
}

// records lists what a store's reader gives for every record.
func records(t *testing.T, s *Store) string {
	t.Helper()
	var b bytes.Buffer
	err := s.View(context.Background(), func(r *Reader) error {
		return r.ForEachAdvisory(func(a Advisory) error {
			b.WriteString(a.Channel + " " + a.ID + " ")
			b.Write(a.Record)
			b.WriteByte('\n')
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestPatchedDeltaChainEqualsFull imports 1, then the deltas 1→2 and
// 2→3 whose osv.jsonl is a patch, and checks that the store then holds
// exactly what importing the full kit 3 gives: inventory, indexes,
// records, and after gc the same blobs (no patch is kept).
func TestPatchedDeltaChainEqualsFull(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	var full [4][]byte
	for v := 1; v <= 3; v++ {
		full[v] = fixtures.Kit(ch, patchFiles(v), fixtures.KitOptions{Version: int64(v)})
	}
	chain := newStore(t)
	mustImport(t, chain, full[1], ImportOptions{Root: ch.Root()})
	for v := 2; v <= 3; v++ {
		res := mustImport(t, chain, patchedDelta(t, ch, full[v-1], v), ImportOptions{})
		if res.Outcome != OutcomeActivated || res.Report.Delta == nil || len(res.Report.Delta.Patches) != 1 {
			t.Fatalf("delta %d: outcome %q, delta %+v", v, res.Outcome, res.Report.Delta)
		}
	}
	direct := newStore(t)
	mustImport(t, direct, full[3], ImportOptions{Root: ch.Root()})
	if got, want := state(t, chain), state(t, direct); got != want {
		t.Errorf("store after 1 + patched deltas:\n%s\nstore after the full kit 3:\n%s", got, want)
	}
	if got, want := records(t, chain), records(t, direct); got != want || want == "" {
		t.Errorf("records after 1 + patched deltas differ from those after the full kit 3")
	}
	sum := sha256.Sum256(patchFiles(3)[patchedPath])
	data, err := os.ReadFile(chain.blobPath(hex.EncodeToString(sum[:])))
	if err != nil || !bytes.Equal(data, patchFiles(3)[patchedPath]) {
		t.Fatalf("the store's blob of %s is not the file: %v", patchedPath, err)
	}
	for _, st := range []*Store{chain, direct} {
		if _, err := st.GCHistory(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GC(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := blobNames(t, chain), blobNames(t, direct); got != want {
		t.Errorf("blobs after 1 + patched deltas:\n%s\nafter the full kit 3:\n%s", got, want)
	}
}

// signedDelta signs a delta of version 2 on base holding files as given.
func signedDelta(t *testing.T, ch *fixtures.Channel, base bundle.Base, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := bundle.Write(context.Background(), &buf, bundle.WriteOptions{
		Info:  bundle.Info{Name: ch.Name, Channel: ch.Name, Version: 2, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * 3600e9), Base: &base},
		Roots: ch.Chain, Signers: ch.SigningKeys(),
	}, fixtures.Files(files))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPatchFailures: a patch whose base the store lacks, one that makes
// other bytes than its header says, and one that makes another file than
// the full kit lists each fail with their code, naming the file, and
// change nothing.
func TestPatchFailures(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	base := fixtures.Kit(ch, patchFiles(1), fixtures.KitOptions{Version: 1})
	good := patchedDelta(t, ch, base, 2)
	var desc, patch []byte
	carried := map[string][]byte{}
	for _, e := range fixtures.Entries(good) {
		if !strings.HasPrefix(e.Name, bundle.MetaDir) {
			carried[e.Name] = e.Content
		}
		switch e.Name {
		case bundle.DeltaPath:
			desc = e.Content
		case bundle.PatchPath(patchedPath):
			patch = e.Content
		}
	}
	var d bundle.Delta
	if err := json.Unmarshal(desc, &d); err != nil {
		t.Fatal(err)
	}
	resign := func(patch []byte) []byte {
		files := maps.Clone(carried)
		files[bundle.PatchPath(patchedPath)] = patch
		return signedDelta(t, ch, d.Base, files)
	}
	fresh := func() (*Store, string) {
		s := newStore(t)
		mustImport(t, s, base, ImportOptions{Root: ch.Root()})
		return s, state(t, s)
	}

	if s, _ := fresh(); true {
		mustImport(t, s, resign(patch), ImportOptions{})
	}
	// The store lost the base's file.
	s, before := fresh()
	lost := s.blobPath(d.Patches[0].Base.SHA256)
	kept, err := os.ReadFile(lost)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(lost)
	_, err = importErr(t, s, good, ImportOptions{})
	wantCode(t, s, before, err, bundle.CodeBlobMissing, d.Patches[0].Base.SHA256, bundle.PatchPath(patchedPath))
	if err := os.WriteFile(lost, kept, 0o644); err != nil {
		t.Fatal(err)
	}

	// The patch's data changed (signed again): the bytes it makes are not
	// the sha256 it says.
	s, before = fresh()
	bad := bytes.Clone(patch)
	bad[len(bad)-3] ^= 1
	_, err = importErr(t, s, resign(bad), ImportOptions{})
	wantCode(t, s, before, err, bundle.CodeDigestMismatch, patchedPath)

	// A sound patch that makes another file than the full kit lists.
	s, before = fresh()
	other := patchFiles(2)[patchedPath]
	other = bytes.Replace(other, []byte("GO-2024-0002"), []byte("GO-2024-9999"), 1)
	wrong, err := bundle.MakePatch(patchedPath, patchFiles(1)[patchedPath], other, len(other))
	if err != nil {
		t.Fatal(err)
	}
	_, err = importErr(t, s, resign(wrong), ImportOptions{})
	wantCode(t, s, before, err, bundle.CodeDigestMismatch, patchedPath, "the full kit lists")
	// As any import that fails after an advisories file verified, it may
	// leave that file's record index, which no kit names: check lists it
	// as staging, gc removes it.
	rep, err := s.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		if p.Kind != "staging" {
			t.Errorf("after the failed import: %+v", p)
		}
	}
	if _, err := s.GC(context.Background()); err != nil {
		t.Fatal(err)
	}
}
