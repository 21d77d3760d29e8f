package mirror

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/parallel"
	"github.com/ferry-dev/ferry/osv"
)

// MaxOSVRecord caps one OSV record.
const MaxOSVRecord = 16 << 20

// OSVOptions configures an OSV collection.
type OSVOptions struct {
	// SkipInvalid counts and lists invalid records instead of failing.
	SkipInvalid bool
	// At decides which records are withdrawn (withdrawn ≤ At).
	At time.Time
	// TempDir receives the sorted JSONL.
	TempDir string
}

// InvalidRecord is an OSV record that was refused.
type InvalidRecord struct {
	File   string `json:"file"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// OSVResult is a collected OSV source: one JSONL file, one compact record a
// line, sorted by id, withdrawn records left out.
type OSVResult struct {
	Path      string
	Size      int64
	Records   int
	Withdrawn int
	Invalid   []InvalidRecord
	// Digest is the sha256 of the source as fetched: the zip, or for a
	// directory the sha256 of its sorted "path NUL sha256 LF" list.
	Digest string
}

// OSVSourceError is an invalid record that fails the source.
type OSVSourceError struct {
	Record InvalidRecord
}

func (e *OSVSourceError) Error() string {
	id := e.Record.ID
	if id == "" {
		id = "(no id)"
	}
	return fmt.Sprintf("%s: record %s: %s (set skip-invalid: true to count and skip such records)", e.Record.File, id, e.Record.Reason)
}

// CollectOSVDir collects every *.json record under dir.
func CollectOSVDir(ctx context.Context, dir string, o OSVOptions) (*OSVResult, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	c, err := newCollector(o)
	if err != nil {
		return nil, err
	}
	defer c.close()
	list := sha256.New()
	err = c.addAll(ctx, len(files), func(i int) (string, []byte, error) {
		data, err := readCapped(files[i])
		rel, _ := filepath.Rel(dir, files[i])
		return filepath.ToSlash(rel), data, err
	}, func(r checked) {
		fmt.Fprintf(list, "%s\x00%x\n", r.file, sha256.Sum256(r.data))
	})
	if err != nil {
		return nil, err
	}
	return c.finish(hex.EncodeToString(list.Sum(nil)))
}

// CollectOSVZip collects every *.json record of an OSV zip (such as an
// ecosystem's all.zip).
func CollectOSVZip(ctx context.Context, path string, o OSVOptions) (*OSVResult, error) {
	digest, _, err := FileSHA256(path)
	if err != nil {
		return nil, err
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer zr.Close()
	var entries []*zip.File
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, ".json") && !zf.FileInfo().IsDir() {
			entries = append(entries, zf)
		}
	}
	slices.SortFunc(entries, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	c, err := newCollector(o)
	if err != nil {
		return nil, err
	}
	defer c.close()
	err = c.addAll(ctx, len(entries), func(i int) (string, []byte, error) {
		zf := entries[i]
		if zf.UncompressedSize64 > MaxOSVRecord {
			return zf.Name, nil, fmt.Errorf("%s: %s is larger than %d bytes", path, zf.Name, MaxOSVRecord)
		}
		rc, err := zf.Open()
		if err != nil {
			return zf.Name, nil, fmt.Errorf("%s: %s: %w", path, zf.Name, err)
		}
		data := make([]byte, 0, zf.UncompressedSize64+1)
		data, err = readAllInto(data, io.LimitReader(rc, MaxOSVRecord+1))
		rc.Close()
		if err != nil {
			return zf.Name, nil, fmt.Errorf("%s: %s: %w", path, zf.Name, err)
		}
		if len(data) > MaxOSVRecord {
			return zf.Name, nil, fmt.Errorf("%s: %s is larger than %d bytes", path, zf.Name, MaxOSVRecord)
		}
		return zf.Name, data, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return c.finish(digest)
}

// readAllInto reads r to the end, appending to buf.
func readAllInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func readCapped(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxOSVRecord+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxOSVRecord {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, MaxOSVRecord)
	}
	return data, nil
}

type recordRef struct {
	id       string
	off, len int64
}

// collector appends valid records to a spool file and writes them out
// sorted by id: memory holds only ids and offsets.
type collector struct {
	o     OSVOptions
	spool *os.File
	w     *bufio.Writer
	off   int64
	refs  []recordRef
	seen  map[string]string // id → file
	res   OSVResult
}

func newCollector(o OSVOptions) (*collector, error) {
	spool, err := os.CreateTemp(o.TempDir, "osv-spool-")
	if err != nil {
		return nil, err
	}
	return &collector{o: o, spool: spool, w: bufio.NewWriterSize(spool, 1<<20), seen: map[string]string{}}, nil
}

func (c *collector) close() {
	c.spool.Close()
	os.Remove(c.spool.Name())
}

// checked is one record read and checked, not yet collected.
type checked struct {
	file    string
	data    []byte // the record as read
	err     error  // reading it failed: fails the source
	v       *osv.Vulnerability
	invalid *InvalidRecord
	compact []byte // the record's compact JSON and a newline
}

// check parses, validates and compacts one record: the CPU-bound part of
// collecting, safe to run concurrently.
func check(file string, data []byte) checked {
	r := checked{file: file, data: data}
	v, err := osv.Parse(data)
	if err != nil {
		rec := InvalidRecord{File: file, Reason: err.Error()}
		var inv *osv.InvalidError
		if errors.As(err, &inv) {
			rec.ID, rec.Reason = inv.ID, strings.Join(inv.Reasons, "; ")
		}
		r.invalid = &rec
		return r
	}
	r.v = v
	var buf bytes.Buffer
	buf.Grow(len(data) + 1)
	if err := json.Compact(&buf, data); err != nil {
		r.invalid = &InvalidRecord{File: file, ID: v.GetId(), Reason: err.Error()}
		return r
	}
	buf.WriteByte('\n')
	r.compact = buf.Bytes()
	return r
}

// collectBatch is how many records are read and checked at a time, on
// every core, before they are collected in order.
const collectBatch = 256

// addAll reads (read), checks and collects n records in order, reading and
// checking a batch at a time on every core: the outcome, the first error
// included, is that of a serial loop. seen, if not nil, sees every record
// read, in order.
func (c *collector) addAll(ctx context.Context, n int, read func(i int) (string, []byte, error), seen func(checked)) error {
	idx := make([]int, 0, collectBatch)
	for start := 0; start < n; start += collectBatch {
		idx = idx[:0]
		for i := start; i < min(n, start+collectBatch); i++ {
			idx = append(idx, i)
		}
		batch, err := parallel.Map(ctx, runtime.GOMAXPROCS(0), idx, func(_ context.Context, i int) (checked, error) {
			file, data, err := read(i)
			if err != nil {
				return checked{file: file, err: err}, nil
			}
			return check(file, data), nil
		})
		if err != nil {
			return err
		}
		for _, r := range batch {
			if r.err != nil {
				return r.err
			}
			if seen != nil {
				seen(r)
			}
			if err := c.put(r); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

func (c *collector) put(r checked) error {
	if r.invalid != nil {
		return c.invalid(*r.invalid)
	}
	v, file := r.v, r.file
	// A parsed record's strings share one copy of the record: keep a copy
	// of the id only, not the record.
	id := strings.Clone(v.GetId())
	if prev, dup := c.seen[id]; dup {
		return c.invalid(InvalidRecord{File: file, ID: id, Reason: "the same id is also in " + prev})
	}
	c.seen[id] = file
	if !c.o.At.IsZero() && osv.Withdrawn(v, c.o.At) || c.o.At.IsZero() && v.GetWithdrawn() != nil {
		c.res.Withdrawn++
		return nil
	}
	if _, err := c.w.Write(r.compact); err != nil {
		return err
	}
	c.refs = append(c.refs, recordRef{id: id, off: c.off, len: int64(len(r.compact))})
	c.off += int64(len(r.compact))
	return nil
}

func (c *collector) invalid(r InvalidRecord) error {
	if !c.o.SkipInvalid {
		return &OSVSourceError{Record: r}
	}
	c.res.Invalid = append(c.res.Invalid, r)
	return nil
}

func (c *collector) finish(digest string) (*OSVResult, error) {
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	slices.SortFunc(c.refs, func(a, b recordRef) int { return strings.Compare(a.id, b.id) })
	out, err := os.CreateTemp(c.o.TempDir, "osv-*.jsonl")
	if err != nil {
		return nil, err
	}
	var size int64
	bw := bufio.NewWriterSize(out, 1<<20)
	var buf []byte
	for _, r := range c.refs {
		if int64(cap(buf)) < r.len {
			buf = make([]byte, r.len)
		}
		b := buf[:r.len]
		if _, err := c.spool.ReadAt(b, r.off); err != nil {
			out.Close()
			return nil, err
		}
		if _, err := bw.Write(b); err != nil {
			out.Close()
			return nil, err
		}
		size += r.len
	}
	err = bw.Flush()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return nil, err
	}
	c.res.Path, c.res.Size, c.res.Records, c.res.Digest = out.Name(), size, len(c.refs), digest
	return &c.res, nil
}
