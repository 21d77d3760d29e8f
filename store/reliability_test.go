package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// fullDisk is a staging file on a disk with room for only left more bytes.
type fullDisk struct {
	*os.File
	left *int64
}

func (f fullDisk) Write(p []byte) (int, error) {
	if int64(len(p)) > *f.left {
		n, _ := f.File.Write(p[:*f.left])
		*f.left = 0
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	*f.left -= int64(len(p))
	return f.File.Write(p)
}

func TestDiskFullWhileStaging(t *testing.T) {
	left := int64(100 << 10)
	err := failStaging(t, func(f *os.File) tempFile { return fullDisk{f, &left} })
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("got %v, want a clear ENOSPC error", err)
	}
}

// failStaging imports version 1 of a kit, then version 2 (with a 1.2 MB
// layer) through staging files that wrap makes, and checks that the second
// import changed nothing; it returns that import's error.
func failStaging(t *testing.T, wrap func(*os.File) tempFile) error {
	t.Helper()
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	before := snapshotDir(t, s.Dir())

	files := kitFiles(2)
	files["images/blobs/sha256/big"] = bytes.Repeat([]byte("layer "), 200<<10)
	s.createTemp = func(dir string) (tempFile, error) {
		f, err := os.CreateTemp(dir, "stage-*")
		return wrap(f), err
	}
	_, err := s.Import(context.Background(), bytes.NewReader(fixtures.Kit(c, files, fixtures.KitOptions{Version: 2})), ImportOptions{At: at})
	if err == nil {
		t.Fatal("the import went through")
	}
	if d := diff(before, snapshotDir(t, s.Dir())); d != "" {
		t.Errorf("a failed staging changed the store:\n%s", d)
	}
	if v := activeVersion(t, s, "acme"); v != 1 {
		t.Errorf("version %d, want 1", v)
	}
	return err
}

// failingSync is a staging file whose sync fails once more than 100 KiB
// were written to it (a disk that loses a write).
type failingSync struct {
	*os.File
	n int64
}

func (f *failingSync) Write(p []byte) (int, error) {
	f.n += int64(len(p))
	return f.File.Write(p)
}

func (f *failingSync) Sync() error {
	if f.n > 100<<10 {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Sync()
}

// Staging files are synced beside the stream: a sync that fails still
// fails the import, and changes nothing.
func TestSyncFailureWhileStaging(t *testing.T) {
	err := failStaging(t, func(f *os.File) tempFile { return &failingSync{File: f} })
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("got %v, want the sync's EIO", err)
	}
}

// slowSync is a staging file whose sync waits until next is closed.
type slowSync struct {
	*os.File
	next <-chan struct{}
	late *atomic.Bool
}

func (f slowSync) Sync() error {
	select {
	case <-f.next:
	case <-time.After(5 * time.Second):
		f.late.Store(true)
	}
	return f.File.Sync()
}

// The stream does not wait for the disk: the next entry is staged while
// the one before is synced.
func TestStagingGoesOnWhileFilesSync(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	var late atomic.Bool
	second := make(chan struct{})
	created := 0
	s.createTemp = func(dir string) (tempFile, error) {
		f, err := os.CreateTemp(dir, "stage-*")
		created++
		switch created {
		case 1: // its sync waits for the second file
			return slowSync{File: f, next: second, late: &late}, err
		case 2:
			close(second)
		}
		return f, err
	}
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	if created < 2 {
		t.Fatalf("%d staging files: the test needs two", created)
	}
	if late.Load() {
		t.Error("the stream waited for a staging file's sync before it staged the next entry")
	}
	checkHealthy(t, s)
}

func TestConcurrentImports(t *testing.T) {
	c := fixtures.NewChannel("acme")
	kits := [][]byte{}
	for v := 1; v <= 4; v++ {
		kits = append(kits, fixtures.Kit(c, kitFiles(v), fixtures.KitOptions{Version: int64(v)}))
	}

	t.Run("second importer gives up with a clear message", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "store")
		s := openStore(t, dir, Options{LockTimeout: 200 * time.Millisecond})
		mustImport(t, s, kits[0], ImportOptions{Root: c.Root()})
		held, err := lockStore(context.Background(), dir, time.Second, "ferry import acme-9.kit.tar.zst by alice, pid 4242")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Import(context.Background(), bytes.NewReader(kits[1]), ImportOptions{At: at})
		held.unlock()
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid 4242") {
			t.Fatalf("got %v, want ErrLocked naming the holder", err)
		}
		if _, err := s.GC(context.Background()); err != nil {
			t.Errorf("gc after the lock was released: %v", err)
		}
	})

	t.Run("importers wait for each other", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "store")
		s := openStore(t, dir, Options{LockTimeout: 30 * time.Second})
		mustImport(t, s, kits[0], ImportOptions{Root: c.Root()})
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range 3 {
			wg.Go(func() {
				// Each importer its own Store, as separate processes would be.
				s2, err := Open(context.Background(), dir, Options{LockTimeout: 30 * time.Second})
				if err == nil {
					_, err = s2.Import(context.Background(), bytes.NewReader(kits[i+1]), ImportOptions{At: at})
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			// Whichever order they ran in, a kit is either activated or
			// refused as older than one that ran before it.
			if err != nil && bundle.CodeOf(err) != bundle.CodeRollback {
				t.Errorf("importer %d: %v", i, err)
			}
		}
		log, _ := s.Log(context.Background())
		last := log[len(log)-1]
		if v := activeVersion(t, s, "acme"); v != last.Version {
			t.Errorf("active version %d, last receipt %d", v, last.Version)
		}
	})
}

// TestReadersDuringImport runs readers in a loop while kits are imported:
// every read must show one kit's state whole, its version and its file
// counts together.
func TestReadersDuringImport(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	n := 6
	wantFiles := map[int64]string{}
	var kits [][]byte
	for v := 1; v <= n; v++ {
		files := kitFiles(v)
		// Each version has a different number of files and bytes.
		for i := range v * 3 {
			files[fmt.Sprintf("images/blobs/sha256/v%d-%03d", v, i)] = bytes.Repeat([]byte{byte(v), byte(i)}, 16<<10)
		}
		kits = append(kits, fixtures.Kit(c, files, fixtures.KitOptions{Version: int64(v)}))
		wantFiles[int64(v)] = fmt.Sprint(len(files))
	}
	mustImport(t, s, kits[0], ImportOptions{Root: c.Root()})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	reads := 0
	seen := map[int64]bool{}
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				in, err := s.Info(context.Background(), at)
				if err != nil {
					t.Errorf("info during import: %v", err)
					return
				}
				ch := in.Channels[0]
				total := 0
				for _, ty := range ch.Types {
					total += ty.Files
				}
				if got := fmt.Sprint(total); got != wantFiles[ch.Version] {
					t.Errorf("mixed state: version %d with %s files, want %s", ch.Version, got, wantFiles[ch.Version])
				}
				mu.Lock()
				reads++
				seen[ch.Version] = true
				mu.Unlock()
			}
		})
	}
	// Each import waits until a reader has seen the one before, so that
	// readers starved on a loaded machine still see every version.
	waitSeen := func(v int64) {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			ok := seen[v]
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				cancel()
				wg.Wait()
				t.Fatalf("no reader saw version %d in 30s", v)
			}
		}
	}
	for i, k := range kits[1:] {
		waitSeen(int64(i + 1))
		mustImport(t, s, k, ImportOptions{})
	}
	waitSeen(int64(n))
	cancel()
	wg.Wait()
	if reads < n || len(seen) < 2 {
		t.Errorf("readers did too little to mean anything: %d reads, versions seen %v", reads, seen)
	}
}
