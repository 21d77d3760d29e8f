package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/atomicfile"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DefaultLockTimeout is how long an import waits for another import, and a
// read for a commit, when Options.LockTimeout is zero.
const DefaultLockTimeout = 10 * time.Second

// Options configures a Store. The zero value means the defaults.
type Options struct {
	// LockTimeout is how long to wait for another import or gc (and, for a
	// read, for a commit) before failing with ErrLocked or ErrBusy.
	LockTimeout time.Duration
	// Indexers run on every import, one per content type; nil means
	// DefaultIndexers().
	Indexers []Indexer
	// Holder describes this process in the lock file while it imports, for
	// the message another importer gets ("ferry import, pid 42").
	Holder string
	// Logger receives progress; discard when nil.
	Logger *slog.Logger
	// ReadOnly opens the store for reading only: Open never migrates (a
	// store of an older schema is refused with a *SchemaError matching
	// ErrOlderSchema, which says how to upgrade it), the database is opened
	// with bbolt's read-only mode, and Import and GC return ErrReadOnly.
	ReadOnly bool
}

// Store is an offline store in a directory. It holds no open file between
// calls, so a Store is cheap and safe for concurrent use; concurrent
// imports serialise on the store's lock.
type Store struct {
	dir      string
	opts     Options
	indexers []Indexer
	log      *slog.Logger
	// pins, when set, are the kits the reads see (AtVersions).
	pins map[string]Pin

	// createTemp creates a staging file; tests replace it to inject
	// failures such as a full disk.
	createTemp func(dir string) (tempFile, error)
}

// tempFile is a staging file.
type tempFile interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// Paths inside a store directory.
const (
	dbName   = "ferry.db"
	blobsDir = "blobs/sha256"
	tmpDir   = "tmp"
	lockName = "lock"
	// pendingName exists while a writer waits for or holds the database:
	// new readers hold back so that a stream of readers cannot starve the
	// commit (flock does not queue a waiting exclusive lock).
	pendingName = "commit.pending"
)

func dbPath(dir string) string   { return filepath.Join(dir, dbName) }
func lockPath(dir string) string { return filepath.Join(dir, lockName) }

// Open returns the store in dir. The directory need not hold a store yet:
// the first Import creates it, and reads before that fail with ErrNoStore.
// When dir holds a store of an older schema, Open migrates it (under the
// import lock), unless opts.ReadOnly: then it refuses it with a
// *SchemaError matching ErrOlderSchema. A store of a newer schema is
// refused with a *SchemaError matching ErrNewerSchema, and left unchanged.
// A damaged ferry.db is refused with a *DamagedError (ErrDamaged).
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	s, err := prepare(dir, opts)
	if err != nil {
		return nil, err
	}
	if !s.exists() {
		return s, nil
	}
	v, err := s.schemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case v > SchemaVersion:
		return nil, &SchemaError{Dir: dir, Found: v, Want: SchemaVersion}
	case v < SchemaVersion && s.opts.ReadOnly:
		return nil, &SchemaError{Dir: dir, Found: v, Want: SchemaVersion, ReadOnly: true}
	case v < SchemaVersion:
		if err := s.migrate(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// prepare applies the defaults of opts; it reads nothing.
func prepare(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("no store directory given")
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Indexers == nil {
		opts.Indexers = DefaultIndexers()
	}
	seen := map[string]bool{}
	for _, ix := range opts.Indexers {
		if seen[ix.Name()] {
			return nil, fmt.Errorf("two indexers named %q", ix.Name())
		}
		seen[ix.Name()] = true
	}
	if opts.Holder == "" {
		opts.Holder = "pid " + strconv.Itoa(os.Getpid())
	}
	s := &Store{dir: dir, opts: opts, indexers: opts.Indexers, log: opts.Logger, createTemp: osCreateTemp}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// ReadOnly reports whether the store was opened with Options.ReadOnly.
func (s *Store) ReadOnly() bool { return s.opts.ReadOnly }

func (s *Store) exists() bool {
	_, err := os.Stat(dbPath(s.dir))
	return err == nil
}

func osCreateTemp(dir string) (tempFile, error) { return os.CreateTemp(dir, "stage-*") }

// openDB opens ferry.db, read-only (shared lock) or writable (exclusive
// lock), waiting up to the lock timeout. A reader first waits while a
// writer announced a commit. The file is checked before bbolt maps it
// (checkFile), and bbolt's own open runs guarded: a damaged file gives a
// *DamagedError, never a panic.
func (s *Store) openDB(readOnly bool) (*bolt.DB, error) {
	return s.openDBWith(readOnly, false)
}

// openDBWith is openDB; preloadFreelist reads the freelist during the
// open, where a damaged one is caught, instead of on first use.
func (s *Store) openDBWith(readOnly, preloadFreelist bool) (*bolt.DB, error) {
	if !s.exists() {
		return nil, fmt.Errorf("%s: %w (%s is missing): import a kit first", s.dir, ErrNoStore, dbName)
	}
	if readOnly {
		if err := s.waitForCommit(); err != nil {
			return nil, err
		}
	}
	if _, err := checkFile(dbPath(s.dir)); err != nil {
		var fe *fileError
		if errors.As(err, &fe) {
			return nil, &DamagedError{Dir: s.dir, Detail: fe.Error()}
		}
		return nil, fmt.Errorf("opening %s: %w", dbPath(s.dir), err)
	}
	// bbolt does not close its file when it panics during Open; keep it
	// to release the file and its lock.
	var file *os.File
	var db *bolt.DB
	err := s.guarded(dbName, func() error {
		var err error
		db, err = bolt.Open(dbPath(s.dir), 0o644, &bolt.Options{
			ReadOnly:        readOnly,
			Timeout:         s.opts.LockTimeout,
			FreelistType:    bolt.FreelistMapType,
			PreLoadFreelist: preloadFreelist,
			// Map address space for a large index up front: a commit
			// that grows the file past the mapping remaps it, copying
			// every node of the transaction out of the old mapping.
			InitialMmapSize: initialMmapSize,
			OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
				f, err := os.OpenFile(name, flag, perm)
				file = f
				return f, err
			},
		})
		return err
	})
	var dmg *DamagedError
	switch {
	case errors.As(err, &dmg):
		if file != nil {
			file.Close()
		}
		return nil, err
	case errors.Is(err, bolt.ErrTimeout):
		if readOnly {
			return nil, fmt.Errorf("%s: %w: a commit held the database for more than %s", s.dir, ErrBusy, s.opts.LockTimeout)
		}
		return nil, fmt.Errorf("%s: %w: the database stayed locked for %s", s.dir, ErrLocked, s.opts.LockTimeout)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
		return nil, &DamagedError{Dir: s.dir, Detail: fmt.Sprintf("%s: %v", dbName, err)}
	case err != nil:
		return nil, fmt.Errorf("opening %s: %w", dbPath(s.dir), err)
	}
	return db, nil
}

// guarded runs fn, which reads ferry.db through bbolt, and turns a memory
// fault or a panic of bbolt into a *DamagedError. bbolt trusts the pages
// it maps: on a corrupt page it panics ("assertion failed", an index out
// of range) or reads outside the mapping, which is a fault that would kill
// the process. SetPanicOnFault makes such a fault a panic of this
// goroutine, which recover catches. bbolt's writes and the callbacks of a
// transaction run in the calling goroutine, so they are covered; Tx.Check
// runs its walk in a goroutine of its own, which is why Check walks every
// page itself first.
//
// Any other panic (a bug in fn or in a caller's callback, a nil pointer)
// is not damage and is not hidden as damage: it propagates (isDamage).
func (s *Store) guarded(what string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if !isDamage(r) {
			panic(r)
		}
		err = &DamagedError{Dir: s.dir, Detail: fmt.Sprintf("%s: reading it failed: %v", what, r)}
	}()
	return fn()
}

// boltPackage is the import path of bbolt; its sub-packages share it as a
// prefix.
const boltPackage = "go.etcd.io/bbolt"

// isDamage reports whether the panic r, being recovered by a deferred
// function of guarded, comes from a damaged ferry.db: a memory fault
// (SetPanicOnFault gives a runtime.Error with an Addr method, which no
// other panic has), or a panic raised inside bbolt's own code. It must be
// called from the deferred function itself, while the panicking frames
// are still on the stack.
func isDamage(r any) bool {
	if _, ok := r.(interface{ Addr() uintptr }); ok {
		return true
	}
	return panickedIn(boltPackage)
}

// panickedIn reports whether the function that raised the panic now
// being recovered belongs to package pkg (or one under it): the first
// frame below runtime.gopanic that is not the runtime's own (panicIndex,
// sigpanic and the like).
func panickedIn(pkg string) bool {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(1, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	inPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			inPanic = true
		case inPanic && !strings.HasPrefix(f.Function, "runtime."):
			return f.Function == pkg || strings.HasPrefix(f.Function, pkg+".") || strings.HasPrefix(f.Function, pkg+"/")
		}
		if !more {
			return false
		}
	}
}

// view runs fn in one read transaction of a store of the current schema.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db, err := s.openDB(true)
	if err != nil {
		return err
	}
	defer db.Close()
	return s.guarded(dbName, func() error {
		return db.View(func(tx *bolt.Tx) error {
			if err := s.checkSchema(tx); err != nil {
				return err
			}
			return fn(tx)
		})
	})
}

// update runs fn in one write transaction of a store of the current
// schema. The caller holds the import lock.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		if err := s.checkSchema(tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// write runs fn in one write transaction, announcing the commit to
// readers. The caller holds the import lock. A panic or fault inside the
// transaction rolls it back (bbolt's Update does on a panic); a fault or
// a panic of bbolt comes back as a *DamagedError, any other panic
// propagates (guarded).
// initialMmapSize is address space, not memory or disk: 1 GiB where
// pointers are 64 bits wide.
const initialMmapSize = 1 << 30 * (strconv.IntSize / 64)

func (s *Store) write(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.opts.ReadOnly {
		return fmt.Errorf("%s: %w", s.dir, ErrReadOnly)
	}
	pending := filepath.Join(s.dir, pendingName)
	if err := os.WriteFile(pending, nil, 0o644); err != nil {
		return err
	}
	defer os.Remove(pending)
	db, err := s.openDB(false)
	if err != nil {
		return err
	}
	err = s.guarded(dbName, func() error { return db.Update(fn) })
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", dbPath(s.dir), cerr)
	}
	return err
}

// waitForCommit waits while a live writer announced a commit. A marker
// left by a killed writer is ignored: its import lock is free.
func (s *Store) waitForCommit() error {
	timeout := time.NewTimer(s.opts.LockTimeout)
	defer timeout.Stop()
	for {
		if _, err := os.Stat(filepath.Join(s.dir, pendingName)); err != nil || !importLocked(s.dir) {
			return nil
		}
		select {
		case <-timeout.C:
			return fmt.Errorf("%s: %w: a commit took more than %s", s.dir, ErrBusy, s.opts.LockTimeout)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// lock takes the import lock.
func (s *Store) lock(ctx context.Context) (*importLock, error) {
	return lockStore(ctx, s.dir, s.opts.LockTimeout, s.opts.Holder)
}

// create makes the directory layout and an empty database of the current
// schema. The database is built under a temporary name and renamed into
// place, so a reader never sees a half-initialised file. The caller holds
// the import lock.
func (s *Store) create() error {
	for _, d := range []string{s.dir, filepath.Join(s.dir, blobsDir), filepath.Join(s.dir, tmpDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if s.exists() {
		return nil
	}
	tmp := filepath.Join(s.dir, tmpDir, dbName+".init")
	os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: s.opts.LockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("creating the store database: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return initSchema(tx) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dbPath(s.dir))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("creating the store database: %w", err)
	}
	return atomicfile.SyncDir(s.dir)
}
