package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
)

// blobPath is where the blob with hex sha256 digest lives.
func (s *Store) blobPath(hexDigest string) string {
	return filepath.Join(s.dir, blobsDir, hexDigest)
}

// BlobPath returns the path of the blob with the given hex sha256 digest.
// The blob is there, with verified content, as long as a channel's active
// kit references it; open it and read it, never write it. (An advisories
// osv.jsonl a delta patched may be a layered file, which has no blob of
// its own: its records are read through View.)
func (s *Store) BlobPath(hexDigest string) (string, error) {
	if !isHexDigest(hexDigest) {
		return "", fmt.Errorf("%q is not a hex sha256 digest", hexDigest)
	}
	return s.blobPath(hexDigest), nil
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && s == string(bytes.ToLower([]byte(s)))
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// targetOf rebuilds a verified target from the file map.
func targetOf(path string, f fileRec) verify.Target {
	return verify.Target{Path: path, Length: f.Length, SHA256: f.SHA256, Type: bundle.ContentType(path), Custom: f.Custom}
}

// stager receives a kit's content entries while they are verified and
// stages them in DIR/tmp. Nothing it writes is placed before Place, which
// the import calls only for a kit that verified.
type stager struct {
	s      *Store
	bufA   []byte
	bufB   []byte
	staged map[string]*stagedBlob // by hex sha256
	// expanded are the headers of the patches expand applied, by the
	// path of the file each made.
	expanded map[string]*bundle.PatchHeader
	// layers are the layered files expand made (store/layer.go), keep the
	// staged patches they read: placed though no target names them.
	layers []*pendingLayer
	keep   map[string]bool
	delta  bool // delta.json was staged: delta/ entries are patches
	// ctx is the import's: a layer's hash stops with it.
	ctx   context.Context
	bytes int64         // bytes written to staging files
	clock Clock         // nil: no timing
	spent time.Duration // time spent writing and syncing
	// lastSum is the hex sha256 of the last staging file written.
	lastSum string
	// onStaged, if set, is told of every staging file written whose
	// sha256 is the target's, while verification goes on, with the parse
	// that read its bytes as they were written (nil if none did).
	onStaged func(t verify.Target, path string, p *recordParse)
	// parse, if set, returns for a target whose bytes go to a new staging
	// file a parse that reads them as they are written, or nil.
	parse func(t verify.Target) *recordParse
	// syncs takes the staging files written, still open, to the
	// goroutine that syncs and closes them (syncer), so that the kit's
	// stream goes on while the disk flushes; place waits for it.
	syncs   chan tempFile
	synced  chan struct{}         // closed when the syncer is done
	syncErr atomic.Pointer[error] // the syncer's first error
}

// syncQueue is how many written staging files may wait for their sync:
// the stream gets that far ahead of the disk (and holds as many open
// files), no further.
const syncQueue = 16

// stagedBlob is one distinct content of the kit: a staging file, or none
// when the blob already in the store holds exactly these bytes.
type stagedBlob struct {
	tmp    string
	length int64
	parse  *recordParse // until onStaged
}

func newStager(s *Store, clock Clock) *stager {
	return &stager{s: s, clock: clock, ctx: context.Background(), bufA: make([]byte, 1<<20), bufB: make([]byte, 1<<20), staged: map[string]*stagedBlob{}}
}

// stage is the verify.ContentFunc of an import.
func (st *stager) stage(t verify.Target, r io.Reader) error {
	if !isHexDigest(t.SHA256) {
		return fmt.Errorf("target %s: malformed sha256 %q", t.Path, t.SHA256)
	}
	if _, ok := st.staged[t.SHA256]; ok {
		return nil // the same content under another path; verify hashes it too
	}
	if t.Path == bundle.DeltaPath {
		// A delta's description is verify's to read (it hashes what it
		// hands over) and no file of the kit it stands for: nothing to
		// stage, sync and drop.
		st.delta = true
		_, err := io.Copy(io.Discard, r)
		return err
	}
	b := &stagedBlob{length: t.Length}
	// A blob already in the store is reused only if its bytes equal the
	// entry's, which are the verified bytes once the kit verifies.
	if fi, err := os.Stat(st.s.blobPath(t.SHA256)); err == nil && fi.Size() == t.Length {
		tmp, err := st.compareOrCopy(st.s.blobPath(t.SHA256), r)
		if err != nil {
			return err
		}
		b.tmp = tmp
	} else {
		// Only bytes that go to a new staging file are parsed as they
		// stream: a stored blob's bytes are no entry's until compared.
		var p *recordParse
		if st.parse != nil {
			p = st.parse(t)
		}
		tmp, err := st.write(nil, r, p)
		if err != nil {
			return err
		}
		b.tmp, b.parse = tmp, p
	}
	if b.tmp != "" && st.lastSum != t.SHA256 {
		// The entry is not what targets.json says. verify would report
		// it and read on to list every failure; an import stops here.
		os.Remove(b.tmp)
		return &stopError{bundle.Errorf(bundle.CodeDigestMismatch, t.Path, "sha256 is %s, targets.json says %s", st.lastSum, t.SHA256)}
	}
	st.staged[t.SHA256] = b
	if st.delta && strings.HasPrefix(t.Path, bundle.PatchDir) {
		// A delta's patch (in a kit that carries delta.json, which comes
		// before its patches): make the file it stands for on the
		// store's copy of its base (expand).
		return st.expand(t, b)
	}
	if st.onStaged != nil && b.tmp != "" {
		// Only a staging file's digest was checked here: bytes equal to a
		// stored blob are verified with the kit, and its blob kept.
		st.onStaged(t, b.tmp, b.parse)
	}
	b.parse = nil
	return nil
}

// stopError ends an import at the first content entry that fails its
// digest: the rest of the kit is not read.
type stopError struct{ err *bundle.Error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// compareOrCopy reads r against the existing blob. It returns "" when they
// are equal, else the staging file it wrote r's bytes to.
func (st *stager) compareOrCopy(existing string, r io.Reader) (string, error) {
	f, err := os.Open(existing)
	if err != nil {
		return st.write(nil, r, nil)
	}
	defer f.Close()
	var off int64
	for {
		n, rerr := io.ReadFull(r, st.bufA)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return "", rerr
		}
		m, _ := io.ReadFull(f, st.bufB[:n])
		if m != n || !bytes.Equal(st.bufA[:n], st.bufB[:n]) {
			// The stored blob differs (damaged): stage the entry's bytes,
			// the equal prefix taken from the blob.
			prefix := io.MultiReader(io.NewSectionReader(f, 0, off), bytes.NewReader(bytes.Clone(st.bufA[:n])))
			return st.write(prefix, r, nil)
		}
		off += int64(n)
		if rerr != nil {
			if extra, _ := f.Read(st.bufB[:1]); extra > 0 {
				return st.write(io.NewSectionReader(f, 0, off), r, nil)
			}
			return "", nil
		}
	}
}

// write copies prefix (if any) and then r into a new staging file, which
// it hands to the syncer: the file is synced and closed before place (or
// the import fails), while the stream goes on. p, if not nil, is given
// the same bytes, and their end, whatever happens.
func (st *stager) write(prefix io.Reader, r io.Reader, p *recordParse) (string, error) {
	if p != nil {
		defer p.close()
	}
	if err := st.syncErr.Load(); err != nil {
		return "", *err // a sync failed: the import fails anyway
	}
	f, err := st.s.createTemp(filepath.Join(st.s.dir, tmpDir))
	if err != nil {
		return "", fmt.Errorf("staging: %w", err)
	}
	name := f.Name()
	if err := st.fill(f, prefix, r, p); err != nil {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("staging %s: %w", name, err)
	}
	if st.syncs == nil {
		st.syncs, st.synced = make(chan tempFile, syncQueue), make(chan struct{})
		go st.syncer()
	}
	t0 := st.now()
	st.syncs <- f // waits while syncQueue files wait
	st.since(t0)
	return name, nil
}

// syncer syncs and closes the staging files written, in order, keeping
// the first error.
func (st *stager) syncer() {
	defer close(st.synced)
	for f := range st.syncs {
		if st.syncErr.Load() == nil {
			err := f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				err = fmt.Errorf("staging %s: %w", f.Name(), err)
				st.syncErr.Store(&err)
			}
			continue
		}
		f.Close()
	}
}

// flush waits until every staging file written is synced and closed, and
// returns the first error of a sync or close. Nothing is written after it.
func (st *stager) flush() error {
	if st.syncs != nil {
		t0 := st.now()
		close(st.syncs)
		<-st.synced
		st.since(t0)
		st.syncs = nil
	}
	if err := st.syncErr.Load(); err != nil {
		return *err
	}
	return nil
}

// fill copies prefix (if any) and r into f, and into p if not nil.
func (st *stager) fill(f tempFile, prefix io.Reader, r io.Reader, p *recordParse) error {
	src := r
	if prefix != nil {
		src = io.MultiReader(prefix, r)
	}
	// verify hashes what it hands over (a DigestReader); the bytes are
	// hashed here only when they are not all its.
	var w io.Writer = timedWriter{f, st}
	if p != nil {
		w = io.MultiWriter(w, p)
	}
	var h hash.Hash
	dr, ok := r.(verify.DigestReader)
	if !ok || prefix != nil {
		h = sha256.New()
		w = io.MultiWriter(w, h)
	}
	n, err := io.CopyBuffer(w, src, st.bufB)
	if h != nil {
		st.lastSum = hex.EncodeToString(h.Sum(nil))
	} else {
		st.lastSum = hex.EncodeToString(dr.SHA256())
	}
	st.bytes += n
	return err
}

// timedWriter counts the time spent in writes (and hides ReaderFrom, so
// that CopyBuffer uses the stager's buffer).
type timedWriter struct {
	w  io.Writer
	st *stager
}

func (t timedWriter) Write(p []byte) (int, error) {
	t0 := t.st.now()
	n, err := t.w.Write(p)
	t.st.since(t0)
	return n, err
}

func (st *stager) now() time.Time {
	if st.clock == nil {
		return time.Time{}
	}
	return st.clock.Now()
}

func (st *stager) since(t0 time.Time) {
	if st.clock != nil {
		st.spent += st.clock.Now().Sub(t0)
	}
}

// place waits for the staging files to be synced, renames every one into
// blobs/ and syncs the directory.
func (st *stager) place() error {
	if err := st.flush(); err != nil {
		return err
	}
	dir := filepath.Join(st.s.dir, blobsDir)
	for _, sha := range sortedKeys(st.staged) {
		b := st.staged[sha]
		if b.tmp == "" {
			continue
		}
		if err := os.Chmod(b.tmp, 0o644); err != nil {
			return err
		}
		if err := os.Rename(b.tmp, st.s.blobPath(sha)); err != nil {
			return fmt.Errorf("placing blob %s: %w", sha, err)
		}
		b.tmp = ""
	}
	return atomicfile.SyncDir(dir)
}

// open opens a verified target's bytes: staged, a blob, or a layered file
// (the import's or the store's) read over its staged or stored blobs.
func (st *stager) open(t verify.Target) (io.ReadCloser, error) {
	where := func(sha string) string { return st.sourceOf(verify.Target{SHA256: sha}) }
	return st.s.openFile(t, where, func(sha string) *layer {
		if pl := st.layered(sha); pl != nil {
			return pl.lay
		}
		return nil
	})
}

// sourceOf is the file that holds a staged target's verified bytes.
func (st *stager) sourceOf(t verify.Target) string {
	if b := st.staged[t.SHA256]; b != nil && b.tmp != "" {
		return b.tmp
	}
	return st.s.blobPath(t.SHA256)
}

// cleanup removes the staging files that were not placed.
func (st *stager) cleanup() {
	for _, pl := range st.layers {
		pl.wait() // no hash of a layer reads on after the import
	}
	st.flush() // the import failed already, or placed every file
	for _, b := range st.staged {
		if b.tmp != "" {
			os.Remove(b.tmp)
			b.tmp = ""
		}
	}
}

// GCResult is what Store.GC removed.
type GCResult struct {
	Referenced   int   `json:"referenced"`
	Removed      int   `json:"removed"`
	RemovedBytes int64 `json:"removedBytes"`
	TempRemoved  int   `json:"tempRemoved"`
	// RecordIndexesRemoved counts the advisory record indexes no kit
	// names (store/advindex.go) that were removed from ferry.db.
	RecordIndexesRemoved int `json:"recordIndexesRemoved"`
}

// GC removes every blob that no channel's active or historic kit references
// (GCHistory drops historic kits), the advisory record indexes of ferry.db
// that none names, and every
// leftover staging file (from an import that failed or was killed). It
// takes the import lock, so it never removes what a running import staged.
func (s *Store) GC(ctx context.Context) (*GCResult, error) {
	if s.opts.ReadOnly {
		return nil, fmt.Errorf("%s: %w", s.dir, ErrReadOnly)
	}
	if !s.exists() {
		return nil, fmt.Errorf("%s: %w (%s is missing)", s.dir, ErrNoStore, dbName)
	}
	l, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	var dropped int
	err = s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		dropped, err = dropUnreferencedRecordIndexes(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	ref := map[string]bool{}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		mark := func(_, _ string, f fileRec) error {
			ref[f.SHA256] = true
			return nil
		}
		if err := forEachFile(tx, mark); err != nil {
			return err
		}
		if err := forEachHistoricFile(tx, mark); err != nil { // kept for replay until GCHistory drops them
			return err
		}
		// A layered file (store/layer.go) is the blobs it reads.
		for _, sha := range sortedKeys(ref) {
			l, err := layerOf(tx, sha, false)
			if err != nil {
				return err
			}
			for _, b := range layerBlobs(l) {
				ref[b.SHA256] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &GCResult{Referenced: len(ref), RecordIndexesRemoved: dropped}
	var errs []error
	dir := filepath.Join(s.dir, blobsDir)
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if ref[e.Name()] {
			continue
		}
		info, err := e.Info()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Removed++
		res.RemovedBytes += info.Size()
	}
	tmps, err := os.ReadDir(filepath.Join(s.dir, tmpDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range tmps {
		if err := os.RemoveAll(filepath.Join(s.dir, tmpDir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		res.TempRemoved++
	}
	if res.Removed > 0 {
		if err := atomicfile.SyncDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}
