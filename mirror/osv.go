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
	"slices"
	"strings"
	"time"

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
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := readCapped(p)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(data)
		fmt.Fprintf(list, "%s\x00%x\n", filepath.ToSlash(rel), sum)
		if err := c.add(filepath.ToSlash(rel), data); err != nil {
			return nil, err
		}
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
	entries := slices.Clone(zr.File)
	slices.SortFunc(entries, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	c, err := newCollector(o)
	if err != nil {
		return nil, err
	}
	defer c.close()
	for _, zf := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !strings.HasSuffix(zf.Name, ".json") || zf.FileInfo().IsDir() {
			continue
		}
		if zf.UncompressedSize64 > MaxOSVRecord {
			return nil, fmt.Errorf("%s: %s is larger than %d bytes", path, zf.Name, MaxOSVRecord)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, zf.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, MaxOSVRecord+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, zf.Name, err)
		}
		if len(data) > MaxOSVRecord {
			return nil, fmt.Errorf("%s: %s is larger than %d bytes", path, zf.Name, MaxOSVRecord)
		}
		if err := c.add(zf.Name, data); err != nil {
			return nil, err
		}
	}
	return c.finish(digest)
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

func (c *collector) add(file string, data []byte) error {
	v, err := osv.Parse(data)
	if err != nil {
		rec := InvalidRecord{File: file, Reason: err.Error()}
		var inv *osv.InvalidError
		if errors.As(err, &inv) {
			rec.ID, rec.Reason = inv.ID, strings.Join(inv.Reasons, "; ")
		}
		return c.invalid(rec)
	}
	if prev, dup := c.seen[v.GetId()]; dup {
		return c.invalid(InvalidRecord{File: file, ID: v.GetId(), Reason: "the same id is also in " + prev})
	}
	c.seen[v.GetId()] = file
	if !c.o.At.IsZero() && osv.Withdrawn(v, c.o.At) || c.o.At.IsZero() && v.GetWithdrawn() != nil {
		c.res.Withdrawn++
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return c.invalid(InvalidRecord{File: file, ID: v.GetId(), Reason: err.Error()})
	}
	buf.WriteByte('\n')
	if _, err := c.w.Write(buf.Bytes()); err != nil {
		return err
	}
	c.refs = append(c.refs, recordRef{id: v.GetId(), off: c.off, len: int64(buf.Len())})
	c.off += int64(buf.Len())
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
	for _, r := range c.refs {
		n, err := io.Copy(bw, io.NewSectionReader(c.spool, r.off, r.len))
		if err != nil {
			out.Close()
			return nil, err
		}
		size += n
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
