package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"time"

	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
)

// An Indexer turns the verified files of one content type into entries of
// its own index. Import runs every indexer of the store after the kit
// verified and before the commit; the commit replaces the channel's index
// of each indexer with what it produced, in the same transaction as the
// rest of the import. Adding an indexer touches nothing else.
type Indexer interface {
	// Name names the indexer's bucket. It is part of the schema: never
	// rename one.
	Name() string
	// Accepts reports whether the indexer reads files of a content type
	// (bundle.ContentType).
	Accepts(contentType string) bool
	// Index reads one verified file (r yields exactly its bytes) and adds
	// entries to w. An error fails the import before anything changes.
	Index(ctx context.Context, f verify.Target, r io.Reader, w *IndexWriter) error
}

// A Finisher is an Indexer that needs the kit as a whole: the files of a
// folder together, or what verify found of the kit's carried trust
// (IndexKit.Carried).
// Import calls Finish once per kit, after Index was called for every file
// the indexer accepts; entries go to the same index. An error fails the
// import before anything changes, like one from Index.
type Finisher interface {
	Finish(ctx context.Context, kit IndexKit, w *IndexWriter) error
}

// IndexKit is what a Finisher knows of the kit being indexed.
type IndexKit struct {
	Channel string
	// Created is the kit's creation time (signed, in its targets
	// metadata): the time the connected side checked what it carried.
	Created time.Time
	// At is the import's reference time (--at), or, when indexes are
	// rebuilt from stored kits, the time the kit was imported.
	At time.Time
	// Files holds the kit's verified files by kit path. Every read is
	// capped at the file's signed length. Safe for concurrent use.
	Files fs.FS
	// Targets are the kit's files as its signed targets list them.
	Targets []verify.Target
	// Carried is what verify re-verified of the trust material the kit
	// carries (verify.Report.Carried); nil when it carries none. Indexers
	// record it, never decide it.
	Carried *verify.Carried
}

// IndexWriter collects an indexer's entries for one channel. It is not
// safe for concurrent use.
//
// Keys and values are copied into arena chunks, and each entry is a
// small record without pointers: an index of a million entries is a few
// hundred allocations that the garbage collector need not scan, not two
// million slices.
type IndexWriter struct {
	chunks [][]byte
	refs   []entryRef
}

// entryRef locates one entry in the chunks. Chunks are taken in Put
// order and filled from the start, so (chunk, off) is the Put order too.
type entryRef struct {
	chunk, off, vlen uint32
	klen             uint16
}

type kv struct{ k, v []byte }

// arenaChunk is the size of an IndexWriter's arena chunks; an entry of
// more than a quarter of it gets a chunk of its own.
const arenaChunk = 1 << 20

// firstChunk is the size of an IndexWriter's first chunk.
const firstChunk = 16 << 10

// Put adds an entry; a later Put of the same key replaces it. Put copies
// key and value.
func (w *IndexWriter) Put(key, value []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("index: empty key")
	}
	if len(key) > bolt.MaxKeySize {
		return fmt.Errorf("index: key of %d bytes is too long", len(key))
	}
	if len(value) > bolt.MaxValueSize {
		return fmt.Errorf("index: value of %d bytes is too long", len(value))
	}
	n := len(key) + len(value)
	last := len(w.chunks) - 1
	switch {
	case n > arenaChunk/4:
		// A chunk of its own. (The open chunk's free tail is left unused:
		// entries this large are rare.)
		w.chunks = append(w.chunks, make([]byte, 0, n))
		last++
	case last < 0 || n > cap(w.chunks[last])-len(w.chunks[last]):
		// Chunks grow from firstChunk to arenaChunk: most writers hold a
		// few entries, and a fresh chunk is zeroed memory the process
		// touches for the first time.
		size := firstChunk
		if last >= 0 {
			size = min(arenaChunk, 2*cap(w.chunks[last]))
		}
		w.chunks = append(w.chunks, make([]byte, 0, max(size, n)))
		last++
	}
	c := w.chunks[last]
	w.refs = append(w.refs, entryRef{chunk: uint32(last), off: uint32(len(c)), klen: uint16(len(key)), vlen: uint32(len(value))})
	w.chunks[last] = append(append(c, key...), value...)
	return nil
}

func (w *IndexWriter) key(r entryRef) []byte {
	return w.chunks[r.chunk][r.off : r.off+uint32(r.klen) : r.off+uint32(r.klen)]
}

// entries is a sorted view of an IndexWriter's entries.
type entries struct {
	w    *IndexWriter
	refs []entryRef
}

func (e entries) Len() int { return len(e.refs) }

// At returns entry i; both slices point into the writer's arena.
func (e entries) At(i int) (k, v []byte) {
	r := e.refs[i]
	c := e.w.chunks[r.chunk]
	kEnd := r.off + uint32(r.klen)
	return c[r.off:kEnd:kEnd], c[kEnd : kEnd+r.vlen : kEnd+r.vlen]
}

// sorted returns the entries sorted by key, keeping the last Put of a key.
func (w *IndexWriter) sorted() entries {
	// The entries are grouped by the first byte of their key (an index's
	// kinds of entry: "r", "a", "p" ...), then each group is sorted alone:
	// fewer comparisons, each past the byte the group shares, and a group
	// put in order (records in id order) is one pass.
	var starts [257]int
	for _, r := range w.refs {
		starts[w.chunks[r.chunk][r.off]+1]++
	}
	groups := 0
	for i := 1; i < len(starts); i++ {
		if starts[i] > 0 {
			groups++
		}
		starts[i] += starts[i-1]
	}
	if groups > 1 {
		grouped := make([]entryRef, len(w.refs))
		next := starts
		for _, r := range w.refs {
			b := w.chunks[r.chunk][r.off]
			grouped[next[b]] = r
			next[b]++
		}
		w.refs = grouped
	}
	for i := range 256 {
		if starts[i+1]-starts[i] > 1 {
			slices.SortFunc(w.refs[starts[i]:starts[i+1]], w.compareRest)
		}
	}
	refs := w.refs[:0]
	for i, r := range w.refs {
		if i+1 < len(w.refs) && bytes.Equal(w.key(r), w.key(w.refs[i+1])) {
			continue
		}
		refs = append(refs, r)
	}
	return entries{w: w, refs: refs}
}

// compareRest orders two entries whose keys have the same first byte by
// the rest of their keys, then by the order they were put in.
func (w *IndexWriter) compareRest(a, b entryRef) int {
	ka := w.chunks[a.chunk][a.off+1 : a.off+uint32(a.klen)]
	kb := w.chunks[b.chunk][b.off+1 : b.off+uint32(b.klen)]
	if c := bytes.Compare(ka, kb); c != 0 {
		return c
	}
	if c := cmp.Compare(a.chunk, b.chunk); c != 0 {
		return c
	}
	return cmp.Compare(a.off, b.off)
}

// DefaultIndexers returns the indexers every store runs: one per content
// type that has one. The typed ones back Store.Images and the Reader of
// Store.View. opts configure them (WithAttestationVerifier).
func DefaultIndexers(opts ...IndexerOption) []Indexer {
	var o indexerOptions
	for _, opt := range opts {
		opt(&o)
	}
	return []Indexer{FilesIndexer{},
		ImagesIndexer{},                          // store/images.go
		AdvisoriesIndexer{},                      // store/advisories.go
		EnrichIndexer{},                          // store/enrich.go
		VEXIndexer{Attestations: o.attestations}, // store/vexindex.go
		SourcesIndexer{},                         // store/sources.go
		TUFIndexer{},                             // store/trustindex.go
	}
}

// An IndexerOption configures DefaultIndexers.
type IndexerOption func(*indexerOptions)

type indexerOptions struct {
	attestations AttestationVerifier
}

// WithAttestationVerifier sets the verifier the store hands to verify for
// carried attestations (see VEXIndexer.Attestations).
func WithAttestationVerifier(v AttestationVerifier) IndexerOption {
	return func(o *indexerOptions) { o.attestations = v }
}

// FilesIndexer indexes plain files (content type "files"): path -> the
// file's digest, length and the custom object its target carried (media
// type, source).
type FilesIndexer struct{}

var _ Indexer = FilesIndexer{}

// Name implements Indexer.
func (FilesIndexer) Name() string { return "files" }

// Accepts implements Indexer.
func (FilesIndexer) Accepts(t string) bool { return t == "files" }

// FileEntry is the value of a FilesIndexer entry.
type FileEntry struct {
	SHA256 string          `json:"sha256"`
	Length int64           `json:"length"`
	Custom json.RawMessage `json:"custom,omitempty"`
}

// Index implements Indexer. It does not read the content.
func (FilesIndexer) Index(_ context.Context, f verify.Target, _ io.Reader, w *IndexWriter) error {
	v, err := json.Marshal(FileEntry{SHA256: f.SHA256, Length: f.Length, Custom: f.Custom})
	if err != nil {
		return err
	}
	return w.Put([]byte(f.Path), v)
}

// builtIndex is one indexer's entries for a channel, sorted by key.
type builtIndex struct {
	name    string
	entries entries
}

// buildIndexes runs the store's indexers over targets; path gives the
// file that holds a target's verified bytes. kit's Files and Targets are
// set here.
func (s *Store) buildIndexes(ctx context.Context, kit IndexKit, targets []verify.Target, open opener) ([]builtIndex, error) {
	kit.Files, kit.Targets = newKitFS(targets, open), targets
	if kit.Carried == nil {
		// Indexes rebuilt from stored kits: no verify.Kit ran, so the
		// carried trust is checked here, by the same function.
		c, fails, err := verify.CheckCarried(ctx, kit.Files, targets, verify.CarriedOptions{Created: kit.Created, At: kit.At, Attestations: s.attestations()})
		if err != nil {
			return nil, err
		}
		if len(fails) > 0 {
			return nil, &IndexError{Indexer: "carried", Path: fails[0].Entry, Err: fails[0]}
		}
		kit.Carried = c
	}
	var out []builtIndex
	for _, ix := range s.indexers {
		w := &IndexWriter{}
		for _, t := range targets {
			if !ix.Accepts(t.Type) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := indexOne(ctx, ix, t, open, w); err != nil {
				return nil, &IndexError{Indexer: ix.Name(), Path: t.Path, Err: err}
			}
		}
		if f, ok := ix.(Finisher); ok {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := f.Finish(ctx, kit, w); err != nil {
				return nil, err
			}
		}
		out = append(out, builtIndex{name: ix.Name(), entries: w.sorted()})
	}
	return out, nil
}

func indexOne(ctx context.Context, ix Indexer, t verify.Target, open opener, w *IndexWriter) error {
	f := &lazyFile{t: t, open: open}
	defer f.close()
	return ix.Index(ctx, t, io.LimitReader(f, t.Length), w)
}

// opener opens the verified bytes of a kit's file: a staging file, a blob,
// or a layered file's blobs (store/layer.go).
type opener func(verify.Target) (io.ReadCloser, error)

// blobOpener opens the store's blobs.
func (s *Store) blobOpener(t verify.Target) (io.ReadCloser, error) {
	return s.openFile(t, func(sha string) string { return s.blobPath(sha) }, nil)
}

// lazyFile opens its file at the first read: an indexer that does not
// read a file (the advisories indexer reads the record index, not its
// osv.jsonl) opens nothing.
type lazyFile struct {
	t    verify.Target
	open opener
	f    io.ReadCloser
}

func (l *lazyFile) Read(p []byte) (int, error) {
	if l.f == nil {
		f, err := l.open(l.t)
		if err != nil {
			return 0, err
		}
		l.f = f
	}
	return l.f.Read(p)
}

func (l *lazyFile) close() {
	if l.f != nil {
		l.f.Close()
	}
}

// writeIndexes replaces the channel's index of every built indexer.
func writeIndexes(tx *bolt.Tx, channel string, built []builtIndex) error {
	root := tx.Bucket(bucketIndex)
	for _, bi := range built {
		ib, err := root.CreateBucketIfNotExists([]byte(bi.name))
		if err != nil {
			return err
		}
		if err := replaceBucket(ib, []byte(channel), func(b *bolt.Bucket) error {
			for i := range bi.entries.Len() {
				if err := b.Put(bi.entries.At(i)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("index %s: %w", bi.name, err)
		}
	}
	return nil
}

// replaceBucket drops parent's sub-bucket name and fills a new one with
// fill, which should put keys in ascending order.
func replaceBucket(parent *bolt.Bucket, name []byte, fill func(b *bolt.Bucket) error) error {
	if parent.Bucket(name) != nil {
		if err := parent.DeleteBucket(name); err != nil {
			return err
		}
	}
	b, err := parent.CreateBucket(name)
	if err != nil {
		return err
	}
	b.FillPercent = 0.95 // keys arrive sorted
	return fill(b)
}
