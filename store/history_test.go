package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"regexp"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
	bolt "go.etcd.io/bbolt"
)

// infoAt reads the store's info through a view at the given pins.
func infoAt(t *testing.T, s *Store, pins map[string]Pin) (*Info, error) {
	t.Helper()
	return s.AtVersions(pins).Info(context.Background(), at)
}

func TestHistoryKeepsReplacedKits(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	r1 := mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	r2 := mustImport(t, s, fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2}), ImportOptions{})
	v1 := Pin{Version: 1, TargetsSHA256: r1.Report.TargetsSHA256}
	v2 := Pin{Version: 2, TargetsSHA256: r2.Report.TargetsSHA256}

	// The active view is version 2.
	in, err := s.Info(context.Background(), at)
	if err != nil || len(in.Channels) != 1 || in.Channels[0].Version != 2 {
		t.Fatalf("active: %+v %v", in, err)
	}
	// At version 1 the reads see version 1's state, files and indexes.
	in, err = infoAt(t, s, map[string]Pin{"acme": v1})
	if err != nil {
		t.Fatal(err)
	}
	if ch := in.Channels[0]; ch.Version != 1 || ch.TargetsSHA256 != v1.TargetsSHA256 {
		t.Errorf("at v1: %+v", ch)
	}
	view1 := s.AtVersions(map[string]Pin{"acme": v1})
	err = view1.View(context.Background(), func(r *Reader) error {
		tf, err := r.TrustFiles()
		if err != nil {
			return err
		}
		// Version 2 dropped trust/keys/cosign.pub; version 1 had it.
		if len(tf) != 1 || tf[0].Path != "trust/keys/cosign.pub" {
			t.Errorf("trust files at v1: %+v", tf)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// At version 2 the reads are the active ones.
	a, err := infoAt(t, s, map[string]Pin{"acme": v2})
	if err != nil || a.Channels[0].Version != 2 {
		t.Errorf("at v2: %+v %v", a, err)
	}
	// A view is read-only.
	if _, err := view1.GC(context.Background()); !errors.Is(err, ErrReadOnly) {
		t.Errorf("gc through a view: %v", err)
	}
	// Versions the store does not hold, or other content under a held
	// version, are gone.
	for name, pins := range map[string]map[string]Pin{
		"a version never imported": {"acme": {Version: 7}},
		"another kit as v1":        {"acme": {Version: 1, TargetsSHA256: "00"}},
		"a channel never imported": {"other": {Version: 1}},
	} {
		_, err := infoAt(t, s, pins)
		var gone *VersionGoneError
		if !errors.As(err, &gone) || !errors.Is(err, ErrVersionGone) {
			t.Errorf("%s: %v", name, err)
		}
	}
	hist, err := s.History(context.Background())
	if err != nil || len(hist) != 1 || hist[0] != (HistoricKit{Channel: "acme", Version: 1, TargetsSHA256: v1.TargetsSHA256}) {
		t.Errorf("history %+v %v", hist, err)
	}

	// Version 3 archives version 2; keep 1 drops version 1 only.
	mustImport(t, s, fixtures.Kit(c, kitFiles(3), fixtures.KitOptions{Version: 3}), ImportOptions{})
	gh, err := s.GCHistory(context.Background(), 1)
	if err != nil || len(gh.Dropped) != 1 || gh.Dropped[0].Version != 1 {
		t.Fatalf("gc --keep 1: %+v %v", gh, err)
	}
	if gh.DBBytesAfter <= 0 || gh.DBBytesAfter > gh.DBBytes {
		t.Errorf("ferry.db %d bytes before the rewrite, %d after", gh.DBBytes, gh.DBBytesAfter)
	}
	if _, err := infoAt(t, s, map[string]Pin{"acme": v1}); !errors.Is(err, ErrVersionGone) {
		t.Errorf("v1 after gc --keep 1: %v", err)
	}
	if in, err := infoAt(t, s, map[string]Pin{"acme": v2}); err != nil || in.Channels[0].Version != 2 {
		t.Errorf("v2 after gc --keep 1: %+v %v", in, err)
	}
	// gc keeps the blobs of the kept history and the store checks clean.
	if _, err := s.GC(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check(context.Background())
	if err != nil || len(rep.Problems) != 0 {
		t.Errorf("check after gc: %+v %v", rep, err)
	}
	if _, err := s.GCHistory(context.Background(), -1); err == nil {
		t.Error("keep -1 accepted")
	}
}

// A forced activation of an older version archives the newer one; a
// later import that archives the same version again replaces it.
func TestHistoryForcedActivation(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	r2 := mustImport(t, s, fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2}), ImportOptions{})
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{ForceActivate: true, Reason: "bad v2"})
	in, err := infoAt(t, s, map[string]Pin{"acme": {Version: 2, TargetsSHA256: r2.Report.TargetsSHA256}})
	if err != nil || in.Channels[0].Version != 2 {
		t.Fatalf("v2 after the rollback: %+v %v", in, err)
	}
	mustImport(t, s, fixtures.Kit(c, kitFiles(3), fixtures.KitOptions{Version: 3}), ImportOptions{})
	hist, err := s.History(context.Background())
	if err != nil || len(hist) != 2 || hist[0].Version != 1 || hist[1].Version != 2 {
		t.Errorf("history %+v %v", hist, err)
	}
}

// A store built before schema 4 indexed CSAF products without their
// version ranges; migrating rebuilds the index, so a range product
// carries its range afterwards.
func TestMigrateReindexesCSAFRanges(t *testing.T) {
	csaf, err := os.ReadFile("testdata/vex/csaf_vex__2022-evd-uc-08-001.json")
	if err != nil {
		t.Fatal(err)
	}
	c := fixtures.NewChannel("feeds")
	dir := t.TempDir() + "/store"
	s := openStore(t, dir, Options{})
	mustImport(t, s, fixtures.Kit(c, map[string][]byte{"vex/vendor/" + sha256Hex(csaf) + ".json": csaf}, fixtures.KitOptions{}), ImportOptions{Root: c.Root()})
	ranges := func(s *Store) int {
		n := 0
		view(t, s, func(r *Reader) error {
			sts, err := r.VEXStatements("CVE-2021-44228")
			for _, st := range sts {
				for _, p := range st.Products {
					if p.VersionRange != "" {
						n++
					}
				}
			}
			return err
		})
		return n
	}
	if ranges(s) == 0 {
		t.Fatal("the document's range products carry no range")
	}

	// Make it a schema-3 store as an older ferry wrote it: no history
	// bucket, statements without versionRange.
	db, err := bolt.Open(dbPath(dir), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	strip := regexp.MustCompile(`,?"versionRange":"[^"]*"`)
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketHistory); err != nil {
			return err
		}
		b := tx.Bucket(bucketIndex).Bucket([]byte(vexIndex)).Bucket([]byte("feeds"))
		var keys, vals [][]byte
		b.ForEach(func(k, v []byte) error {
			if nv := strip.ReplaceAll(v, nil); !bytes.Equal(nv, v) {
				keys, vals = append(keys, bytes.Clone(k)), append(vals, nv)
			}
			return nil
		})
		if len(keys) == 0 {
			t.Fatal("no indexed statement holds a versionRange")
		}
		for i := range keys {
			if err := b.Put(keys[i], vals[i]); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("3"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), dir, Options{ReadOnly: true}); !errors.Is(err, ErrOlderSchema) {
		t.Fatalf("read-only open of a schema-3 store: %v", err)
	}
	// Open migrates (ferry store migrate does exactly this).
	s = openStore(t, dir, Options{})
	if v, err := s.schemaVersion(context.Background()); err != nil || v != SchemaVersion {
		t.Fatalf("schema after migrate: %d %v", v, err)
	}
	if n := ranges(s); n == 0 {
		t.Error("after the migration the range products still carry no range")
	}
	// The migrated store keeps history from now on.
	mustImport(t, s, fixtures.Kit(c, map[string][]byte{"docs/a.txt": []byte("a")}, fixtures.KitOptions{Version: 2}), ImportOptions{})
	if h, err := s.History(context.Background()); err != nil || len(h) != 1 {
		t.Errorf("history after the migration: %+v %v", h, err)
	}
}
