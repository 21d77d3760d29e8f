package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
)

// damagedStoreEnv makes the test binary, started by a test, run the damage
// cases itself: a fault that escaped the guard would kill that process,
// not the test run.
const damagedStoreEnv = "FERRY_TEST_DAMAGED_STORE"

// inSubprocess runs the named test in a child test binary and reports its
// failure (or its death by a fault) here. It returns true in the child.
func inSubprocess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(damagedStoreEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), damagedStoreEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in a child process: %v\n%s", t.Name(), err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("%s did not run in the child process:\n%s", t.Name(), out)
	}
	return false
}

// healthyStore imports two versions of a channel into a new store and
// returns its directory.
func healthyStore(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := fixtures.NewChannel("acme")
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	mustImport(t, s, fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2}), ImportOptions{})
	return dir
}

// readAll runs every read the commands make on the store in dir, read-only
// as the commands open it, and returns the first error.
func readAll(dir string) error {
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{ReadOnly: true, LockTimeout: time.Second})
	if err != nil {
		return err
	}
	steps := []func() error{
		func() error { _, err := s.Info(ctx, at); return err },
		func() error { _, err := s.Log(ctx); return err },
		func() error { _, err := s.Inventory(ctx); return err },
		func() error { _, err := s.Query(ctx, Query{Advisory: "GO-2024-0001"}); return err },
		func() error { _, err := s.Query(ctx, Query{Vuln: "CVE-2024-0001"}); return err },
		func() error { _, err := s.Images(ctx); return err },
		func() error {
			tr := s.TrustSource(ctx, nil)
			_, err := tr.TrustFor("acme")
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// damageCase is one way to damage ferry.db.
type damageCase struct {
	name   string
	damage func(t *testing.T, db string)
}

func damageCases(t *testing.T, size int64) []damageCase {
	var cases []damageCase
	for n := int64(4 << 10); n < size && n <= 128<<10; n += 4 << 10 {
		cases = append(cases, damageCase{fmt.Sprintf("truncated to %d", n), func(t *testing.T, db string) {
			if err := os.Truncate(db, n); err != nil {
				t.Fatal(err)
			}
		}})
	}
	for _, n := range []int64{0, 100, 4095, 4097} {
		cases = append(cases, damageCase{fmt.Sprintf("truncated to %d", n), func(t *testing.T, db string) {
			if err := os.Truncate(db, n); err != nil {
				t.Fatal(err)
			}
		}})
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	pages := size / 4096
	for i := range 40 {
		page := rng.Int64N(pages)
		seed := rng.Uint64()
		cases = append(cases, damageCase{fmt.Sprintf("page %d overwritten (%d)", page, i), func(t *testing.T, db string) {
			buf := make([]byte, 4096)
			r := rand.New(rand.NewPCG(seed, 1))
			for j := range buf {
				buf[j] = byte(r.Uint32())
			}
			f, err := os.OpenFile(db, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(buf, page*4096); err != nil {
				t.Fatal(err)
			}
		}})
	}
	return cases
}

// TestDamagedStoreNeverPanics truncates ferry.db at every 4 KiB and
// overwrites seeded random pages, then runs every read the commands make,
// the import, gc and check: each ends with ErrDamaged naming the store and
// ferry store check, or succeeds (the damage was in an unused page), and
// none panics or faults. It runs in a child process.
func TestDamagedStoreNeverPanics(t *testing.T) {
	if !inSubprocess(t) {
		return
	}
	base := healthyStore(t)
	fi, err := os.Stat(dbPath(base))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ferry.db: %d bytes", fi.Size())
	c := fixtures.NewChannel("acme")
	kit3 := fixtures.Kit(c, kitFiles(3), fixtures.KitOptions{Version: 3})
	var damaged, fine int
	for _, tc := range damageCases(t, fi.Size()) {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			copyDir(t, base, dir)
			tc.damage(t, dbPath(dir))
			check := func(what string, err error) {
				t.Helper()
				if err == nil {
					fine++
					return
				}
				damaged++
				if !errors.Is(err, ErrDamaged) {
					t.Errorf("%s: %v, want ErrDamaged", what, err)
					return
				}
				if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "run ferry store check") {
					t.Errorf("%s: %q does not name the store and ferry store check", what, msg)
				}
			}
			check("reads", readAll(dir))
			rep, err := Check(context.Background(), dir, Options{})
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			readErr := readAll(dir)
			if readErr != nil && rep.Healthy {
				t.Errorf("check says healthy, reads fail: %v", readErr)
			}
			s, err := Open(context.Background(), dir, Options{LockTimeout: time.Second})
			if err != nil {
				check("open", err)
				return
			}
			_, err = s.Import(context.Background(), bytes.NewReader(kit3), ImportOptions{At: at})
			check("import", err)
			_, err = s.GC(context.Background())
			check("gc", err)
		})
	}
	t.Logf("%d damaged, %d fine", damaged, fine)
	if damaged == 0 {
		t.Error("no damage was found")
	}
}

func TestCheckHealthyStore(t *testing.T) {
	dir := healthyStore(t)
	before := snapshotDir(t, dir)
	rep, err := Check(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy || len(rep.Problems) != 0 || rep.Blobs == 0 || rep.Database.Pages == 0 || rep.Schema != CheckSchema {
		t.Errorf("check of a healthy store: %+v", rep)
	}
	if d := diff(before, snapshotDir(t, dir)); d != "" {
		t.Errorf("check changed the store:\n%s", d)
	}
}

func TestCheckFindsDamagedBlobsAndStaging(t *testing.T) {
	dir := healthyStore(t)
	s, err := Open(context.Background(), dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := s.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	files := inv.Channels[0].Files
	missing, corrupt := files["docs/version.txt"], files["docs/README.md"]
	if missing == "" || corrupt == "" || missing == corrupt {
		t.Fatalf("test kit files: %v", files)
	}
	if err := os.Remove(s.blobPath(missing)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.blobPath(corrupt))
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 1 // same size, other bytes
	if err := os.WriteFile(s.blobPath(corrupt), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tmpDir, "stage-123"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range rep.Problems {
		got[p.Kind] = p.Digest + p.Path
	}
	want := map[string]string{
		ProblemBlobMissing: missing + "docs/version.txt",
		ProblemBlobCorrupt: corrupt + "docs/README.md",
		ProblemStaging:     "tmp/stage-123",
	}
	if d := diff(want, got); d != "" || rep.Healthy {
		t.Errorf("problems (healthy %v):\n%s", rep.Healthy, d)
	}
	if err := rep.Err(); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), corrupt) {
		t.Errorf("Err: %v", err)
	}
}

// TestReadOnlyOpenNeverWrites: a read-only Open of an older store refuses
// it with ErrOlderSchema and how to upgrade, and changes no byte; reads
// and writes through a read-only Store change nothing either.
func TestReadOnlyOpenNeverWrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	copyDir(t, schema1Dir, dir)
	before := snapshotDir(t, dir)
	_, err := Open(context.Background(), dir, Options{ReadOnly: true})
	var se *SchemaError
	if !errors.Is(err, ErrOlderSchema) || !errors.As(err, &se) || se.Found != 1 || !strings.Contains(err.Error(), "ferry store migrate") {
		t.Fatalf("read-only open of a schema 1 store: %v", err)
	}
	if _, err := Check(context.Background(), dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if d := diff(before, snapshotDir(t, dir)); d != "" {
		t.Errorf("a read-only open changed the store:\n%s", d)
	}

	cur := healthyStore(t)
	s, err := Open(context.Background(), cur, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	before = snapshotDir(t, cur)
	if err := readAll(cur); err != nil {
		t.Fatal(err)
	}
	c := fixtures.NewChannel("acme")
	if _, err := s.Import(context.Background(), bytes.NewReader(fixtures.Kit(c, kitFiles(3), fixtures.KitOptions{Version: 3})), ImportOptions{At: at}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("import through a read-only store: %v", err)
	}
	if _, err := s.GC(context.Background()); !errors.Is(err, ErrReadOnly) {
		t.Errorf("gc through a read-only store: %v", err)
	}
	if d := diff(before, snapshotDir(t, cur)); d != "" {
		t.Errorf("read-only use changed the store:\n%s", d)
	}
}

// endless is an input that never ends.
type endless struct{ b byte }

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	return len(p), nil
}

// TestImportEndlessInputStops: an input that is not a kit, or a kit
// followed by endless bytes, is refused promptly and leaves no store.
func TestImportEndlessInputStops(t *testing.T) {
	c := fixtures.NewChannel("acme")
	kit := fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1})
	for name, r := range map[string]func() io.Reader{
		"zeros":         func() io.Reader { return endless{0} },
		"not a kit":     func() io.Reader { return io.LimitReader(endless{0x5a}, 1<<40) },
		"kit then more": func() io.Reader { return io.MultiReader(bytes.NewReader(kit), endless{0}) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			s, err := Open(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := s.Import(context.Background(), r(), ImportOptions{At: at, Root: c.Root()})
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("an endless input was imported")
				}
				t.Log(err)
			case <-time.After(20 * time.Second):
				t.Fatal("the import is still reading an endless input")
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed first import left %s behind (%v)", dir, listDir(t, dir))
			}
		})
	}
}

// slowReader gives a kit a few bytes at a time, slowly, and says when it
// was first read.
type slowReader struct {
	r       io.Reader
	started chan struct{}
	once    bool
}

func (s *slowReader) Read(p []byte) (int, error) {
	if !s.once {
		s.once = true
		close(s.started)
	}
	time.Sleep(time.Millisecond)
	return s.r.Read(p[:min(len(p), 64)])
}

// TestImportCancelled: cancelling the context mid-import returns within a
// second, leaves the previous state, and a second import takes the lock.
func TestImportCancelled(t *testing.T) {
	c := fixtures.NewChannel("acme")
	dir := filepath.Join(t.TempDir(), "store")
	s := openStore(t, dir, Options{LockTimeout: time.Second})
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	files := kitFiles(2)
	for p, b := range randomFiles(3, 4, 256<<10) {
		files[p] = b
	}
	kit2 := fixtures.Kit(c, files, fixtures.KitOptions{Version: 2})

	ctx, cancel := context.WithCancel(context.Background())
	sr := &slowReader{r: bytes.NewReader(kit2), started: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := s.Import(ctx, sr, ImportOptions{At: at})
		done <- err
	}()
	<-sr.started
	time.Sleep(50 * time.Millisecond)
	cancel()
	t0 := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled import: %v, want context.Canceled", err)
		}
		if d := time.Since(t0); d > time.Second {
			t.Errorf("the import took %s to stop", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cancelled import did not return")
	}
	if v := activeVersion(t, s, "acme"); v != 1 {
		t.Errorf("after a cancelled import: version %d, want 1", v)
	}
	mustImport(t, s, kit2, ImportOptions{})
	if v := activeVersion(t, s, "acme"); v != 2 {
		t.Errorf("after the second import: version %d, want 2", v)
	}
}

// TestImportStopsAtFirstBadEntry: an import reads no further than the
// first content entry whose digest is wrong.
func TestImportStopsAtFirstBadEntry(t *testing.T) {
	c := fixtures.NewChannel("acme")
	files := kitFiles(1)
	for p, b := range randomFiles(4, 8, 256<<10) {
		files[p] = b
	}
	kit := fixtures.Kit(c, files, fixtures.KitOptions{Version: 1})
	// Tamper with the first content file in the kit (kit.json? no: the
	// first in bytewise order), keeping its size.
	bad := tamperContent(t, kit, files["advisories/demo/osv.jsonl"])
	s := newStore(t)
	cr := &countingReader{r: bytes.NewReader(bad)}
	res, err := s.Import(context.Background(), cr, ImportOptions{At: at, Root: c.Root()})
	if err == nil || res == nil || res.Report == nil || res.Report.OK {
		t.Fatalf("import of a tampered kit: %v", err)
	}
	if got := res.Report.Codes(); len(got) != 1 || got[0] != "KIT_DIGEST_MISMATCH" {
		t.Errorf("codes %v", got)
	}
	if cr.n > int64(len(bad))/2 {
		t.Errorf("read %d of %d bytes after the first bad entry", cr.n, len(bad))
	}
	if _, err := os.Stat(s.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed first import left the store directory: %v", listDir(t, s.Dir()))
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestFailedFirstImportLeavesNothing: a directory that held no store holds
// nothing new after a first import that failed; one that did not exist
// does not exist.
func TestFailedFirstImportLeavesNothing(t *testing.T) {
	c := fixtures.NewChannel("acme")
	expired := fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1})
	later := at.Add(365 * 24 * time.Hour)
	for _, exists := range []bool{false, true} {
		t.Run(fmt.Sprintf("dir exists %v", exists), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			if exists {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "README"), []byte("mine\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Import(context.Background(), bytes.NewReader(expired), ImportOptions{At: later, Root: c.Root()}); err == nil {
				t.Fatal("an expired kit was imported")
			}
			if !exists {
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("left %v", listDir(t, dir))
				}
				return
			}
			if got := listDir(t, dir); len(got) != 1 || got[0] != "README" {
				t.Errorf("left %v in a directory that held only README", got)
			}
		})
	}
}

// TestCallerPanicIsNotDamage panics inside a View callback of a healthy
// store: the panic is the caller's bug, so it reaches the caller as it
// was raised, and View never reports it as a damaged store.
func TestCallerPanicIsNotDamage(t *testing.T) {
	dir := healthyStore(t)
	s, err := Open(context.Background(), dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	type bug struct{ n int }
	for _, tc := range []struct {
		name  string
		fn    func(r *Reader) error
		check func(t *testing.T, got any)
	}{
		{"value", func(r *Reader) error { panic(bug{42}) }, func(t *testing.T, got any) {
			if got != (bug{42}) {
				t.Errorf("recovered %v, want the callback's own panic value", got)
			}
		}},
		{"nil pointer", func(r *Reader) error {
			var p *bug
			return fmt.Errorf("%d", p.n)
		}, func(t *testing.T, got any) {
			if _, ok := got.(interface{ Addr() uintptr }); ok {
				t.Errorf("recovered %v, a fault, want a nil dereference", got)
			}
		}},
		{"index", func(r *Reader) error {
			var s []int
			i := 3
			return fmt.Errorf("%d", s[i])
		}, func(t *testing.T, got any) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			got := func() (got any) {
				defer func() { got = recover() }()
				err = s.View(context.Background(), tc.fn)
				return nil
			}()
			if got == nil {
				t.Fatalf("View returned %v, want the callback's panic to propagate", err)
			}
			tc.check(t, got)
		})
	}
	// The store is still readable after the panics.
	if err := readAll(dir); err != nil {
		t.Fatal(err)
	}
}
