package bundle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// A delta kit may carry a changed advisories file (a source's osv.jsonl:
// one record a line) as a patch on the base's file instead of
// whole: a day that modifies 1 % of the records ships those records, not
// the source again. The patch of path P is the content file
// PatchDir + P, media type MediaPatch:
//
//	{"schema":"ferry.dev/patch/v1","path":P,"base":{"sha256":…,"length":…},
//	 "result":{"sha256":…,"length":…},"ops":[[0,OFF,LEN],[1,OFF,LEN],…]}\n
//	DATA
//
// One line of JSON, then DATA: the lines of the result that the base does
// not have, verbatim, newlines included. The result is the ops in order:
// [0,OFF,LEN] copies LEN bytes of the base at OFF, [1,OFF,LEN] the next
// LEN bytes of DATA (OFF says where they start: every insert takes DATA
// from where the last one ended, and together they take all of it).
// Copies go forward through the base and never overlap, so a result is
// never longer than the base and DATA. The result's sha256 is the one the
// full kit's targets list for P: an import checks it as it writes it.
// The records a patch inserts lie in DATA as they lie in the result,
// whole lines, so a store may address them where the patch holds them.
const (
	PatchSchema = "ferry.dev/patch/v1"
	MediaPatch  = "application/vnd.ferry.patch"
	// PatchDir is the directory of a delta's patches; a full kit never
	// holds a path under it.
	PatchDir = "delta/"
)

// MaxPatchHeader caps the first line of a patch (its ops), read before
// DATA: 64 MiB holds the ops of a change to millions of records.
const MaxPatchHeader = 64 << 20

// PatchPath is where a delta carries the patch of the full kit's path p.
func PatchPath(p string) string { return PatchDir + p }

// Patchable reports whether a delta may carry the file at path as a patch:
// a source's advisories, advisories/<source>/osv.jsonl.
func Patchable(path string) bool {
	source, ok := strings.CutSuffix(path, "/osv.jsonl")
	source, ok2 := strings.CutPrefix(source, "advisories/")
	return ok && ok2 && source != "" && !strings.Contains(source, "/")
}

// PatchFile names a file by content.
type PatchFile struct {
	SHA256 string `json:"sha256"`
	Length int64  `json:"length"`
}

// Patch ops.
const (
	OpCopy   = 0 // copy LEN bytes of the base at OFF
	OpInsert = 1 // the next LEN bytes of DATA, which start at OFF
)

// PatchOp is one op: kind, offset, length.
type PatchOp [3]int64

// PatchHeader is the first line of a patch.
type PatchHeader struct {
	Schema string    `json:"schema"`
	Path   string    `json:"path"`
	Base   PatchFile `json:"base"`
	Result PatchFile `json:"result"`
	Ops    []PatchOp `json:"ops"`
}

// ErrPatchNotSmaller is MakePatch's answer when a patch would not be
// smaller than maxSize: the file is better carried whole.
var ErrPatchNotSmaller = errors.New("the patch is not smaller than the file")

// MakePatch returns the patch that turns base into next, the file at path,
// or ErrPatchNotSmaller when it would exceed maxSize bytes: MakePatchFrom
// on bytes in memory.
func MakePatch(path string, base, next []byte, maxSize int) ([]byte, error) {
	return MakePatchFrom(path, bytes.NewReader(base), int64(len(base)), bytes.NewReader(next), maxSize)
}

// MakePatchFrom returns the patch that turns base (baseLen bytes) into the
// bytes next gives, the file at path, or ErrPatchNotSmaller when it would
// exceed maxSize bytes. A line of next is copied when the same bytes are a
// line of base after the last line copied; every other line is inserted.
// For files sorted by a key, as osv.jsonl is by id, that keeps every
// unchanged record. Base is read twice from start to end (its lines
// hashed, then the lines copied compared), next once; what it holds is the
// hash of each line of base (16 bytes a line) and the inserted lines.
func MakePatchFrom(path string, base io.ReaderAt, baseLen int64, next io.Reader, maxSize int) ([]byte, error) {
	patch, _, err := makePatch(path, base, baseLen, next, maxSize)
	return patch, err
}

// makePatch is MakePatchFrom, which also returns the patch's header.
func makePatch(path string, base io.ReaderAt, baseLen int64, next io.Reader, maxSize int) ([]byte, *PatchHeader, error) {
	if msg := CheckPath(path); msg != "" {
		return nil, nil, fmt.Errorf("patch of %q: %s", path, msg)
	}
	// The first offset of each line of base, by its hash; a hash that two
	// different lines share is compared by bytes, and a miss is only an
	// insert.
	at := map[uint64]int64{}
	bh := sha256.New()
	br := bufio.NewReaderSize(io.NewSectionReader(base, 0, baseLen), 1<<20)
	var off int64
	err := eachLine(br, func(line []byte) {
		bh.Write(line)
		h := xxhash.Sum64(line)
		if _, ok := at[h]; !ok {
			at[h] = off
		}
		off += int64(len(line))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("patch of %s: reading the base: %w", path, err)
	}
	if off != baseLen {
		return nil, nil, fmt.Errorf("patch of %s: the base has %d bytes, not %d", path, off, baseLen)
	}
	var ops []PatchOp
	var data bytes.Buffer
	add := func(kind int64, off, n int64) {
		if last := len(ops) - 1; last >= 0 && ops[last][0] == kind && ops[last][1]+ops[last][2] == off {
			ops[last][2] += n
			return
		}
		ops = append(ops, PatchOp{kind, off, n})
	}
	// The base again, forward only: each line copied is compared there.
	fwd := &forward{r: bufio.NewReaderSize(io.NewSectionReader(base, 0, baseLen), 1<<20)}
	nh := sha256.New()
	var nextLen int64
	tooBig := false
	err = eachLine(bufio.NewReaderSize(next, 1<<20), func(line []byte) {
		nh.Write(line)
		nextLen += int64(len(line))
		if tooBig {
			return
		}
		if b, ok := at[xxhash.Sum64(line)]; ok && fwd.equal(b, line) {
			add(OpCopy, b, int64(len(line)))
			return
		}
		add(OpInsert, int64(data.Len()), int64(len(line)))
		data.Write(line)
		tooBig = data.Len() >= maxSize
	})
	if err != nil {
		return nil, nil, fmt.Errorf("patch of %s: %w", path, err)
	}
	if fwd.err != nil {
		return nil, nil, fmt.Errorf("patch of %s: reading the base: %w", path, fwd.err)
	}
	if tooBig {
		return nil, nil, ErrPatchNotSmaller
	}
	h := PatchHeader{
		Schema: PatchSchema, Path: path,
		Base:   PatchFile{SHA256: hex.EncodeToString(bh.Sum(nil)), Length: baseLen},
		Result: PatchFile{SHA256: hex.EncodeToString(nh.Sum(nil)), Length: nextLen},
		Ops:    ops,
	}
	if h.Ops == nil {
		h.Ops = []PatchOp{}
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, nil, err
	}
	if len(hj)+1+data.Len() >= maxSize {
		return nil, nil, ErrPatchNotSmaller
	}
	return append(append(hj, '\n'), data.Bytes()...), &h, nil
}

// eachLine calls fn with every line of r, its newline included (the last
// may have none); line is valid only during the call.
func eachLine(r *bufio.Reader, fn func(line []byte)) error {
	var long []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long, chunk...)
			continue
		}
		line := chunk
		if long != nil {
			line, long = append(long, chunk...), nil
		}
		if len(line) > 0 {
			fn(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// forward reads a file from start to end, comparing lines at offsets that
// only grow: the base of MakePatchFrom, whose copies go forward.
type forward struct {
	r   *bufio.Reader
	pos int64
	buf []byte
	err error
}

// equal reports whether the bytes at off are line; off before what was
// read already is not compared (an insert: rare, a hash two lines share).
func (f *forward) equal(off int64, line []byte) bool {
	if f.err != nil || off < f.pos {
		return false
	}
	if n, err := f.r.Discard(int(off - f.pos)); err != nil {
		f.pos += int64(n)
		return false
	}
	f.pos = off
	if cap(f.buf) < len(line) {
		f.buf = make([]byte, len(line))
	}
	b := f.buf[:len(line)]
	n, err := io.ReadFull(f.r, b)
	f.pos += int64(n)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		f.err = err
	}
	return n == len(line) && bytes.Equal(b, line)
}

// ReadPatchHeader reads the first line of a patch of size bytes from r
// and checks it: schema, path, digests, and ops that copy forward through
// the base without overlap, take DATA in order and whole, and add up to
// the result's length. r is left at DATA.
func ReadPatchHeader(r *bufio.Reader, size int64) (*PatchHeader, error) {
	line, err := readLine(r, MaxPatchHeader)
	if err != nil {
		return nil, fmt.Errorf("patch header: %w", err)
	}
	var h PatchHeader
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("patch header: %w", err)
	}
	if dec.More() {
		return nil, errors.New("patch header: more than one JSON value on its line")
	}
	if h.Schema != PatchSchema {
		return nil, fmt.Errorf("patch header: schema %q is not %q", h.Schema, PatchSchema)
	}
	if msg := CheckPath(h.Path); msg != "" || !Patchable(h.Path) {
		return nil, fmt.Errorf("patch header: path %q is not a file a delta may patch", h.Path)
	}
	for name, f := range map[string]PatchFile{"base": h.Base, "result": h.Result} {
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size || f.SHA256 != strings.ToLower(f.SHA256) {
			return nil, fmt.Errorf("patch header: %s sha256 %q is not a hex sha256", name, f.SHA256)
		}
		if f.Length < 0 {
			return nil, fmt.Errorf("patch header: %s length %d", name, f.Length)
		}
	}
	dataLen := size - int64(len(line)) - 1
	var cursor, taken, total int64
	for i, op := range h.Ops {
		kind, off, n := op[0], op[1], op[2]
		if n <= 0 || off < 0 {
			return nil, fmt.Errorf("patch header: op %d: offset %d length %d", i, off, n)
		}
		switch kind {
		case OpCopy:
			if off < cursor || off > h.Base.Length-n {
				return nil, fmt.Errorf("patch header: op %d copies base bytes %d to %d: not forward of %d within its %d bytes", i, off, off+n, cursor, h.Base.Length)
			}
			cursor = off + n
		case OpInsert:
			if off != taken || n > dataLen-taken {
				return nil, fmt.Errorf("patch header: op %d inserts data bytes %d to %d: not the %d to %d the data has next", i, off, off+n, taken, dataLen)
			}
			taken += n
		default:
			return nil, fmt.Errorf("patch header: op %d: kind %d is neither copy (0) nor insert (1)", i, kind)
		}
		total += n
	}
	if taken != dataLen {
		return nil, fmt.Errorf("patch header: the ops insert %d data bytes, the patch has %d", taken, dataLen)
	}
	if total != h.Result.Length {
		return nil, fmt.Errorf("patch header: the ops make %d bytes, the result has %d", total, h.Result.Length)
	}
	return &h, nil
}

// readLine reads one line of at most max bytes, without its newline.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > max+1 {
			return nil, fmt.Errorf("longer than %d bytes", max)
		}
		if err == nil {
			return line[:len(line)-1], nil
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// PatchReader returns the result of a patch whose header h was read from
// data (ReadPatchHeader), on base: the bytes, not their digest, which the
// caller checks. A base shorter than a copy fails the read.
func PatchReader(h *PatchHeader, base io.ReaderAt, data io.Reader) io.Reader {
	return &patchReader{ops: h.Ops, base: base, data: data}
}

type patchReader struct {
	ops  []PatchOp
	base io.ReaderAt
	data io.Reader
	done int64 // of ops[0]
}

func (p *patchReader) Read(b []byte) (int, error) {
	for len(p.ops) > 0 && p.done == p.ops[0][2] {
		p.ops, p.done = p.ops[1:], 0
	}
	if len(p.ops) == 0 {
		return 0, io.EOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	op := p.ops[0]
	want := min(int64(len(b)), op[2]-p.done)
	var n int
	var err error
	if op[0] == OpCopy {
		n, err = p.base.ReadAt(b[:want], op[1]+p.done)
		if n == int(want) {
			err = nil
		} else if err == nil || err == io.EOF {
			err = fmt.Errorf("the base ends before byte %d that the patch copies", op[1]+p.done+int64(n))
		}
	} else {
		n, err = io.ReadFull(p.data, b[:want])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = errors.New("the patch's data ends before its ops do")
		}
	}
	p.done += int64(n)
	return n, err
}
