package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Entry is one entry of a kit as the Reader met it.
type Entry struct {
	Name string
	Size int64
}

// Reader reads a kit as a stream, entry by entry, enforcing the format's
// safety rules. It is not safe for concurrent use.
type Reader struct {
	budget *budgetReader
	dec    *decoder // nil once closed
	tr     *tar.Reader
	seen   map[string]bool
	inBody bool   // a content entry has been seen
	last   string // last content name
	err    error  // sticky stream error
	cur    *Entry
	// hdrName and hdrLeft are the name of the last tar header and how many
	// of its data bytes are unread: tr.Next skips them, and a failure
	// while skipping (a bomb, a cut) concerns that entry.
	hdrName string
	hdrLeft int64
	// rec records the padding and header blocks tar.Reader.Next reads;
	// pad is how many padding bytes follow the last entry's data; mtime
	// is the first entry's mtime (header.go).
	rec   *headerRecorder
	pad   int64
	mtime time.Time
}

// NewReader starts reading a kit from r. Close releases the decoder.
func NewReader(r io.Reader) (*Reader, error) {
	dec, err := getDecoder(r)
	if err != nil {
		return nil, err
	}
	b := &budgetReader{r: dec.zr, left: DefaultMetadataBudget}
	rec := &headerRecorder{r: b}
	return &Reader{budget: b, dec: dec, tr: tar.NewReader(rec), rec: rec, seen: map[string]bool{}}, nil
}

// Close releases the reader's resources. It does not close the underlying
// reader. After Close, Next and Read fail; Close may be called again.
func (r *Reader) Close() {
	if r.dec == nil {
		return
	}
	putDecoder(r.dec)
	r.dec = nil
	r.budget.r = closedReader{} // the decoder is another Reader's now
}

var errClosed = errors.New("bundle: read after Close")

type closedReader struct{}

func (closedReader) Read([]byte) (int, error) { return 0, errClosed }

// decoder is a zstd decoder with the buffered reader it reads the kit
// through.
type decoder struct {
	zr *zstd.Decoder
	br *bufio.Reader
}

// idleDecoder keeps the decoder of the last Reader closed for the next
// one. On a stream's first block a zstd decoder allocates, and the runtime
// clears, a history buffer of the frame's window plus two blocks (8 MiB
// and a little more for every kit ferry writes: the frame header gives the
// window, never the content size, so a small kit costs as much as a large
// one); it keeps the buffer across Reset. Reusing it takes that fixed cost
// off every kit but the first that a process reads, which is most of what
// a small kit such as a delta costs to decompress. One idle decoder is
// kept, no more: a process rarely reads two kits at once, and each holds
// its window (at most the 32 MiB the decoder options allow).
var idleDecoder = make(chan *decoder, 1)

func getDecoder(r io.Reader) (*decoder, error) {
	select {
	case d := <-idleDecoder:
		d.br.Reset(r)
		if err := d.zr.Reset(d.br); err == nil {
			return d, nil
		}
		d.zr.Close()
	default:
	}
	// Always a buffer of its own: NewReaderSize would return r itself if
	// it were a large enough *bufio.Reader, and putDecoder resets it.
	br := bufio.NewReaderSize(nil, 1<<20)
	br.Reset(r)
	zr, err := zstd.NewReader(br, decoderOptions()...)
	if err != nil {
		return nil, err
	}
	return &decoder{zr: zr, br: br}, nil
}

// putDecoder stops d's stream, drops its references to the kit and keeps
// it for the next Reader, or closes it when one is kept already.
func putDecoder(d *decoder) {
	if err := d.zr.Reset(nil); err != nil {
		d.zr.Close()
		return
	}
	d.br.Reset(nil)
	select {
	case idleDecoder <- d:
	default:
		d.zr.Close()
	}
}

// Consumed is how many decompressed bytes have been read so far.
func (r *Reader) Consumed() int64 { return r.budget.n }

// SetBudget allows n more decompressed bytes from now on. A kit that
// expands beyond its budget fails with KIT_TOO_LARGE (a decompression bomb,
// or content that its targets do not declare).
func (r *Reader) SetBudget(n int64) { r.budget.left = n }

// Err returns the stream error that stopped the reader, if any.
func (r *Reader) Err() error { return r.err }

// Next advances to the next entry. It returns io.EOF at the end of the kit.
//
// An *Error with code KIT_UNSAFE_PATH, KIT_UNSAFE_ENTRY_TYPE,
// KIT_DUPLICATE_ENTRY or KIT_MALFORMED (order) concerns one entry: the
// entry is skipped and Next may be called again. When the stream itself is
// broken (KIT_TRUNCATED, KIT_MALFORMED, KIT_TOO_LARGE) Err returns it and
// every later call returns it too.
func (r *Reader) Next() (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.cur = nil
	if r.hdrLeft > 0 {
		// Skip the unread data here rather than in tr.Next, so that
		// only the padding and the header blocks are recorded.
		if _, err := io.Copy(io.Discard, r.tr); err != nil {
			return nil, r.failAt(r.hdrName, err)
		}
	}
	prev, pad := r.hdrName, r.pad
	r.rec.start()
	hdr, err := r.tr.Next()
	raw := r.rec.stop()
	if err == io.EOF {
		if terr := checkTrailer(raw, pad, prev); terr != nil {
			return nil, r.fail(terr)
		}
		if derr := r.drain(); derr != nil {
			return nil, r.fail(derr)
		}
		return nil, io.EOF
	}
	if errors.Is(err, tar.ErrInsecurePath) && hdr != nil {
		// GODEBUG=tarinsecurepath=0: the header is fine to use, and
		// CheckPath below is stricter than archive/tar.
		err = nil
	}
	if err != nil {
		return nil, r.failAt("", err)
	}
	if err := checkPadding(raw, pad, prev); err != nil {
		return nil, r.fail(err)
	}
	raw = raw[pad:]
	name := hdr.Name
	r.hdrName, r.hdrLeft, r.pad = name, hdr.Size, padding(hdr.Size)
	if headerOnly(hdr.Typeflag) {
		r.hdrLeft, r.pad = 0, 0
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
	case tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo, tar.TypeDir, tar.TypeCont:
		return nil, Errorf(CodeUnsafeEntryType, name, "entry type %q is not a regular file (%s)", hdr.Typeflag, typeName(hdr.Typeflag))
	default:
		return nil, Errorf(CodeUnsafeEntryType, name, "entry type %q is not a regular file", hdr.Typeflag)
	}
	if p := CheckPath(name); p != "" {
		return nil, Errorf(CodeUnsafePath, name, "%s", p)
	}
	if hdr.Size < 0 {
		return nil, r.fail(Errorf(CodeMalformed, name, "negative size"))
	}
	if err := r.checkHeader(hdr, raw); err != nil {
		return nil, err
	}
	if r.seen[name] {
		return nil, Errorf(CodeDuplicateEntry, name, "entry appears more than once")
	}
	r.seen[name] = true
	if strings.HasPrefix(name, MetaDir) {
		if r.inBody {
			return nil, Errorf(CodeMalformed, name, "TUF metadata after content entries")
		}
	} else {
		if r.inBody && name < r.last {
			return nil, Errorf(CodeMalformed, name, "content not sorted: %q comes after %q", name, r.last)
		}
		r.inBody, r.last = true, name
	}
	r.cur = &Entry{Name: name, Size: hdr.Size}
	return r.cur, nil
}

// Read reads the current entry's content.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.cur == nil {
		return 0, io.EOF
	}
	n, err := r.tr.Read(p)
	r.hdrLeft -= int64(n)
	if err != nil && err != io.EOF {
		return n, r.fail(err)
	}
	if err == io.EOF && r.hdrLeft != 0 {
		return n, r.fail(Errorf(CodeTruncated, r.cur.Name, "entry ends early"))
	}
	return n, err
}

// ReadAll reads the current entry whole, refusing one larger than max.
func (r *Reader) ReadAll(max int64) ([]byte, error) {
	if r.cur == nil {
		return nil, errors.New("no current entry")
	}
	if r.cur.Size > max {
		return nil, r.fail(Errorf(CodeTooLarge, r.cur.Name, "entry of %d bytes exceeds the limit of %d", r.cur.Size, max))
	}
	// Grow with the data rather than trusting the declared size: a tiny
	// kit must not make us allocate the full limit up front.
	var buf bytes.Buffer
	buf.Grow(int(min(r.cur.Size, 64<<10)))
	n, err := buf.ReadFrom(io.LimitReader(r, r.cur.Size))
	if err != nil {
		if r.err != nil {
			return nil, r.err
		}
		return nil, r.fail(err)
	}
	if n != r.cur.Size {
		return nil, r.fail(Errorf(CodeTruncated, r.cur.Name, "entry ends early"))
	}
	return buf.Bytes(), nil
}

// drain checks that nothing but the tar trailer and the end of the zstd
// stream follow the last entry.
func (r *Reader) drain() error {
	var buf [4096]byte
	for {
		n, err := r.budget.Read(buf[:])
		for _, c := range buf[:n] {
			if c != 0 {
				return Errorf(CodeMalformed, "", "data after the end of the tar archive")
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// fail turns a stream error into a sticky *Error about the current entry.
func (r *Reader) fail(err error) error { return r.failAt(r.curName(), err) }

// failAt turns a stream error into a sticky *Error about entry name.
func (r *Reader) failAt(name string, err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, errBudget):
		e = Errorf(CodeTooLarge, name, "the kit expands beyond what its targets declare (decompression bomb or undeclared content)")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		e = Errorf(CodeTruncated, name, "the kit ends early (truncated file?)")
	case errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrInsecurePath):
		e = Errorf(CodeMalformed, name, "invalid tar header: %v", err)
	default:
		if isZstdError(err) {
			e = Errorf(CodeMalformed, name, "corrupt zstd stream: %v", err)
		} else {
			e = Errorf(CodeMalformed, name, "%v", err)
		}
	}
	r.err = e
	return e
}

func (r *Reader) curName() string {
	if r.cur != nil {
		return r.cur.Name
	}
	return ""
}

func isZstdError(err error) bool {
	for _, z := range []error{zstd.ErrMagicMismatch, zstd.ErrCRCMismatch, zstd.ErrBlockTooSmall, zstd.ErrReservedBlockType,
		zstd.ErrCompressedSizeTooBig, zstd.ErrWindowSizeExceeded, zstd.ErrWindowSizeTooSmall, zstd.ErrDecoderSizeExceeded,
		zstd.ErrUnknownDictionary, zstd.ErrFrameSizeExceeded, zstd.ErrFrameSizeMismatch} {
		if errors.Is(err, z) {
			return true
		}
	}
	return strings.Contains(err.Error(), "zstd") || strings.Contains(err.Error(), "corrupt")
}

// headerOnly reports whether archive/tar gives entries of type t no data.
func headerOnly(t byte) bool {
	switch t {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return true
	}
	return false
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	case tar.TypeDir:
		return "directory"
	}
	return "other"
}

var errBudget = fmt.Errorf("decompressed size budget exceeded")

// budgetReader counts decompressed bytes and refuses to go past its budget.
type budgetReader struct {
	r    io.Reader
	n    int64
	left int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errBudget
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.left -= int64(n)
	return n, err
}
