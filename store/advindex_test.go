package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
)

// recordIndexes lists the record index buckets of the store and whether
// each is complete.
func recordIndexes(t *testing.T, s *Store) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := s.view(context.Background(), func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketRecordIndex)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(name []byte) error {
			out[string(name)] = root.Bucket(name).Get(keyComplete) != nil
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func lookup(t *testing.T, s *Store, q string) []string {
	t.Helper()
	var got []string
	view(t, s, func(r *Reader) error {
		as, err := r.Advisory(q)
		got = advIDs(as)
		return err
	})
	return got
}

// A record index is built once per file content: kits that carry the
// same osv.jsonl share it, the kits kept for replay keep theirs, and gc
// drops the ones no kit names any more, with their blobs.
func TestRecordIndexSharedAndCollected(t *testing.T) {
	c := fixtures.NewChannel("feeds")
	s := newStore(t)
	dbA := jsonl(osvLine("GO-1", []string{"CVE-1"}, "Go/a"), osvLine("GO-2", nil, "Go/b"))
	dbB := jsonl(osvLine("GO-1", []string{"CVE-9"}, "Go/c"))
	kit := func(v int, db []byte) []byte {
		return fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": db, "docs/v.txt": []byte(fmt.Sprint(v))}, fixtures.KitOptions{Version: int64(v)})
	}
	mustImport(t, s, kit(1, dbA), ImportOptions{Root: c.Root()})
	mustImport(t, s, kit(2, dbA), ImportOptions{})
	if got := recordIndexes(t, s); len(got) != 1 || !got[sha256Hex(dbA)] {
		t.Fatalf("after two kits with one osv.jsonl: record indexes %v, want one, complete, of %s", got, sha256Hex(dbA))
	}
	mustImport(t, s, kit(3, dbB), ImportOptions{})
	if got := recordIndexes(t, s); len(got) != 2 {
		t.Fatalf("after a changed osv.jsonl: record indexes %v, want two", got)
	}
	if got := lookup(t, s, "CVE-9"); !slices.Equal(got, []string{"GO-1@feeds/db"}) {
		t.Errorf("active kit: CVE-9 -> %v", got)
	}
	// The historic kit still reads its own records.
	var old []string
	err := s.AtVersions(map[string]Pin{"feeds": {Version: 1}}).View(context.Background(), func(r *Reader) error {
		as, err := r.Advisory("CVE-1")
		old = advIDs(as)
		return err
	})
	if err != nil || !slices.Equal(old, []string{"GO-1@feeds/db"}) {
		t.Errorf("kit 1 at its version: CVE-1 -> %v, %v", old, err)
	}
	if _, err := s.GCHistory(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if got := recordIndexes(t, s); len(got) != 1 || !got[sha256Hex(dbB)] {
		t.Errorf("after gc --keep 0: record indexes %v, want only %s", got, sha256Hex(dbB))
	}
	res, err := s.GC(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.blobPath(sha256Hex(dbA))); !errors.Is(err, os.ErrNotExist) || res.Removed == 0 {
		t.Errorf("the old osv.jsonl blob is still there after gc (%+v): %v", res, err)
	}
	if got := lookup(t, s, "GO-1"); !slices.Equal(got, []string{"GO-1@feeds/db"}) {
		t.Errorf("after gc: GO-1 -> %v", got)
	}
	checkHealthy(t, s)
}

func checkHealthy(t *testing.T, s *Store) {
	t.Helper()
	rep, err := s.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy {
		t.Errorf("store check: %v", rep.Err())
	}
}

// A build that was killed leaves an incomplete record index that no kit
// names: check lists it as a leftover, gc removes it, and the next import
// of the same file rebuilds it instead of trusting it.
func TestRecordIndexLeftByAKilledBuild(t *testing.T) {
	c := fixtures.NewChannel("feeds")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, map[string][]byte{"docs/a.txt": []byte("a")}, fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	db := jsonl(osvLine("GO-1", []string{"CVE-1"}, "Go/a"))
	// What a build killed after its first transaction leaves: a bucket
	// named by the file, with a wrong entry and no completion key.
	l, err := s.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = s.update(context.Background(), func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketRecordIndex).CreateBucket([]byte(sha256Hex(db)))
		if err != nil {
			return err
		}
		return b.Put(ikey('a', "CVE-1", "GO-666"), nil)
	})
	l.unlock()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemStaging || !strings.Contains(rep.Problems[0].Path, sha256Hex(db)) {
		t.Errorf("check of a leftover record index: %+v", rep.Problems)
	}
	mustImport(t, s, fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": db}, fixtures.KitOptions{Version: 2}), ImportOptions{})
	if got := lookup(t, s, "CVE-1"); !slices.Equal(got, []string{"GO-1@feeds/db"}) {
		t.Errorf("CVE-1 -> %v, want only GO-1 (the leftover entry was trusted)", got)
	}
	checkHealthy(t, s)

	// An orphan (its import failed after the build) is removed by gc.
	orphan := jsonl(osvLine("GO-2", nil, "Go/b"))
	err = s.update(context.Background(), func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketRecordIndex).CreateBucket([]byte(sha256Hex(orphan)))
		if err != nil {
			return err
		}
		return b.Put(keyComplete, []byte("0"))
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.GC(context.Background())
	if err != nil || res.RecordIndexesRemoved != 1 {
		t.Errorf("gc: %+v, %v; want one record index removed", res, err)
	}
	if got := recordIndexes(t, s); len(got) != 1 || !got[sha256Hex(db)] {
		t.Errorf("after gc: %v", got)
	}
}

// A record index a kit names that is missing or incomplete is damage:
// reads say so, check names it, and importing the kit again rebuilds it.
func TestRecordIndexDamaged(t *testing.T) {
	c := fixtures.NewChannel("feeds")
	s := newStore(t)
	db := jsonl(osvLine("GO-1", []string{"CVE-1"}, "Go/a"))
	kit := fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": db}, fixtures.KitOptions{Version: 1})
	mustImport(t, s, kit, ImportOptions{Root: c.Root()})
	l, err := s.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = s.update(context.Background(), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecordIndex).Bucket([]byte(sha256Hex(db))).Delete(keyComplete)
	})
	l.unlock()
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(context.Background(), func(r *Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), sha256Hex(db)) {
		t.Errorf("a read over a damaged record index: %v", err)
	}
	rep, err := s.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemIndex || rep.Problems[0].Digest != sha256Hex(db) {
		t.Errorf("check: %+v", rep.Problems)
	}
	res := mustImport(t, s, kit, ImportOptions{})
	if res.Outcome != OutcomeUnchanged {
		t.Errorf("outcome %s", res.Outcome)
	}
	if got := lookup(t, s, "CVE-1"); !slices.Equal(got, []string{"GO-1@feeds/db"}) {
		t.Errorf("after importing the kit again: CVE-1 -> %v", got)
	}
	checkHealthy(t, s)
}

// A file of several parts is indexed in parallel parts whose runs are
// spilled and merged: the index is the one a single pass gives, a record
// id repeated in a later part wins as in one pass, an error names the
// line of the file, and no spill file is left behind.
func TestRecordIndexInParts(t *testing.T) {
	defer func(p int64, b int) { recordPartSize, recordBatch = p, b }(recordPartSize, recordBatch)
	var lines []string
	for i := range 400 {
		lines = append(lines, osvLine(fmt.Sprintf("GO-%04d", i), []string{fmt.Sprintf("CVE-%04d", i), "CVE-SHARED"}, fmt.Sprintf("Go/m%d", i%7), "npm/left-pad"))
	}
	// The same id again near the end: the later record wins.
	lines = append(lines, osvLine("GO-0001", []string{"CVE-LATE"}, "Go/late"))
	db := jsonl(lines...)

	c := fixtures.NewChannel("feeds")
	kit := fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": db}, fixtures.KitOptions{Version: 1})
	type answers struct{ late, shared, pkg, eco string }
	ask := func(s *Store) answers {
		var a answers
		view(t, s, func(r *Reader) error {
			late, _ := r.Advisory("CVE-LATE")
			shared, _ := r.Advisory("CVE-SHARED")
			pkg, _ := r.AdvisoryIDs("npm", "left-pad")
			ecos, _ := r.Ecosystems()
			a = answers{fmt.Sprint(advIDs(late), string(late[0].Record)), fmt.Sprint(len(shared)), fmt.Sprint(len(pkg)), fmt.Sprint(ecos)}
			return nil
		})
		return a
	}
	one := newStore(t)
	mustImport(t, one, kit, ImportOptions{Root: c.Root()})
	want := ask(one)

	recordPartSize, recordBatch = int64(len(db)/5), 97
	parts := newStore(t)
	mustImport(t, parts, kit, ImportOptions{Root: c.Root()})
	if got := ask(parts); got != want {
		t.Errorf("in parts:\n got %+v\nwant %+v", got, want)
	}
	if !strings.Contains(want.late, `"CVE-LATE"`) || want.shared != "400" || want.pkg != "400" {
		t.Errorf("the index itself: %+v", want)
	}
	if ents, _ := os.ReadDir(filepath.Join(parts.dir, tmpDir)); len(ents) != 0 {
		t.Errorf("left in tmp/: %v", ents)
	}
	checkHealthy(t, parts)

	// A malformed record in the fourth part: the error names its line.
	bad := slices.Clone(lines)
	bad[350] = `{"id":"GO-BAD\u0000","modified":"2026-01-01T00:00:00Z"}`
	badKit := fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": jsonl(bad...)}, fixtures.KitOptions{Version: 2})
	_, err := parts.Import(context.Background(), bytes.NewReader(badKit), ImportOptions{At: at})
	var ie *IndexError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "line 351") {
		t.Errorf("import of a malformed record in a later part: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(parts.dir, tmpDir)); len(ents) != 0 {
		t.Errorf("left in tmp/ after the failure: %v", ents)
	}
}

// A schema-4 store kept every record's entries in each kit's advisories
// index: the migration moves them into record indexes, for the active
// kit and the kits kept for replay alike.
func TestMigrateSchema4RecordIndexes(t *testing.T) {
	c := fixtures.NewChannel("feeds")
	dir := filepath.Join(t.TempDir(), "store")
	s := openStore(t, dir, Options{})
	db1 := jsonl(osvLine("GO-1", []string{"CVE-1"}, "Go/a"))
	db2 := jsonl(osvLine("GO-1", []string{"CVE-2"}, "Go/a"), osvLine("GO-2", nil, "PyPI/Django"))
	mustImport(t, s, fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": db1}, fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	mustImport(t, s, fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": db2}, fixtures.KitOptions{Version: 2}), ImportOptions{})

	// Rewrite it as schema 4 wrote it: the records' entries (keys with
	// the source) in the channel's bucket, no record indexes.
	db, err := bolt.Open(dbPath(dir), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		toOld := func(ch *bolt.Bucket) error {
			sha := ch.Get(ikey('f', "db"))
			rix := tx.Bucket(bucketRecordIndex).Bucket(sha)
			return rix.ForEach(func(k, v []byte) error {
				if k[0] == 0xff {
					return nil
				}
				if k[0] == 'r' || k[0] == 'e' {
					k = append(append(k[:len(k):len(k)], 0), "db"...)
				}
				return ch.Put(k, v)
			})
		}
		if err := toOld(tx.Bucket(bucketIndex).Bucket([]byte(advisoriesIndex)).Bucket([]byte("feeds"))); err != nil {
			return err
		}
		err := forEachHistoric(tx, func(ch string, vb *bolt.Bucket) error {
			return toOld(kitRoot{channel: ch, index: vb.Bucket(bucketIndex)}.indexBucket(advisoriesIndex))
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketRecordIndex); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("4"))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), dir, Options{ReadOnly: true}); !errors.Is(err, ErrOlderSchema) {
		t.Fatalf("read-only open of a schema-4 store: %v", err)
	}
	s = openStore(t, dir, Options{}) // migrates
	if got := lookup(t, s, "CVE-2"); !slices.Equal(got, []string{"GO-1@feeds/db"}) {
		t.Errorf("after migration: CVE-2 -> %v", got)
	}
	var old []string
	err = s.AtVersions(map[string]Pin{"feeds": {Version: 1}}).View(context.Background(), func(r *Reader) error {
		as, err := r.Advisory("CVE-1")
		old = advIDs(as)
		return err
	})
	if err != nil || !slices.Equal(old, []string{"GO-1@feeds/db"}) {
		t.Errorf("after migration, kit 1: CVE-1 -> %v, %v", old, err)
	}
	if got := recordIndexes(t, s); len(got) != 2 {
		t.Errorf("record indexes after migration: %v", got)
	}
	checkHealthy(t, s)
	// Only the "f" entries are left in the channels' buckets.
	s.view(context.Background(), func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketIndex).Bucket([]byte(advisoriesIndex)).Bucket([]byte("feeds")).Stats().KeyN; n != 1 {
			t.Errorf("the active kit's advisories index holds %d entries after migration, want 1", n)
		}
		return nil
	})
}

// The record index of an osv.jsonl is built while the rest of the kit is
// verified. A kit that fails after it changes nothing a reader sees: the
// index is named by no kit, check lists it, gc removes it.
func TestRecordIndexOfAFailedKit(t *testing.T) {
	c := fixtures.NewChannel("feeds")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, map[string][]byte{"docs/a.txt": []byte("a")}, fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	db := jsonl(osvLine("GO-1", []string{"CVE-1"}, "Go/a"))
	kit := fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": db, "docs/z.txt": []byte("zzz")}, fixtures.KitOptions{Version: 2})
	bad := tamperContent(t, kit, []byte("zzz"))
	if _, err := s.Import(context.Background(), bytes.NewReader(bad), ImportOptions{At: at}); err == nil {
		t.Fatal("a kit with a tampered entry imported")
	}
	if v := activeVersion(t, s, "feeds"); v != 1 {
		t.Errorf("active version %d after a failed import", v)
	}
	if got := lookup(t, s, "CVE-1"); len(got) != 0 {
		t.Errorf("CVE-1 -> %v after a failed import", got)
	}
	rep, err := s.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemStaging {
		t.Errorf("check after the failed import: %+v", rep.Problems)
	}
	if res, err := s.GC(context.Background()); err != nil || res.RecordIndexesRemoved != 1 {
		t.Errorf("gc: %+v, %v", res, err)
	}
	checkHealthy(t, s)
	// The kit as signed imports and reads its records.
	mustImport(t, s, kit, ImportOptions{})
	if got := lookup(t, s, "CVE-1"); !slices.Equal(got, []string{"GO-1@feeds/db"}) {
		t.Errorf("CVE-1 -> %v", got)
	}
}

// A record index is built early only from a staging file whose sha256
// was checked: bytes equal to a stored blob that is damaged are not its
// content, and an index of them must not be kept under its digest.
func TestRecordIndexNotBuiltFromADamagedBlob(t *testing.T) {
	c := fixtures.NewChannel("feeds")
	s := newStore(t)
	good := jsonl(osvLine("GO-1", []string{"CVE-1"}, "Go/a"))
	bad := jsonl(osvLine("GO-2", []string{"CVE-2"}, "Go/a")) // same length
	kit := fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": good}, fixtures.KitOptions{Version: 1})
	mustImport(t, s, kit, ImportOptions{Root: c.Root()})
	sha := sha256Hex(good)
	// The blob is damaged on disk and its record index lost.
	if err := os.WriteFile(s.blobPath(sha), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.update(context.Background(), func(tx *bolt.Tx) error { return tx.Bucket(bucketRecordIndex).DeleteBucket([]byte(sha)) })
	if err != nil {
		t.Fatal(err)
	}
	// A kit whose entry holds the damaged bytes under the good digest.
	if _, err := s.Import(context.Background(), bytes.NewReader(replaceContent(t, kit, good, bad)), ImportOptions{At: at}); err == nil {
		t.Fatal("a tampered kit imported")
	}
	// The kit as signed replaces the blob and indexes the right bytes.
	mustImport(t, s, kit, ImportOptions{})
	if got := lookup(t, s, "CVE-1"); !slices.Equal(got, []string{"GO-1@feeds/db"}) {
		t.Errorf("CVE-1 -> %v", got)
	}
	if got := lookup(t, s, "CVE-2"); len(got) != 0 {
		t.Errorf("CVE-2 -> %v: the index of the damaged bytes was kept", got)
	}
	checkHealthy(t, s)
}

// entryList returns the entries of es as "key=value" strings.
func entryList(es entries) []string {
	var out []string
	for i := range es.Len() {
		k, v := es.At(i)
		out = append(out, fmt.Sprintf("%q=%q", k, v))
	}
	return out
}

// The records of an osv.jsonl parsed from its bytes as they are staged,
// in writes of any size, give the entries (or the error) of the file
// read in one pass.
func TestRecordParseMatchesTheFile(t *testing.T) {
	good := jsonl(
		osvLine("GO-1", []string{"CVE-1", "GHSA-1"}, "Go/a", "PyPI/Some_Name"),
		"",
		osvLine("GO-2", nil, "Go/b"),
		`{"id":"GO-3","modified":"2026-01-01T00:00:00Z","withdrawn":"2026-01-02T00:00:00Z"}`,
		"  "+osvLine("GO-1", []string{"CVE-9"}, "Go/c")+"\r",
	)
	bad := append(jsonl(osvLine("GO-1", nil, "Go/a")), []byte("{\"id\":\n")...)
	for _, tc := range []struct {
		name string
		data []byte
	}{{"records", good}, {"malformed line 2", bad}, {"empty", nil}} {
		want, wantErr := recordEntries(context.Background(), bytes.NewReader(tc.data), int64(len(tc.data)))
		if (wantErr != nil) != strings.HasPrefix(tc.name, "malformed") {
			t.Fatalf("%s: %v", tc.name, wantErr)
		}
		for _, size := range []int{1, 7, 100, parseBufferSize + 1} {
			t.Run(fmt.Sprint(tc.name, "/", size), func(t *testing.T) {
				p := startRecordParse(context.Background(), verifyTarget(int64(len(tc.data))))
				for rest := tc.data; len(rest) > 0; {
					n := min(size, len(rest))
					if m, err := p.Write(rest[:n]); m != n || err != nil {
						t.Fatalf("write: %d, %v", m, err)
					}
					rest = rest[n:]
				}
				p.close()
				got, err := p.result()
				if fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Fatalf("error %v, want %v", err, wantErr)
				}
				if err == nil {
					if d := diff(entryList(want), entryList(got)); d != "" {
						t.Error(d)
					}
				}
			})
		}
	}
}

func verifyTarget(length int64) verify.Target {
	return verify.Target{Path: "advisories/db/osv.jsonl", Length: length, Type: "advisories"}
}

// Only an advisories file staged into a new staging file, of one part, is
// parsed as it streams; one larger is read back from its staging file,
// and bytes equal to a stored blob are no staging file and index nothing
// early. Either way the record index is the file's.
func TestRecordsParsedWhileStaged(t *testing.T) {
	defer func(n int64) { recordPartSize = n }(recordPartSize)
	small := jsonl(osvLine("GO-1", []string{"CVE-1"}, "Go/a"))
	big := jsonl(osvLine("GO-2", []string{"CVE-2"}, "Go/a"), osvLine("GO-3", []string{"CVE-3"}, "Go/b"))
	stored := jsonl(osvLine("GO-4", []string{"CVE-4"}, "Go/a"))
	recordPartSize = int64(len(big) - 1)

	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "store"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.create(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.blobPath(sha256Hex(stored)), stored, 0o644); err != nil {
		t.Fatal(err)
	}
	st := newStager(s, nil)
	defer st.cleanup()
	e := s.indexEarly(ctx, st)
	parsed := map[string]bool{}
	built := st.onStaged
	st.onStaged = func(t verify.Target, path string, p *recordParse) {
		parsed[t.Path] = p != nil
		built(t, path, p)
	}
	for src, data := range map[string][]byte{"small": small, "big": big, "stored": stored} {
		tg := verify.Target{Path: "advisories/" + src + "/osv.jsonl", Length: int64(len(data)), SHA256: sha256Hex(data), Type: "advisories"}
		if err := st.stage(tg, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.wait(); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"advisories/small/osv.jsonl": true, "advisories/big/osv.jsonl": false}
	if d := diff(want, parsed); d != "" {
		t.Error(d)
	}
	if d := diff(map[string]bool{sha256Hex(small): true, sha256Hex(big): true}, recordIndexes(t, s)); d != "" {
		t.Error(d)
	}
	// The parsed index is the one read from the file.
	err = s.view(ctx, func(tx *bolt.Tx) error {
		b, err := recordIndex(tx, sha256Hex(small))
		if err != nil {
			return err
		}
		var got []string
		b.ForEach(func(k, v []byte) error {
			if !bytes.Equal(k, keyComplete) {
				got = append(got, fmt.Sprintf("%q=%q", k, v))
			}
			return nil
		})
		want, err := recordEntries(ctx, bytes.NewReader(small), int64(len(small)))
		if err != nil {
			return err
		}
		if d := diff(entryList(want), got); d != "" {
			t.Error(d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
