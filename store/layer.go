package store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
)

// Layered advisories files.
//
// A delta that carries an osv.jsonl as a patch (bundle/patch.go) changes a
// few records of a large file. Writing the whole new file and indexing
// all its records again would cost the delta what the full kit costs. The
// store keeps the new file instead as a layer: its bytes are segments of
// blobs it holds (the anchor, a file stored whole with a plain record
// index, and the patches), and its record index, in the same bucket
// advindex/<sha256 of the file> a plain one has, holds
//
//	keyLayer  -> the layer (JSON): blobs (the anchor first), segments
//	            (blob, offset, length), length of the file
//	"r" id    -> blob, offset and length of a record that is not the
//	            anchor's (three uvarints)
//	"a", "p"  -> the entries of those records, as in a plain index
//	"x" id    -> an anchor record the file does not have (changed or
//	            removed): its anchor entries are not the file's
//	"e" eco   -> the record count of the whole file
//
// Readers see the file's records as the anchor's, less those "x" names,
// plus its own (advSource). A patch on a layered file makes a layer on
// the same anchor: every layer is one deep. A layer whose own records
// would be more than a quarter of the file is not made: the file is
// written whole and indexed, and becomes the next anchor. The file's
// sha256 is checked over its segments when the layer is made, and again
// by ferry store check.

var (
	keyLayer    = []byte("\xfelayer")    // blobs, length
	keySegments = []byte("\xfesegments") // the segments
)

// maxLayerShare is the part of a file its own records may make up in a
// layer: one over it is written whole.
const maxLayerShare = 4

// layerBlob is a blob a layer reads.
type layerBlob struct {
	SHA256 string `json:"sha256"`
	Length int64  `json:"length"`
}

// layer is a layered file's bytes: Segments of Blobs, Blobs[0] the anchor.
type layer struct {
	Blobs    []layerBlob `json:"blobs"`
	Segments [][3]int64  `json:"-"` // blob, offset, length: under keySegments
	Length   int64       `json:"length"`
}

// readLayer returns the layer of a record index, nil for a plain one;
// with segments false only its blobs and length (what readers need: a
// layer of many scattered changes has many segments).
func readLayer(b *bolt.Bucket, segments bool) (*layer, error) {
	v := b.Get(keyLayer)
	if v == nil {
		return nil, nil
	}
	var l layer
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if err := l.checkBlobs(); err != nil {
		return nil, err
	}
	if !segments {
		return &l, nil
	}
	if err := json.Unmarshal(b.Get(keySegments), &l.Segments); err != nil {
		return nil, fmt.Errorf("layer: segments: %w", err)
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	return &l, nil
}

// checkBlobs checks a layer's blobs.
func (l *layer) checkBlobs() error {
	if len(l.Blobs) == 0 {
		return errors.New("layer: no anchor")
	}
	for _, b := range l.Blobs {
		if !isHexDigest(b.SHA256) || b.Length < 0 {
			return fmt.Errorf("layer: blob %q (%d bytes)", b.SHA256, b.Length)
		}
	}
	return nil
}

// check checks that the segments lie within their blobs and add up to the
// length.
func (l *layer) check() error {
	if err := l.checkBlobs(); err != nil {
		return err
	}
	var total int64
	for i, s := range l.Segments {
		if s[0] < 0 || s[0] >= int64(len(l.Blobs)) || s[1] < 0 || s[2] <= 0 || s[1] > l.Blobs[s[0]].Length-s[2] {
			return fmt.Errorf("layer: segment %d %v is not within its blob", i, s)
		}
		total += s[2]
	}
	if total != l.Length {
		return fmt.Errorf("layer: the segments make %d bytes, the file has %d", total, l.Length)
	}
	return nil
}

// starts returns where each segment of l begins in the file.
func (l *layer) starts() []int64 {
	starts := make([]int64, len(l.Segments))
	var off int64
	for i, sg := range l.Segments {
		starts[i] = off
		off += sg[2]
	}
	return starts
}

// parts calls fn with the part of each segment that bytes from..end of the
// file lie in (blob, offset, length), in order, until fn returns false;
// starts are l.starts(). It returns where it stopped: end, or less when
// the file ends before it.
func (l *layer) parts(starts []int64, from, end int64, fn func(part [3]int64) bool) int64 {
	i := sort.Search(len(starts), func(i int) bool { return starts[i] > from }) - 1
	for ; from < end && i >= 0 && i < len(starts); i++ {
		sg := l.Segments[i]
		in := from - starts[i]
		n := min(end-from, sg[2]-in)
		if !fn([3]int64{sg[0], sg[1] + in, n}) {
			return from
		}
		from += n
	}
	return from
}

// layerReader opens the blobs of l: where says the file of a blob it
// knows one for, else the store's blob is read.
func (s *Store) layerReader(l *layer, where func(sha string) string) (*segReader, error) {
	r := &segReader{l: l}
	for _, b := range l.Blobs {
		p := s.blobPath(b.SHA256)
		if where != nil {
			if w := where(b.SHA256); w != "" {
				p = w
			}
		}
		f, err := os.Open(p)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("blob %s of a layered file: %w", b.SHA256, err)
		}
		r.files = append(r.files, f)
		if fi, err := f.Stat(); err != nil || fi.Size() != b.Length {
			r.Close()
			return nil, fmt.Errorf("blob %s of a layered file is not its %d bytes", b.SHA256, b.Length)
		}
	}
	r.starts = l.starts()
	return r, nil
}

// segReader reads a layered file.
type segReader struct {
	l      *layer
	files  []*os.File
	starts []int64 // of each segment in the file
}

func (r *segReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= r.l.Length {
		return 0, io.EOF
	}
	n := 0
	var err error
	r.l.parts(r.starts, off, off+int64(len(p)), func(part [3]int64) bool {
		var k int
		k, err = r.files[part[0]].ReadAt(p[n:n+int(part[2])], part[1])
		n += k
		if k < int(part[2]) && (err == nil || err == io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return k == int(part[2])
	})
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

func (r *segReader) Close() error {
	for _, f := range r.files {
		f.Close()
	}
	return nil
}

// layerLoc encodes where a layer's own record is.
func layerLoc(blob, off, n int64) []byte {
	b := binary.AppendUvarint(nil, uint64(blob))
	b = binary.AppendUvarint(b, uint64(off))
	return binary.AppendUvarint(b, uint64(n))
}

// pendingLayer is a layer made while a delta is verified, whose record
// index the import writes (writeLargeLayers, putLayers) once the delta
// verified.
type pendingLayer struct {
	sha   string // of the file
	path  string // in the kit
	patch string // sha256 of the patch blob the layer reads, placed with the kit
	// patchLen is the patch blob's length.
	patchLen int64
	es       entries
	lay      *layer
	// written is set when writeLargeLayers wrote the index (but its
	// completion key).
	written bool
	// hashed gives the result of hashing the file over its segments, r.
	hashed chan error
	r      *segReader
	err    error // received from hashed, once done
	done   bool
}

// baseOf reads, in one read transaction, what a patch applies to: the
// blob sha (as a layer: itself the anchor, or its layer), and the
// anchor's record counts. ok is false when the file cannot be layered on:
// the store holds no complete record index of it or of its anchor.
func (s *Store) baseOf(ctx context.Context, sha string, length int64) (base *layer, anchorCounts map[string]int, ok bool, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		b, err := recordIndex(tx, sha)
		if err != nil {
			return nil // no index: not layered on
		}
		l, err := readLayer(b, true)
		if err != nil {
			return err
		}
		if l == nil {
			l = &layer{Blobs: []layerBlob{{SHA256: sha, Length: length}}, Segments: [][3]int64{{0, 0, length}}, Length: length}
			if length == 0 {
				l.Segments = nil
			}
		} else if l.Length != length {
			return nil
		}
		ab, err := recordIndex(tx, l.Blobs[0].SHA256)
		if err != nil {
			return nil
		}
		if al, err := readLayer(ab, false); err != nil || al != nil {
			return err // an anchor is plain
		}
		anchorCounts = map[string]int{}
		err = scanPrefix(ab, []byte{'e'}, func(eco, v []byte) error {
			n, err := strconv.Atoi(string(v))
			anchorCounts[string(eco)] = n
			return err
		})
		base, ok = l, err == nil
		return err
	})
	return base, anchorCounts, ok, err
}

// makeLayer makes the layer of the file the patch h makes on base, the
// patch staged at patchFile with sha256 patchSHA and its data at
// dataStart: the segments, checked to hold whole lines, the file's sha256
// over them, and its record index. It returns nil when the layer would
// hold more than 1/maxLayerShare of the file, or its segments would not
// be whole lines: the file is then written whole.
func (s *Store) makeLayer(ctx context.Context, h *bundle.PatchHeader, base *layer, anchorCounts map[string]int, patchSHA, patchFile string, patchLen, dataStart int64) (*pendingLayer, error) {
	l := &layer{Blobs: slices.Clone(base.Blobs), Length: h.Result.Length}
	patchIdx := int64(len(l.Blobs))
	l.Blobs = append(l.Blobs, layerBlob{SHA256: patchSHA, Length: patchLen})
	add := func(sg [3]int64) {
		if n := len(l.Segments) - 1; n >= 0 && l.Segments[n][0] == sg[0] && l.Segments[n][1]+l.Segments[n][2] == sg[1] {
			l.Segments[n][2] += sg[2]
			return
		}
		l.Segments = append(l.Segments, sg)
	}
	starts := base.starts()
	for _, op := range h.Ops {
		if op[0] == bundle.OpInsert {
			add([3]int64{patchIdx, dataStart + op[1], op[2]})
			continue
		}
		// A copy of the base's bytes op[1]..op[1]+op[2]: the parts of the
		// base's segments it covers.
		end := op[1] + op[2]
		if base.parts(starts, op[1], end, func(part [3]int64) bool { add(part); return true }) < end {
			return nil, fmt.Errorf("the patch copies past the end of its base")
		}
	}
	// Keep only the blobs the segments read.
	used := make([]bool, len(l.Blobs))
	used[0] = true
	var own int64
	for _, sg := range l.Segments {
		used[sg[0]] = true
		if sg[0] != 0 {
			own += sg[2]
		}
	}
	if own*maxLayerShare > l.Length {
		return nil, nil
	}
	renum := make([]int64, len(l.Blobs))
	var kept []layerBlob
	for i, b := range l.Blobs {
		if used[i] {
			renum[i] = int64(len(kept))
			kept = append(kept, b)
		}
	}
	l.Blobs = kept
	for i := range l.Segments {
		l.Segments[i][0] = renum[l.Segments[i][0]]
	}
	if err := l.check(); err != nil {
		return nil, err
	}

	r, err := s.layerReader(l, func(sha string) string {
		if sha == patchSHA {
			return patchFile
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	// The file's bytes must be the ones the patch names (and the full
	// kit's targets, checkPatches): hashed over the segments on a
	// goroutine of its own while the layer's index is made and the kit's
	// stream goes on; writeLayers waits for it. A patch whose bytes are
	// not the ones it names fails as such, whatever else is wrong.
	hashed := make(chan error, 1)
	go func() {
		hash := sha256.New()
		_, err := io.CopyBuffer(hash, ctxReader{ctx, io.NewSectionReader(r, 0, l.Length)}, make([]byte, 1<<20))
		if err == nil {
			if got := hex.EncodeToString(hash.Sum(nil)); got != h.Result.SHA256 {
				err = bundle.Errorf(bundle.CodeDigestMismatch, h.Path, "sha256 is %s, the patch says %s", got, h.Result.SHA256)
			}
		}
		hashed <- err
	}()
	pl, err := layerIndex(h, l, r, anchorCounts)
	if pl == nil {
		herr := <-hashed
		r.Close()
		var be *bundle.Error
		if errors.As(herr, &be) {
			return nil, &stopError{be}
		}
		if herr != nil {
			return nil, herr
		}
		return nil, err
	}
	if dup, err := s.duplicatesAnchor(l, pl.es); err != nil || dup {
		// A record id the file holds twice: the layer cannot say which
		// line a lookup gives, the file written whole can (the last).
		<-hashed
		r.Close()
		return nil, err
	}
	pl.patch, pl.hashed, pl.r, pl.lay = patchSHA, hashed, r, l
	return pl, nil
}

// duplicatesAnchor reports whether the layer l whose index entries are es
// has an own record id that a line of the anchor it keeps also has, or
// drops a line of the anchor whose id the anchor's index finds in a line
// it keeps: a file with an id twice.
func (s *Store) duplicatesAnchor(l *layer, es entries) (bool, error) {
	var kept [][2]int64
	for _, sg := range l.Segments {
		if sg[0] == 0 {
			kept = append(kept, [2]int64{sg[1], sg[1] + sg[2]})
		}
	}
	slices.SortFunc(kept, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	inKept := func(off uint64) bool {
		i := sort.Search(len(kept), func(i int) bool { return kept[i][1] > int64(off) })
		return i < len(kept) && kept[i][0] <= int64(off)
	}
	dup := false
	err := s.view(context.Background(), func(tx *bolt.Tx) error {
		ab, err := recordIndex(tx, l.Blobs[0].SHA256)
		if err != nil {
			return err
		}
		c := ab.Cursor()
		key := []byte{'r'}
		for i := range es.Len() {
			k, _ := es.At(i)
			if k[0] != 'r' && k[0] != 'x' {
				continue
			}
			key = append(key[:1], k[1:]...)
			ak, v := c.Seek(key)
			if !bytes.Equal(ak, key) {
				continue
			}
			off, _, err := plainLoc(v)
			if err != nil {
				return err
			}
			if inKept(off) {
				dup = true
				return nil
			}
		}
		return nil
	})
	return dup, err
}

// layerIndex makes the record index of the layer l read by r, the file
// of h, nil when its segments are not whole lines.
func layerIndex(h *bundle.PatchHeader, l *layer, r *segReader, anchorCounts map[string]int) (*pendingLayer, error) {
	// Every segment holds whole lines: it starts a line of its blob and
	// ends one (or the file).
	edge := make([]byte, 1)
	lineEdge := func(f *os.File, at int64) bool {
		if at == 0 {
			return true
		}
		_, err := f.ReadAt(edge, at-1)
		return err == nil && edge[0] == '\n'
	}
	for i, sg := range l.Segments {
		f := r.files[sg[0]]
		if !lineEdge(f, sg[1]) || (i < len(l.Segments)-1 && !lineEdge(f, sg[1]+sg[2])) {
			return nil, nil
		}
	}

	// The records outside the anchor are the layer's own; the anchor's
	// lines that no segment keeps are dropped.
	w := &IndexWriter{}
	var buf []byte // reused by linesAt
	counts := anchorCounts
	var anchorKept [][2]int64
	for _, sg := range l.Segments {
		if sg[0] == 0 {
			anchorKept = append(anchorKept, [2]int64{sg[1], sg[1] + sg[2]})
			continue
		}
		err := linesAt(r.files[sg[0]], sg[1], sg[2], &buf, func(off int64, rec []byte) error {
			return indexRecordAt(rec, layerLoc(sg[0], off, int64(len(rec))), w, counts, 1)
		})
		if err != nil {
			return nil, &IndexError{Indexer: advisoriesIndex, Path: h.Path, Err: err}
		}
	}
	slices.SortFunc(anchorKept, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	var dropped [][2]int64
	at := int64(0)
	for _, k := range anchorKept {
		if k[0] < at {
			return nil, nil // overlapping copies of the anchor: not a layer
		}
		if k[0] > at {
			dropped = append(dropped, [2]int64{at, k[0]})
		}
		at = k[1]
	}
	if n := l.Blobs[0].Length; n > at {
		dropped = append(dropped, [2]int64{at, n})
	}
	var gone int64
	for _, d := range dropped {
		gone += d[1] - d[0]
	}
	if gone*maxLayerShare > l.Blobs[0].Length {
		return nil, nil // most of the anchor is gone: the file is the next anchor
	}
	goneIDs := &IndexWriter{}
	for _, d := range dropped {
		err := linesAt(r.files[0], d[0], d[1]-d[0], &buf, func(_ int64, rec []byte) error { return indexRecordAt(rec, nil, goneIDs, counts, -1) })
		if err != nil {
			return nil, &IndexError{Indexer: advisoriesIndex, Path: l.Blobs[0].SHA256, Err: err}
		}
	}
	es := goneIDs.sorted()
	for i := range es.Len() {
		if k, _ := es.At(i); k[0] == 'r' {
			if err := w.Put(append([]byte{'x'}, k[1:]...), nil); err != nil {
				return nil, err
			}
		}
	}
	for _, eco := range sortedKeys(counts) {
		if counts[eco] > 0 {
			if err := w.Put(ikey('e', eco), []byte(strconv.Itoa(counts[eco]))); err != nil {
				return nil, err
			}
		}
	}
	lj, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	sj, err := json.Marshal(l.Segments)
	if err != nil {
		return nil, err
	}
	if err := w.Put(keyLayer, lj); err != nil {
		return nil, err
	}
	if err := w.Put(keySegments, sj); err != nil {
		return nil, err
	}
	return &pendingLayer{sha: h.Result.SHA256, path: h.Path, es: w.sorted()}, nil
}

// layerOf returns the layer of the file sha if tx holds its record index
// complete and layered, else nil.
func layerOf(tx *bolt.Tx, sha string, segments bool) (*layer, error) {
	root := tx.Bucket(bucketRecordIndex)
	if root == nil {
		return nil, nil
	}
	b := root.Bucket([]byte(sha))
	if b == nil || b.Get(keyComplete) == nil {
		return nil, nil
	}
	l, err := readLayer(b, segments)
	if err != nil {
		return nil, fmt.Errorf("the record index of %s: %w", sha, err)
	}
	return l, nil
}

// layerBlobs returns the blobs of l, none for nil.
func layerBlobs(l *layer) []layerBlob {
	if l == nil {
		return nil
	}
	return l.Blobs
}

// linesOf calls fn with every non-blank line of buf, as forEachLine does
// for a reader: the offset of its first non-blank byte and the line
// without surrounding white space.
func linesOf(buf []byte, fn func(off int64, rec []byte) error) error {
	for off := 0; off < len(buf); {
		n := bytes.IndexByte(buf[off:], '\n') + 1
		if n == 0 {
			n = len(buf) - off
		}
		line := buf[off : off+n]
		if len(line) > MaxAdvisorySize+1 {
			return fmt.Errorf("a record is larger than %d bytes", MaxAdvisorySize)
		}
		if rec := bytes.TrimSpace(line); len(rec) > 0 {
			lead := len(line) - len(bytes.TrimLeft(line, " \t\r\n"))
			if err := fn(int64(off+lead), rec); err != nil {
				return err
			}
		}
		off += n
	}
	return nil
}

// wait waits for the file's hash and returns its error.
func (pl *pendingLayer) wait() error {
	if !pl.done {
		pl.err, pl.done = <-pl.hashed, true
		pl.r.Close()
	}
	return pl.err
}

// linesAt calls fn with every non-blank line of the n bytes of f at off,
// as linesOf does, the offsets in f. A part of up to 1 MiB is read whole
// into *buf (reused); a larger one is read through a buffer.
func linesAt(f io.ReaderAt, off, n int64, buf *[]byte, fn func(off int64, rec []byte) error) error {
	if n > 1<<20 {
		return forEachLine(io.NewSectionReader(f, off, n), MaxAdvisorySize, func(_ int, at int64, rec []byte) error {
			return fn(off+at, rec)
		})
	}
	if int64(cap(*buf)) < n {
		*buf = make([]byte, n, max(n, 64<<10))
	}
	b := (*buf)[:n]
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	return linesOf(b, func(at int64, rec []byte) error { return fn(off+at, rec) })
}

// openFile opens the bytes of the file t: the file at where(t.SHA256), or
// if there is none, the layered file of that sha256 (pending, if the
// import made it, else the store's), its blobs where says.
func (s *Store) openFile(t verify.Target, where func(sha string) string, pending func(sha string) *layer) (io.ReadCloser, error) {
	f, err := os.Open(where(t.SHA256))
	if !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	var l *layer
	if pending != nil {
		l = pending(t.SHA256)
	}
	if l == nil {
		if verr := s.view(context.Background(), func(tx *bolt.Tx) error {
			var err error
			l, err = layerOf(tx, t.SHA256, true)
			return err
		}); verr != nil {
			return nil, verr
		}
	}
	if l == nil {
		return nil, err
	}
	r, lerr := s.layerReader(l, where)
	if lerr != nil {
		return nil, lerr
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(r, 0, l.Length), r}, nil
}
