package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"github.com/ferry-dev/ferry/internal/parallel"

	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"
)

// The record index of an advisories file.
//
// A source's osv.jsonl is indexed once per content: the entries of its
// records (store/advisories.go) live in the bucket
//
//	advindex  hex sha256 of an osv.jsonl blob -> bucket: "r", "a", "p", "e"
//	          entries, and keyComplete -> decimal number of entries
//
// and every kit that carries the same file shares them: the active kit,
// the kits kept for replay, the next kit whose source did not change. A
// channel's "advisories" index only names, per source, the blob.
//
// Because the bucket is named by the content it indexes, an import builds
// it before its commit, in transactions of at most recordBatch entries, so
// that neither the memory of a transaction nor the commit grows with the
// advisory database; no reader sees it until the commit writes the entry
// that names it. The last transaction of a build writes keyComplete. A
// build that fails or is killed leaves a bucket nothing references: the
// next import of the same file rebuilds it, gc removes it. A referenced
// bucket without keyComplete is damage, which every read reports.

var bucketRecordIndex = []byte("advindex")

// keyComplete sorts after every entry (their first byte is a letter).
var keyComplete = []byte("\xffcomplete")

// recordBatch is how many entries one transaction of a build writes.
var recordBatch = 100_000 // a variable for tests

// advSource is one source's records in one channel's kit: the channel's
// "f" entry and the record index it names.
type advSource struct {
	channel, source, sha string
	b                    *bolt.Bucket
	// c is b's cursor for the lookups that run nothing while they walk
	// (seekPrefix, loc), reused: a bbolt cursor allocates its path at
	// every Bucket.Cursor and Bucket.Get, and a scan makes thousands.
	c *bolt.Cursor

	// A layered file (store/layer.go): its layer, the anchor's record
	// index and a cursor on it, and a cursor for b's "x" entries.
	lay    *layer
	anchor *bolt.Bucket
	ac, xc *bolt.Cursor
}

func (as *advSource) cursor() *bolt.Cursor {
	if as.c == nil {
		as.c = as.b.Cursor()
	}
	return as.c
}

// seekPrefix calls fn with the rest of every key of the source that
// starts with prefix, in order ("a" alias NUL, "p" ecosystem NUL name
// NUL: the rest is a record id); fn must not look anything up in as. A
// layered file's are its own and the anchor's it keeps.
func (as *advSource) seekPrefix(prefix []byte, fn func(rest []byte)) {
	c := as.cursor()
	k, _ := c.Seek(prefix)
	own := func() []byte {
		if k != nil && bytes.HasPrefix(k, prefix) {
			return k[len(prefix):]
		}
		return nil
	}
	if as.lay == nil {
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			fn(k[len(prefix):])
		}
		return
	}
	ak, _ := as.ac.Seek(prefix)
	anc := func() []byte {
		for ; ak != nil && bytes.HasPrefix(ak, prefix); ak, _ = as.ac.Next() {
			if rest := ak[len(prefix):]; !as.dropped(rest) {
				return rest
			}
		}
		return nil
	}
	o, a := own(), anc()
	for o != nil || a != nil {
		if a == nil || (o != nil && bytes.Compare(o, a) <= 0) {
			fn(o)
			k, _ = c.Next()
			o = own()
			continue
		}
		fn(a)
		ak, _ = as.ac.Next()
		a = anc()
	}
}

// dropped reports whether a layered file lacks the anchor's record id.
func (as *advSource) dropped(id []byte) bool {
	key := make([]byte, 0, 64)
	key = append(append(key, 'x'), id...)
	k, _ := as.xc.Seek(key)
	return bytes.Equal(k, key)
}

// loc returns where the record id is: the blob, the offset and length of
// the record in it. ok is false when the source has no record id.
func (as *advSource) loc(id string) (blob string, off, n uint64, ok bool, err error) {
	key := ikey('r', id)
	k, v := as.cursor().Seek(key)
	if bytes.Equal(k, key) {
		if as.lay == nil {
			off, n, err = plainLoc(v)
			return as.sha, off, n, err == nil, err
		}
		var b uint64
		b, off, n, err = ownLoc(v, len(as.lay.Blobs))
		if err != nil {
			return "", 0, 0, false, err
		}
		return as.lay.Blobs[b].SHA256, off, n, true, nil
	}
	if as.lay == nil || as.dropped([]byte(id)) {
		return "", 0, 0, false, nil
	}
	k, v = as.ac.Seek(key)
	if !bytes.Equal(k, key) {
		return "", 0, 0, false, nil
	}
	off, n, err = plainLoc(v)
	return as.lay.Blobs[0].SHA256, off, n, err == nil, err
}

// forEachRecord calls fn with every record of the source, by id.
func (as *advSource) forEachRecord(fn func(id, blob string, off, n uint64) error) error {
	prefix := []byte{'r'}
	if as.lay == nil {
		return scanPrefix(as.b, prefix, func(id, v []byte) error {
			off, n, err := plainLoc(v)
			if err != nil {
				return fmt.Errorf("channel %s: advisories index: %s: %w", as.channel, id, err)
			}
			return fn(string(id), as.sha, off, n)
		})
	}
	var ids []string
	as.seekPrefix(prefix, func(id []byte) { ids = append(ids, string(id)) })
	for _, id := range ids {
		blob, off, n, ok, err := as.loc(id)
		if err != nil {
			return fmt.Errorf("channel %s: advisories index: %s: %w", as.channel, id, err)
		}
		if !ok {
			continue
		}
		if err := fn(id, blob, off, n); err != nil {
			return err
		}
	}
	return nil
}

// plainLoc decodes a plain record index's location: offset, length.
func plainLoc(v []byte) (off, n uint64, err error) {
	off, n1 := binary.Uvarint(v)
	n, n2 := binary.Uvarint(v[max(n1, 0):])
	if n1 <= 0 || n2 <= 0 || n1+n2 != len(v) {
		return 0, 0, fmt.Errorf("malformed location %x", v)
	}
	return off, n, nil
}

// ownLoc decodes a layer's own location: blob (of blobs), offset, length.
func ownLoc(v []byte, blobs int) (b, off, n uint64, err error) {
	b, n0 := binary.Uvarint(v)
	if n0 <= 0 || b == 0 || b >= uint64(blobs) {
		return 0, 0, 0, fmt.Errorf("malformed location %x", v)
	}
	off, n, err = plainLoc(v[n0:])
	return b, off, n, err
}

// advSources resolves the channels' advisories indexes into their sources'
// record indexes, by channel and source.
func advSources(tx *bolt.Tx, chans []chanBucket) ([]advSource, error) {
	var out []advSource
	for _, cb := range chans {
		err := scanPrefix(cb.b, []byte{'f'}, func(source, sha []byte) error {
			b, err := recordIndex(tx, string(sha))
			if err != nil {
				return fmt.Errorf("channel %s: advisories of %s: %w", cb.channel, source, err)
			}
			as := advSource{channel: cb.channel, source: string(source), sha: string(sha), b: b}
			if as.lay, err = readLayer(b, false); err != nil {
				return fmt.Errorf("channel %s: advisories of %s: %w", cb.channel, source, err)
			}
			if as.lay != nil {
				if as.anchor, err = recordIndex(tx, as.lay.Blobs[0].SHA256); err != nil {
					return fmt.Errorf("channel %s: advisories of %s: the anchor: %w", cb.channel, source, err)
				}
				as.ac, as.xc = as.anchor.Cursor(), b.Cursor()
			}
			out = append(out, as)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// recordIndex returns the complete record index of the blob sha.
func recordIndex(tx *bolt.Tx, sha string) (*bolt.Bucket, error) {
	var b *bolt.Bucket
	if root := tx.Bucket(bucketRecordIndex); root != nil {
		b = root.Bucket([]byte(sha))
	}
	if b == nil || b.Get(keyComplete) == nil {
		return nil, fmt.Errorf("the record index of blob %s is missing or incomplete: the store is damaged (run ferry store check)", sha)
	}
	return b, nil
}

// usableRecordIndex reports whether tx holds a complete record index of
// sha that can be read: a plain one, or a layer whose blobs are all in the
// store. A layer whose blobs are not is rebuilt, as a missing index is.
func (s *Store) usableRecordIndex(tx *bolt.Tx, sha string) bool {
	_, ok := s.usableIndex(tx, sha)
	return ok
}

// usableIndex returns the layer of sha's record index (nil for a plain
// one) and whether the index is usable (usableRecordIndex).
func (s *Store) usableIndex(tx *bolt.Tx, sha string) (*layer, bool) {
	b, err := recordIndex(tx, sha)
	if err != nil {
		return nil, false
	}
	l, err := readLayer(b, false)
	if err != nil {
		return nil, false
	}
	return l, l == nil || s.hasBlobs(l)
}

// hasBlobs reports whether the store holds every blob of l.
func (s *Store) hasBlobs(l *layer) bool {
	for _, b := range l.Blobs {
		if fi, err := os.Stat(s.blobPath(b.SHA256)); err != nil || !fi.Mode().IsRegular() || fi.Size() != b.Length {
			return false
		}
	}
	return true
}

// hasRecordIndex reports whether tx holds the complete record index of sha.
func hasRecordIndex(tx *bolt.Tx, sha string) bool {
	_, err := recordIndex(tx, sha)
	return err == nil
}

// recordFiles returns the advisories files among targets, one per
// distinct content.
func recordFiles(targets []verify.Target) []verify.Target {
	var out []verify.Target
	seen := map[string]bool{}
	for _, t := range targets {
		if _, ok := advisoriesSource(t.Path); !ok || seen[t.SHA256] || !isHexDigest(t.SHA256) {
			continue
		}
		seen[t.SHA256] = true
		out = append(out, t)
	}
	return out
}

// ensureRecordIndexes builds the record index of every advisories file of
// targets that the store does not hold complete, each in transactions of
// at most recordBatch entries; path gives the file holding a target's
// verified bytes. The caller holds the import lock.
func (s *Store) ensureRecordIndexes(ctx context.Context, targets []verify.Target, path func(verify.Target) string) error {
	files := recordFiles(targets)
	if len(files) == 0 {
		return nil
	}
	var todo []verify.Target
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, t := range files {
			if !s.usableRecordIndex(tx, t.SHA256) {
				todo = append(todo, t)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range todo {
		if err := s.buildRecordIndex(ctx, t, path(t), func(fn func(*bolt.Tx) error) error { return s.update(ctx, fn) }); err != nil {
			return err
		}
	}
	return nil
}

// buildRecordIndex reads the verified file of t at path and writes its
// record index in the transactions inTx runs.
func (s *Store) buildRecordIndex(ctx context.Context, t verify.Target, path string, inTx func(func(*bolt.Tx) error) error) error {
	m, err := readRecordEntries(ctx, t, path, filepath.Join(s.dir, tmpDir))
	if err != nil {
		return err
	}
	defer m.close()
	if err := writeRecordIndex(inTx, t.SHA256, m, true); err != nil {
		return fmt.Errorf("the record index of %s: %w", t.Path, err)
	}
	return nil
}

// earlyIndexes builds record indexes while the kit is still being
// verified: the record index of an osv.jsonl is built as soon as its
// staging file is written and its sha256 is the target's, on the cores the
// verification's one stream leaves free. The index is named by the digest
// of the very bytes it indexes, so it is right for that blob whatever kit
// carried them; a kit that then fails leaves a record index no kit names,
// which the next import of the same file uses and gc removes.
type earlyIndexes struct {
	g    *errgroup.Group
	turn chan struct{} // one build at a time: each uses every core
	// parses holds a token for each parse whose entries are held (at most
	// maxParses): a file staged while that many are is read back instead.
	parses chan struct{}
	err    error
	done   bool
}

// maxParses is how many files' entries parsed while they were staged are
// held at a time (up to about 15 MiB each).
const maxParses = 2

// indexEarly makes st start a build for each advisories file it stages.
// The records of a file of one part (recordPartSize) are parsed while its
// bytes are staged; its entries are written only once the staging file is
// whole and its sha256 the target's.
func (s *Store) indexEarly(ctx context.Context, st *stager) *earlyIndexes {
	e := &earlyIndexes{g: &errgroup.Group{}, turn: make(chan struct{}, 1), parses: make(chan struct{}, maxParses)}
	st.parse = func(t verify.Target) *recordParse {
		if _, ok := advisoriesSource(t.Path); !ok || t.Length > recordPartSize {
			return nil
		}
		select {
		case e.parses <- struct{}{}:
		default:
			return nil
		}
		return startRecordParse(ctx, t)
	}
	st.onStaged = func(t verify.Target, path string, p *recordParse) {
		if _, ok := advisoriesSource(t.Path); !ok {
			return
		}
		e.g.Go(func() error {
			select {
			case e.turn <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			defer func() { <-e.turn }()
			if p == nil {
				return s.ensureRecordIndexes(ctx, []verify.Target{t}, func(verify.Target) string { return path })
			}
			defer func() { <-e.parses }()
			return s.ensureParsedRecordIndex(ctx, t, p)
		})
	}
	return e
}

// ensureParsedRecordIndex writes the record index of t from the entries p
// parsed, unless the store holds it complete.
func (s *Store) ensureParsedRecordIndex(ctx context.Context, t verify.Target, p *recordParse) error {
	var have bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		have = s.usableRecordIndex(tx, t.SHA256)
		return nil
	})
	es, perr := p.result() // the parse ends with the import
	if err != nil || have {
		return err
	}
	if err := perr; err != nil {
		return &IndexError{Indexer: advisoriesIndex, Path: t.Path, Err: err}
	}
	m := &entryMerge{runs: []entryRun{&memRun{es: es}}}
	m.start()
	if err := writeRecordIndex(func(fn func(*bolt.Tx) error) error { return s.update(ctx, fn) }, t.SHA256, m, true); err != nil {
		return fmt.Errorf("the record index of %s: %w", t.Path, err)
	}
	return nil
}

// recordParse parses the records of an advisories file from its bytes as
// they are staged, on a goroutine of its own, into its record index
// entries: the work of readRecordEntries for a file of one part, done
// beside the stream instead of after it. The bytes pass through at most
// parseBuffers buffers, so the stream waits when the parse falls behind.
// Its entries are of the bytes it was given, whatever they were: they
// are written only when the file they went to is whole and its sha256 is
// the target's.
type recordParse struct {
	full chan []byte // buffers written, in order; closed at the end
	free chan []byte // buffers parsed
	bufs int         // buffers made
	done chan struct{}
	es   entries
	err  error
}

// parseBuffers and parseBufferSize bound the bytes between the stream and
// a parse.
const (
	parseBuffers    = 4
	parseBufferSize = 256 << 10
)

// startRecordParse starts the parse of the bytes of t that Write is given.
func startRecordParse(ctx context.Context, t verify.Target) *recordParse {
	p := &recordParse{full: make(chan []byte, parseBuffers), free: make(chan []byte, parseBuffers), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		r := &parseReader{p: p}
		w, ecosystems, err := recordPart(ctx, r, 0, t.Length)
		if err == nil {
			err = putEcosystems(w, ecosystems)
		}
		if err == nil && r.n != t.Length {
			err = fmt.Errorf("read %d bytes, the target has %d", r.n, t.Length)
		}
		if err != nil {
			p.err = err
			for b := range p.full { // the stream goes on to the end
				p.free <- b
			}
			return
		}
		p.es = w.sorted()
	}()
	return p
}

// Write implements io.Writer: it copies b for the parse.
func (p *recordParse) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		var buf []byte
		select {
		case buf = <-p.free:
		default:
			if p.bufs < parseBuffers {
				p.bufs++
				buf = make([]byte, 0, parseBufferSize)
			} else {
				buf = <-p.free
			}
		}
		m := min(len(b), cap(buf))
		p.full <- append(buf[:0], b[:m]...)
		b = b[m:]
	}
	return n, nil
}

// close ends the bytes of the parse.
func (p *recordParse) close() { close(p.full) }

// result waits for the parse and returns its entries, sorted.
func (p *recordParse) result() (entries, error) {
	<-p.done
	return p.es, p.err
}

// parseReader reads the buffers of a recordParse in order.
type parseReader struct {
	p   *recordParse
	buf []byte // being read
	cur []byte // its unread part
	n   int64
}

func (r *parseReader) Read(b []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.buf != nil {
			r.p.free <- r.buf
			r.buf = nil
		}
		buf, ok := <-r.p.full
		if !ok {
			return 0, io.EOF
		}
		r.buf, r.cur = buf, buf
	}
	n := copy(b, r.cur)
	r.cur = r.cur[n:]
	r.n += int64(n)
	return n, nil
}

// wait waits for every build started and returns the first error; nil e
// has none.
func (e *earlyIndexes) wait() error {
	if e == nil {
		return nil
	}
	if !e.done {
		e.err, e.done = e.g.Wait(), true
	}
	return e.err
}

// ensureRecordIndexesTx is ensureRecordIndexes inside one transaction (a
// migration).
func (s *Store) ensureRecordIndexesTx(ctx context.Context, tx *bolt.Tx, targets []verify.Target, path func(verify.Target) string) error {
	for _, t := range recordFiles(targets) {
		if hasRecordIndex(tx, t.SHA256) {
			continue
		}
		if err := s.buildRecordIndex(ctx, t, path(t), func(fn func(*bolt.Tx) error) error { return fn(tx) }); err != nil {
			return err
		}
	}
	return nil
}

// recordPartSize is the size of the parts of an osv.jsonl that are indexed
// one per core: a file of more than one part is indexed in parts whose
// sorted entries are spilled to temporary files and merged as they are
// written, so that the memory an import needs does not grow with the
// advisory database (about 15 MiB of entries per part in flight).
var recordPartSize int64 = 64 << 20 // a variable for tests

// readRecordEntries reads the verified file of t (capped at its signed
// length) into its record index entries: parts of the file, split at line
// ends, are indexed on every core and come back as sorted runs in file
// order, spilled into spillDir when there is more than one.
func readRecordEntries(ctx context.Context, t verify.Target, path, spillDir string) (*entryMerge, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &IndexError{Indexer: advisoriesIndex, Path: t.Path, Err: err}
	}
	defer f.Close()
	parts, err := lineParts(f, t.Length, int(t.Length/recordPartSize)+1)
	if err != nil {
		return nil, &IndexError{Indexer: advisoriesIndex, Path: t.Path, Err: err}
	}
	type result struct {
		run        entryRun
		ecosystems map[string]int
	}
	m := &entryMerge{}
	var mu sync.Mutex
	var spilled []entryRun // to remove on failure: Map returns no results then
	results, err := parallel.Map(ctx, runtime.GOMAXPROCS(0), parts, func(ctx context.Context, p [2]int64) (result, error) {
		w, ecosystems, err := recordPart(ctx, io.NewSectionReader(f, p[0], p[1]-p[0]), p[0], p[1]-p[0])
		if err != nil {
			return result{}, err
		}
		if len(parts) == 1 {
			if err := putEcosystems(w, ecosystems); err != nil {
				return result{}, err
			}
			return result{&memRun{es: w.sorted()}, nil}, nil
		}
		r, err := spill(w.sorted(), spillDir)
		if err != nil {
			return result{}, err
		}
		mu.Lock()
		spilled = append(spilled, r)
		mu.Unlock()
		return result{r, ecosystems}, nil
	})
	if err != nil {
		for _, r := range spilled {
			r.close()
		}
		if ctx.Err() == nil && len(parts) > 1 {
			// Read again in one pass for the error that names the line.
			if _, serr := recordEntries(ctx, io.NewSectionReader(f, 0, t.Length), t.Length); serr != nil {
				err = serr
			}
		}
		return nil, &IndexError{Indexer: advisoriesIndex, Path: t.Path, Err: err}
	}
	ecosystems := map[string]int{}
	for _, r := range results {
		m.runs = append(m.runs, r.run)
		for eco, n := range r.ecosystems {
			ecosystems[eco] += n
		}
	}
	if len(ecosystems) > 0 {
		w := &IndexWriter{}
		if err := putEcosystems(w, ecosystems); err != nil {
			m.close()
			return nil, &IndexError{Indexer: advisoriesIndex, Path: t.Path, Err: err}
		}
		m.runs = append(m.runs, &memRun{es: w.sorted()})
	}
	m.start()
	return m, nil
}

// lineParts splits the first size bytes of f into at most n parts of
// about equal size that end at line ends: [start, end) offsets.
func lineParts(f io.ReaderAt, size int64, n int) ([][2]int64, error) {
	var parts [][2]int64
	start := int64(0)
	buf := make([]byte, 64<<10)
	for i := 1; i < n && start < size; i++ {
		cut := max(start, size*int64(i)/int64(n))
		// The part ends after the first newline at or after cut.
		end := int64(-1)
		for at := cut; at < size && end < 0; at += int64(len(buf)) {
			m, err := f.ReadAt(buf[:min(int64(len(buf)), size-at)], at)
			if j := bytes.IndexByte(buf[:m], '\n'); j >= 0 {
				end = at + int64(j) + 1
			} else if err != nil && err != io.EOF {
				return nil, err
			} else if m == 0 {
				break
			}
		}
		if end < 0 || end >= size {
			break
		}
		parts = append(parts, [2]int64{start, end})
		start = end
	}
	return append(parts, [2]int64{start, size}), nil
}

// An entryRun is a sorted sequence of entries. The slices entry returns
// are valid until the next call to advance.
type entryRun interface {
	entry() (k, v []byte, ok bool)
	advance() error
	close()
}

// memRun is a run held in memory.
type memRun struct {
	es  entries
	pos int
}

func (r *memRun) entry() (k, v []byte, ok bool) {
	if r.pos >= r.es.Len() {
		return nil, nil, false
	}
	k, v = r.es.At(r.pos)
	return k, v, true
}

func (r *memRun) advance() error { r.pos++; return nil }
func (r *memRun) close()         {}

// fileRun is a run spilled to a temporary file: uvarint key length,
// uvarint value length, key, value, for every entry.
type fileRun struct {
	f    *os.File
	br   *bufio.Reader
	k, v []byte
	ok   bool
}

// spill writes es to a new temporary file in dir and returns it as a run
// read from its start.
func spill(es entries, dir string) (*fileRun, error) {
	f, err := os.CreateTemp(dir, "advindex-*.run")
	if err != nil {
		return nil, err
	}
	r := &fileRun{f: f}
	bw := bufio.NewWriterSize(f, 256<<10)
	// A failed write is sticky: Flush reports it.
	var hdr [2 * binary.MaxVarintLen64]byte
	for i := range es.Len() {
		k, v := es.At(i)
		n := binary.PutUvarint(hdr[:], uint64(len(k)))
		n += binary.PutUvarint(hdr[n:], uint64(len(v)))
		bw.Write(hdr[:n])
		bw.Write(k)
		bw.Write(v)
	}
	if err := bw.Flush(); err != nil {
		r.close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		r.close()
		return nil, err
	}
	r.br = bufio.NewReaderSize(f, 256<<10)
	if err := r.advance(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *fileRun) entry() (k, v []byte, ok bool) { return r.k, r.v, r.ok }

func (r *fileRun) advance() error {
	kl, err := binary.ReadUvarint(r.br)
	if err == io.EOF {
		r.ok = false
		return nil
	}
	vl, err2 := binary.ReadUvarint(r.br)
	if err != nil || err2 != nil || kl > bolt.MaxKeySize || vl > MaxAdvisorySize {
		return fmt.Errorf("reading back %s: malformed entry", r.f.Name())
	}
	if n := int(kl + vl); cap(r.k) < n {
		r.k = make([]byte, n)
	}
	buf := r.k[:kl+vl]
	if _, err := io.ReadFull(r.br, buf); err != nil {
		return fmt.Errorf("reading back %s: %w", r.f.Name(), err)
	}
	r.k, r.v, r.ok = buf[:kl], buf[kl:], true
	return nil
}

func (r *fileRun) close() {
	r.f.Close()
	os.Remove(r.f.Name())
}

// entryMerge walks sorted runs of entries, parts of one file in order, as
// one sorted sequence; of equal keys the entry of the later run wins, as
// a later Put of the key would.
type entryMerge struct {
	runs []entryRun
	// h holds the indexes of the runs with entries left, as a heap by
	// key and, for equal keys, the later run first.
	h   []int
	key []byte
}

func (m *entryMerge) less(i, j int) bool {
	a, _, _ := m.runs[m.h[i]].entry()
	b, _, _ := m.runs[m.h[j]].entry()
	if c := bytes.Compare(a, b); c != 0 {
		return c < 0
	}
	return m.h[i] > m.h[j]
}

func (m *entryMerge) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(m.h) {
			return
		}
		j := l
		if r := l + 1; r < len(m.h) && m.less(r, l) {
			j = r
		}
		if !m.less(j, i) {
			return
		}
		m.h[i], m.h[j] = m.h[j], m.h[i]
		i = j
	}
}

// start builds the heap.
func (m *entryMerge) start() {
	m.h = m.h[:0]
	for i, r := range m.runs {
		if _, _, ok := r.entry(); ok {
			m.h = append(m.h, i)
		}
	}
	for i := len(m.h)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
}

// more reports whether an entry is left.
func (m *entryMerge) more() bool { return len(m.h) > 0 }

// next calls fn with the next entry (valid during the call) and moves
// past it and every entry of an earlier run with the same key.
func (m *entryMerge) next(fn func(k, v []byte) error) error {
	top := m.runs[m.h[0]]
	k, v, _ := top.entry()
	if err := fn(k, v); err != nil {
		return err
	}
	if len(m.runs) == 1 {
		// One run has no equal keys: IndexWriter.sorted kept the last.
		if err := top.advance(); err != nil {
			return err
		}
		if _, _, ok := top.entry(); !ok {
			m.h = m.h[:0]
		}
		return nil
	}
	m.key = append(m.key[:0], k...)
	key := m.key
	for len(m.h) > 0 {
		r := m.runs[m.h[0]]
		if rk, _, _ := r.entry(); !bytes.Equal(rk, key) {
			return nil
		}
		if err := r.advance(); err != nil {
			return err
		}
		if _, _, ok := r.entry(); !ok {
			m.h[0] = m.h[len(m.h)-1]
			m.h = m.h[:len(m.h)-1]
		}
		m.down(0)
	}
	return nil
}

// close removes the spilled runs.
func (m *entryMerge) close() {
	for _, r := range m.runs {
		r.close()
	}
}

// writeRecordIndex writes the entries of m as the record index of sha, in
// transactions of at most recordBatch entries that inTx runs, keyComplete
// in the last unless complete is false (the caller's commit writes it:
// markComplete). A bucket of that name that is there already (incomplete,
// or not usable: complete usable ones are not rebuilt) is replaced by the
// first.
func writeRecordIndex(inTx func(func(*bolt.Tx) error) error, sha string, m *entryMerge, complete bool) error {
	name := []byte(sha)
	total := 0
	// bbolt keeps a value until the commit: values are copied here (keys
	// it copies itself).
	var vals []byte
	for first := true; ; first = false {
		err := inTx(func(tx *bolt.Tx) error {
			root, err := tx.CreateBucketIfNotExists(bucketRecordIndex)
			if err != nil {
				return err
			}
			if first && root.Bucket(name) != nil {
				if err := root.DeleteBucket(name); err != nil {
					return err
				}
			}
			b, err := root.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			b.FillPercent = 0.95 // keys arrive sorted
			vals = nil           // the last transaction's are committed
			put := func(k, v []byte) error {
				if len(v) > cap(vals)-len(vals) {
					vals = make([]byte, 0, max(64<<10, len(v)))
				}
				vals = append(vals, v...)
				total++
				return b.Put(k, vals[len(vals)-len(v):len(vals):len(vals)])
			}
			for n := 0; n < recordBatch && m.more(); n++ {
				if err := m.next(put); err != nil {
					return err
				}
			}
			if !m.more() && complete {
				return b.Put(keyComplete, []byte(strconv.Itoa(total)))
			}
			return nil
		})
		if err != nil || !m.more() {
			return err
		}
	}
}

// referencedRecordIndexes returns the blobs named by the advisories index
// of every active and historic kit.
func referencedRecordIndexes(tx *bolt.Tx) (map[string]bool, error) {
	ref := map[string]bool{}
	mark := func(b *bolt.Bucket) error {
		if b == nil {
			return nil
		}
		return scanPrefix(b, []byte{'f'}, func(_, sha []byte) error {
			ref[string(sha)] = true
			return nil
		})
	}
	if ib := tx.Bucket(bucketIndex).Bucket([]byte(advisoriesIndex)); ib != nil {
		err := ib.ForEachBucket(func(ch []byte) error { return mark(ib.Bucket(ch)) })
		if err != nil {
			return nil, err
		}
	}
	err := forEachHistoric(tx, func(ch string, vb *bolt.Bucket) error {
		return mark(kitRoot{channel: ch, index: vb.Bucket(bucketIndex)}.indexBucket(advisoriesIndex))
	})
	if err != nil {
		return nil, err
	}
	// A layered file's index reads its anchor's.
	for _, sha := range sortedKeys(ref) {
		l, err := layerOf(tx, sha, false)
		if err != nil {
			return nil, err
		}
		if l != nil {
			ref[l.Blobs[0].SHA256] = true
		}
	}
	return ref, nil
}

// dropUnreferencedRecordIndexes deletes the record indexes no kit names
// (left by an import that failed, or of kits gc dropped) and returns how
// many it deleted.
func dropUnreferencedRecordIndexes(tx *bolt.Tx) (int, error) {
	root := tx.Bucket(bucketRecordIndex)
	if root == nil {
		return 0, nil
	}
	ref, err := referencedRecordIndexes(tx)
	if err != nil {
		return 0, err
	}
	var drop [][]byte
	err = root.ForEachBucket(func(name []byte) error {
		if !ref[string(name)] {
			drop = append(drop, bytes.Clone(name))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, name := range drop {
		if err := root.DeleteBucket(name); err != nil {
			return 0, err
		}
	}
	return len(drop), nil
}
