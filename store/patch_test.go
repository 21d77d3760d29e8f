package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
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

// importDay imports into one store version 1 of files and the delta to
// version 2 (which must carry its osv.jsonl as a patch), and into another
// version 2 whole.
func importDay(t *testing.T, ch *fixtures.Channel, files func(v int) map[string][]byte) (chain, direct *Store) {
	t.Helper()
	full1 := fixtures.Kit(ch, files(1), fixtures.KitOptions{Version: 1})
	chain = newStore(t)
	mustImport(t, chain, full1, ImportOptions{Root: ch.Root()})
	from := fixtures.BaseOf(full1, files(1))
	from.Content = fixtures.ContentOf(files(1))
	d := fixtures.DeltaKit(ch, files(2), fixtures.KitOptions{Version: 2}, from)
	found := false
	for _, e := range fixtures.Entries(d) {
		found = found || e.Name == bundle.PatchPath(patchedPath)
	}
	if !found {
		t.Fatal("the delta carries no patch")
	}
	mustImport(t, chain, d, ImportOptions{})
	direct = newStore(t)
	mustImport(t, direct, fixtures.Kit(ch, files(2), fixtures.KitOptions{Version: 2}), ImportOptions{Root: ch.Root()})
	return chain, direct
}

// fullKits returns the full kits of versions 1..3 of files.
func fullKits(ch *fixtures.Channel, files func(v int) map[string][]byte) (full [4][]byte) {
	for v := 1; v <= 3; v++ {
		full[v] = fixtures.Kit(ch, files(v), fixtures.KitOptions{Version: int64(v)})
	}
	return full
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

// records lists what a store's reader gives: every record, each looked
// up by id, by alias and by package, and the ecosystems' counts.
func records(t *testing.T, s *Store) string {
	t.Helper()
	var b bytes.Buffer
	err := s.View(context.Background(), func(r *Reader) error {
		var ids []string
		err := r.ForEachAdvisory(func(a Advisory) error {
			b.WriteString(a.Channel + " " + a.ID + " ")
			b.Write(a.Record)
			b.WriteByte('\n')
			ids = append(ids, a.ID)
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range append(ids, "GO-2024-9999", "CVE-2024-20001", "CVE-2024-20102", "CVE-2024-20299") {
			as, err := r.Advisory(id)
			if err != nil {
				return err
			}
			for _, a := range as {
				fmt.Fprintf(&b, "by %s: %s %d\n", id, a.ID, len(a.Record))
			}
		}
		for i := range 310 {
			as, err := r.AdvisoriesForPackage("Go", fmt.Sprintf("example.com/mod%d", i))
			if err != nil {
				return err
			}
			for _, a := range as {
				fmt.Fprintf(&b, "mod%d: %s %d\n", i, a.ID, len(a.Record))
			}
		}
		ecos, err := r.Ecosystems()
		fmt.Fprintf(&b, "%v\n", ecos)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// fileBytes is the file sha as the store holds it: a blob, or a layer.
func fileBytes(t *testing.T, s *Store, sha string) []byte {
	t.Helper()
	if data, err := os.ReadFile(s.blobPath(sha)); err == nil {
		return data
	}
	var l *layer
	err := s.view(context.Background(), func(tx *bolt.Tx) error {
		var err error
		l, err = layerOf(tx, sha, true)
		return err
	})
	if err != nil || l == nil {
		t.Fatalf("the store holds no file %s: %v", sha, err)
	}
	r, err := s.layerReader(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.NewSectionReader(r, 0, l.Length))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestPatchedDeltaChainEqualsFull imports 1, then the deltas 1→2 and
// 2→3 whose osv.jsonl is a patch, and checks that the store then holds
// exactly what importing the full kit 3 gives: inventory, indexes,
// records, and after gc the same blobs (no patch is kept).
func TestPatchedDeltaChainEqualsFull(t *testing.T) {
	t.Run("in the commit", testPatchedDeltaChain)
	t.Run("before the commit", func(t *testing.T) {
		// A layer with more entries than the commit writes is written
		// in transactions of its own.
		defer func(n int) { layerInCommit = n }(layerInCommit)
		layerInCommit = 0
		testPatchedDeltaChain(t)
	})
}

func testPatchedDeltaChain(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	full := fullKits(ch, patchFiles)
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
	if !bytes.Equal(fileBytes(t, chain, hex.EncodeToString(sum[:])), patchFiles(3)[patchedPath]) {
		t.Fatalf("the store does not hold the bytes of %s", patchedPath)
	}
	if _, err := os.Stat(chain.blobPath(hex.EncodeToString(sum[:]))); err == nil {
		t.Errorf("a change of a few records was written whole, not as a layer")
	}
	// After a gc that keeps no replaced kit, the layer still reads its
	// anchor and patches (check, at the end, re-hashes it over them).
	for _, st := range []*Store{chain, direct} {
		if _, err := st.GCHistory(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GC(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := records(t, chain), records(t, direct); got != want {
		t.Errorf("records after gc differ")
	}
}

// TestLargeChangeWrittenWhole: a patch that changes more than a quarter
// of the records makes the file whole, which a later layer then reads.
func TestLargeChangeWrittenWhole(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	files := func(v int) map[string][]byte {
		m := deltaFiles(v)
		m[patchedPath] = fixtures.Advisories(300, func(i int) bool { return v >= 2 && i%3 == 0 || v == 3 && i == 5 })
		return m
	}
	full := fullKits(ch, files)
	s := newStore(t)
	mustImport(t, s, full[1], ImportOptions{Root: ch.Root()})
	for v := 2; v <= 3; v++ {
		from := fixtures.BaseOf(full[v-1], files(v-1))
		from.Content = fixtures.ContentOf(files(v - 1))
		d := fixtures.DeltaKit(ch, files(v), fixtures.KitOptions{Version: int64(v)}, from)
		mustImport(t, s, d, ImportOptions{})
		sum := sha256.Sum256(files(v)[patchedPath])
		_, err := os.Stat(s.blobPath(hex.EncodeToString(sum[:])))
		if whole := err == nil; whole != (v == 2) {
			t.Errorf("version %d: written whole %v", v, whole)
		}
	}
	direct := newStore(t)
	mustImport(t, direct, full[3], ImportOptions{Root: ch.Root()})
	if got, want := records(t, s), records(t, direct); got != want {
		t.Errorf("records differ from the full kit's")
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

	// A patch that is not one, and one of another source's file.
	s, before = fresh()
	_, err = importErr(t, s, resign([]byte("not a patch\n")), ImportOptions{})
	wantCode(t, s, before, err, bundle.CodeMalformed, bundle.PatchPath(patchedPath), "patch header")
	s, before = fresh()
	moved := bytes.Replace(patch, []byte(`"path":"`+patchedPath+`"`), []byte(`"path":"advisories/npm/osv.jsonl"`), 1)
	_, err = importErr(t, s, resign(moved), ImportOptions{})
	wantCode(t, s, before, err, bundle.CodeMalformed, bundle.PatchPath(patchedPath), "not of the path it is carried for")

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

// TestCheckLayerDamage: a layered file whose patch blob is gone, or whose
// anchor changed, is damage that store check names; gc keeps the blobs a
// layer reads.
func TestCheckLayerDamage(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	full1 := fixtures.Kit(ch, patchFiles(1), fixtures.KitOptions{Version: 1})
	for _, damage := range []string{"patch", "anchor"} {
		s := newStore(t)
		mustImport(t, s, full1, ImportOptions{Root: ch.Root()})
		mustImport(t, s, patchedDelta(t, ch, full1, 2), ImportOptions{})
		if _, err := s.GCHistory(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GC(context.Background()); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(patchFiles(2)[patchedPath])
		var l *layer
		s.view(context.Background(), func(tx *bolt.Tx) error {
			var err error
			l, err = layerOf(tx, hex.EncodeToString(sum[:]), false)
			return err
		})
		if l == nil || len(l.Blobs) != 2 {
			t.Fatalf("layer %+v: want the anchor and the patch", l)
		}
		victim := s.blobPath(l.Blobs[1].SHA256)
		if damage == "anchor" {
			victim = s.blobPath(l.Blobs[0].SHA256)
		}
		kept, err := os.ReadFile(victim)
		if err != nil {
			t.Fatalf("after gc: %v", err) // gc keeps the blobs a layer reads
		}
		if damage == "patch" {
			os.Remove(victim)
		} else {
			bad := bytes.Clone(kept)
			bad[10] ^= 1
			os.WriteFile(victim, bad, 0o644)
		}
		rep, err := s.Check(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range rep.Problems {
			found = found || p.Digest == hex.EncodeToString(sum[:])
		}
		if rep.Healthy || !found {
			t.Errorf("%s damaged: check %+v does not name the layered file", damage, rep.Problems)
		}
		os.WriteFile(victim, kept, 0o644)
	}
}

// TestMostlyRemovedWrittenWhole: a patch that drops most of the base's
// records makes the file whole (the next anchor), not a layer that
// tombstones them.
func TestMostlyRemovedWrittenWhole(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	files := func(v int) map[string][]byte {
		m := deltaFiles(v)
		m[patchedPath] = fixtures.Advisories(300, nil)
		if v == 2 {
			m[patchedPath] = m[patchedPath][:len(m[patchedPath])/5]
			m[patchedPath] = m[patchedPath][:bytes.LastIndexByte(m[patchedPath], '\n')+1]
		}
		return m
	}
	s, direct := importDay(t, ch, files)
	sum := sha256.Sum256(files(2)[patchedPath])
	if _, err := os.Stat(s.blobPath(hex.EncodeToString(sum[:]))); err != nil {
		t.Errorf("a file that lost 80 %% of its records was not written whole: %v", err)
	}
	if got, want := records(t, s), records(t, direct); got != want {
		t.Errorf("records differ from the full kit's")
	}
}

// TestPatchWithDuplicateIDs: a file that holds a record id twice answers
// after the delta as after the full kit (the last line of an id wins),
// whether the patch drops one of the two lines or adds the second.
func TestPatchWithDuplicateIDs(t *testing.T) {
	recs := fixtures.Advisories(300, nil)
	line := func(i int) []byte {
		lines := bytes.SplitAfter(recs, []byte("\n"))
		return lines[i]
	}
	twin := bytes.Replace(line(150), []byte(`"summary":"`), []byte(`"summary":"twin: `), 1)
	for name, v := range map[string][2][]byte{
		"drops one of two": {append(bytes.Clone(twin), recs...), recs},
		"adds a second":    {recs, append(bytes.Clone(recs), twin...)},
	} {
		t.Run(name, func(t *testing.T) {
			ch := fixtures.NewChannel("acme-feeds")
			files := func(n int) map[string][]byte {
				m := deltaFiles(n)
				m[patchedPath] = v[n-1]
				return m
			}
			s, direct := importDay(t, ch, files)
			if got, want := records(t, s), records(t, direct); got != want {
				t.Errorf("records after the delta differ from the full kit's:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestLayerAfterFailedImports: an index a failed import left (of a full
// kit cut off after its osv.jsonl, or of a large layer whose import
// failed before its commit) never stands for the file: the next import
// of the delta, or of the full kit, leaves a store that reads and checks
// healthy.
func TestLayerAfterFailedImports(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	full1 := fixtures.Kit(ch, patchFiles(1), fixtures.KitOptions{Version: 1})
	full2 := fixtures.Kit(ch, patchFiles(2), fixtures.KitOptions{Version: 2})
	direct := newStore(t)
	mustImport(t, direct, full2, ImportOptions{Root: ch.Root()})
	want := records(t, direct)

	t.Run("full kit cut off, then the delta", func(t *testing.T) {
		s := newStore(t)
		mustImport(t, s, full1, ImportOptions{Root: ch.Root()})
		for _, cut := range []int{len(full2) / 2, len(full2) * 3 / 4, len(full2) - 600, len(full2) - 64} {
			if _, err := importErr(t, s, full2[:cut], ImportOptions{}); err == nil {
				t.Fatalf("a kit cut at %d imported", cut)
			}
		}
		mustImport(t, s, patchedDelta(t, ch, full1, 2), ImportOptions{})
		if got := records(t, s); got != want {
			t.Error("records after the delta differ from the full kit's")
		}
	})
	t.Run("large layer failed, then the full kit", func(t *testing.T) {
		defer func(n int) { layerInCommit = n }(layerInCommit)
		layerInCommit = 0
		fail := true
		s := openStore(t, filepath.Join(t.TempDir(), "store"), Options{Indexers: append(DefaultIndexers(), switchedIndexer{&fail})})
		fail = false
		mustImport(t, s, full1, ImportOptions{Root: ch.Root()})
		fail = true
		if _, err := importErr(t, s, patchedDelta(t, ch, full1, 2), ImportOptions{}); err == nil {
			t.Fatal("the delta imported with a failing indexer")
		}
		fail = false
		mustImport(t, s, full2, ImportOptions{})
		if got := records(t, s); got != want {
			t.Error("records after the full kit differ")
		}
		if _, err := s.GC(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// switchedIndexer fails every file while *fail.
type switchedIndexer struct{ fail *bool }

func (switchedIndexer) Name() string        { return "switched" }
func (switchedIndexer) Accepts(string) bool { return true }
func (f switchedIndexer) Index(context.Context, verify.Target, io.Reader, *IndexWriter) error {
	if *f.fail {
		return errors.New("injected failure")
	}
	return nil
}

// hashingIndexer reads every file it is given whole and fails unless its
// bytes are the target's: an indexer that reads advisories content.
type hashingIndexer struct{}

func (hashingIndexer) Name() string        { return "hashing" }
func (hashingIndexer) Accepts(string) bool { return true }
func (hashingIndexer) Index(_ context.Context, t verify.Target, r io.Reader, _ *IndexWriter) error {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != t.SHA256 {
		return fmt.Errorf("%s: read sha256 %s", t.Path, got)
	}
	return nil
}

// TestIndexerReadsLayeredFile: an indexer that reads an advisories file
// gets its bytes when the file is a layer, in the import that makes it
// and in a later one that keeps it.
func TestIndexerReadsLayeredFile(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	full1 := fixtures.Kit(ch, patchFiles(1), fixtures.KitOptions{Version: 1})
	s := openStore(t, filepath.Join(t.TempDir(), "store"), Options{Indexers: append(DefaultIndexers(), hashingIndexer{})})
	mustImport(t, s, full1, ImportOptions{Root: ch.Root()})
	full2 := fixtures.Kit(ch, patchFiles(2), fixtures.KitOptions{Version: 2})
	mustImport(t, s, patchedDelta(t, ch, full1, 2), ImportOptions{})
	// Version 3 keeps the layered file as it is and changes another.
	files3 := patchFiles(2)
	files3["docs/version.txt"] = []byte("version 3\n")
	from := fixtures.BaseOf(full2, patchFiles(2))
	mustImport(t, s, fixtures.DeltaKit(ch, files3, fixtures.KitOptions{Version: 3}, from), ImportOptions{})
}
