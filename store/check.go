package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// CheckSchema names the JSON schema of CheckReport; it changes only with a
// new version suffix.
const CheckSchema = "ferry.dev/store-check/v1"

// Kinds of CheckProblem. Scripts may depend on them.
const (
	// ProblemDatabase: ferry.db cannot be read at all (truncated, both
	// meta pages invalid, a page bbolt refuses). Nothing else was checked.
	ProblemDatabase = "database"
	// ProblemMeta: one of the two meta pages is invalid; bbolt reads the
	// other, which may be one transaction older.
	ProblemMeta = "meta"
	// ProblemPage: bbolt's consistency check (Tx.Check) found an error.
	ProblemPage = "page"
	// ProblemSchema: the schema is not this ferry's, or a bucket of it is
	// missing or unreadable.
	ProblemSchema = "schema"
	// ProblemBlobMissing: a referenced blob is not in blobs/sha256.
	ProblemBlobMissing = "blob-missing"
	// ProblemBlobCorrupt: a referenced blob's size or sha256 is not what
	// the store recorded, or it cannot be read.
	ProblemBlobCorrupt = "blob-corrupt"
	// ProblemStaging: a file that a failed or killed import left in tmp/
	// (or its commit marker), or an advisory record index in ferry.db
	// that no kit names (advindex/SHA256); ferry store gc removes it.
	ProblemStaging = "staging"
	// ProblemIndex: the advisory record index a kit names is missing or
	// incomplete (Digest is the advisories file's); importing the kit
	// again rebuilds it.
	ProblemIndex = "index"
)

// CheckReport is what Check found. Its JSON form is schema CheckSchema:
//
//	{"schema": "ferry.dev/store-check/v1", "store": DIR, "healthy": bool,
//	 "database": {"fileBytes", "pageSize", "pages", "txid"},
//	 "blobs": N, "blobBytes": N, "stagingSkipped": bool,
//	 "problems": [{"kind", "digest"?, "channel"?, "path"?, "detail"}]}
//
// Problems come in the order database, meta, page, schema, record indexes
// (by digest), blobs (by digest), staging (tmp/ by name, then unnamed
// record indexes by digest).
type CheckReport struct {
	Schema   string        `json:"schema"`
	Store    string        `json:"store"`
	Healthy  bool          `json:"healthy"`
	Database CheckDatabase `json:"database"`
	// Blobs is how many distinct referenced blobs were re-hashed, BlobBytes
	// their total size.
	Blobs     int   `json:"blobs"`
	BlobBytes int64 `json:"blobBytes"`
	// StagingSkipped is set when an import held the store: its staging
	// files are in use, not left over.
	StagingSkipped bool           `json:"stagingSkipped,omitempty"`
	Problems       []CheckProblem `json:"problems"`
}

// CheckDatabase describes ferry.db as its valid meta page does.
type CheckDatabase struct {
	FileBytes int64  `json:"fileBytes"`
	PageSize  int    `json:"pageSize,omitempty"`
	Pages     uint64 `json:"pages,omitempty"`
	TxID      uint64 `json:"txid,omitempty"`
}

// CheckProblem is one thing Check found damaged or left over.
type CheckProblem struct {
	Kind    string `json:"kind"`
	Digest  string `json:"digest,omitempty"`
	Channel string `json:"channel,omitempty"`
	// Path is the content path that references a blob, or a staging
	// file's name under tmp/.
	Path   string `json:"path,omitempty"`
	Detail string `json:"detail"`
}

func (p CheckProblem) String() string {
	s := p.Kind + ":"
	if p.Digest != "" {
		s += " blob " + p.Digest
	}
	if p.Channel != "" {
		s += " (channel " + p.Channel + ", " + p.Path + ")"
	} else if p.Path != "" {
		s += " " + p.Path
	}
	return s + " " + p.Detail
}

func (r *CheckReport) add(p CheckProblem) { r.Problems = append(r.Problems, p) }

// Err returns nil for a healthy store, else an error matching ErrDamaged
// that lists every problem.
func (r *CheckReport) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	errs := make([]error, 0, len(r.Problems))
	for _, p := range r.Problems {
		errs = append(errs, errors.New(p.String()))
	}
	return fmt.Errorf("%s: %w: %d problem(s): %w", r.Store, ErrDamaged, len(r.Problems), errors.Join(errs...))
}

// Check checks the store in dir without changing it: ferry.db's meta
// pages and size, every page bbolt reaches (walked under the damage guard,
// then bbolt's own Tx.Check), the schema, every referenced blob re-hashed
// against its recorded sha256 and size, and files left in tmp/ by failed
// imports. Damage is reported in the CheckReport, never as a panic; the
// error is for what stopped the check itself (a cancelled ctx, ErrBusy,
// ErrNoStore).
func Check(ctx context.Context, dir string, opts Options) (*CheckReport, error) {
	opts.ReadOnly = true
	s, err := prepare(dir, opts)
	if err != nil {
		return nil, err
	}
	return s.Check(ctx)
}

// Check is the package's Check of this store.
func (s *Store) Check(ctx context.Context) (*CheckReport, error) {
	rep := &CheckReport{Schema: CheckSchema, Store: s.dir, Problems: []CheckProblem{}}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.exists() {
		return nil, fmt.Errorf("%s: %w (%s is missing)", s.dir, ErrNoStore, dbName)
	}
	fi, err := checkFile(dbPath(s.dir))
	var refs map[string]blobRef
	var orphans []string
	rep.Database.FileBytes = fi.size
	if m := fi.chosen(); m != nil {
		rep.Database.PageSize, rep.Database.Pages, rep.Database.TxID = int(m.pageSize), m.pgid, m.txid
	}
	var fe *fileError
	switch {
	case errors.As(err, &fe):
		rep.add(CheckProblem{Kind: ProblemDatabase, Path: dbName, Detail: fe.Error()})
	case err != nil:
		return nil, err
	default:
		for i, m := range fi.meta {
			if m.err != nil {
				rep.add(CheckProblem{Kind: ProblemMeta, Path: dbName, Detail: fmt.Sprintf("meta page %d: %v; bbolt reads the other meta page, which may be one transaction older", i, m.err)})
			}
		}
		refs, orphans, err = s.checkDB(ctx, rep)
		if err != nil {
			return nil, err
		}
		if err := s.checkBlobs(ctx, rep, refs); err != nil {
			return nil, err
		}
	}
	s.checkStaging(rep, orphans)
	rep.Healthy = len(rep.Problems) == 0
	return rep, nil
}

// blobRef is a referenced blob and the first file that references it.
type blobRef struct {
	length        int64
	channel, path string
	// lay is set for a layered file (store/layer.go): its bytes are read
	// over its blobs, which are referenced too.
	lay *layer
}

// checkLayers marks the referenced files that are layered, and references
// the blobs each reads.
func checkLayers(tx *bolt.Tx, rep *CheckReport, refs map[string]blobRef) {
	for _, sha := range sortedKeys(refs) {
		ref := refs[sha]
		l, err := layerOf(tx, sha, true)
		if err != nil {
			rep.add(CheckProblem{Kind: ProblemIndex, Digest: sha, Channel: ref.channel, Path: ref.path, Detail: err.Error() + "; importing the kit again rebuilds it"})
			continue
		}
		if l == nil {
			continue
		}
		ref.lay = l
		refs[sha] = ref
		for _, b := range l.Blobs {
			if _, ok := refs[b.SHA256]; !ok {
				refs[b.SHA256] = blobRef{length: b.Length, channel: ref.channel, path: ref.path + " (a blob of its layer)"}
			}
		}
	}
}

// checkDB walks every page, runs Tx.Check and reads the file map of a
// store of the current schema. A damaged database becomes a problem.
// It returns the referenced blobs and the advisory record indexes no kit
// names.
func (s *Store) checkDB(ctx context.Context, rep *CheckReport) (map[string]blobRef, []string, error) {
	db, err := s.openDBWith(true, true)
	var dmg *DamagedError
	if errors.As(err, &dmg) {
		rep.add(CheckProblem{Kind: ProblemDatabase, Path: dbName, Detail: dmg.Detail})
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var orphans []string
	defer db.Close()
	refs := map[string]blobRef{}
	err = s.guarded(dbName, func() error {
		return db.View(func(tx *bolt.Tx) error {
			// Touch every page bbolt can reach, here, where a fault is
			// caught: Tx.Check walks them in a goroutine of its own.
			if err := walkPages(ctx, tx); err != nil {
				return err
			}
			for err := range tx.Check() {
				rep.add(CheckProblem{Kind: ProblemPage, Path: dbName, Detail: err.Error()})
			}
			if len(rep.Problems) > 0 && rep.Problems[len(rep.Problems)-1].Kind == ProblemPage {
				return nil // the file map may be among the damage
			}
			v, err := readSchema(tx)
			if err != nil {
				rep.add(CheckProblem{Kind: ProblemSchema, Path: dbName, Detail: err.Error()})
				return nil
			}
			if v != SchemaVersion {
				rep.add(CheckProblem{Kind: ProblemSchema, Path: dbName, Detail: (&SchemaError{Dir: s.dir, Found: v, Want: SchemaVersion, ReadOnly: true}).Error()})
				return nil
			}
			for _, b := range [][]byte{bucketChannels, bucketTrust, bucketFiles, bucketIndex, bucketLog} {
				if tx.Bucket(b) == nil {
					rep.add(CheckProblem{Kind: ProblemSchema, Path: dbName, Detail: fmt.Sprintf("bucket %q is missing", b)})
				}
			}
			if tx.Bucket(bucketFiles) == nil {
				return nil
			}
			ref := func(ch, p string, f fileRec) error {
				if _, ok := refs[f.SHA256]; !ok {
					refs[f.SHA256] = blobRef{length: f.Length, channel: ch, path: p}
				}
				return nil
			}
			err = forEachFile(tx, ref)
			if err == nil {
				err = forEachHistoricFile(tx, ref)
			}
			if err != nil {
				rep.add(CheckProblem{Kind: ProblemSchema, Path: dbName, Detail: "the file map: " + err.Error()})
			}
			checkLayers(tx, rep, refs)
			orphans = checkRecordIndexes(tx, rep)
			return nil
		})
	})
	if errors.As(err, &dmg) {
		rep.add(CheckProblem{Kind: ProblemDatabase, Path: dbName, Detail: dmg.Detail})
		return nil, nil, nil
	}
	return refs, orphans, err
}

// checkRecordIndexes reports every advisory record index a kit names that
// is missing or incomplete, and returns those no kit names.
func checkRecordIndexes(tx *bolt.Tx, rep *CheckReport) []string {
	ref, err := referencedRecordIndexes(tx)
	if err != nil {
		rep.add(CheckProblem{Kind: ProblemSchema, Path: dbName, Detail: "the advisories indexes: " + err.Error()})
		return nil
	}
	for _, sha := range sortedKeys(ref) {
		if !hasRecordIndex(tx, sha) {
			rep.add(CheckProblem{Kind: ProblemIndex, Digest: sha, Detail: "the record index of this advisories file is missing or incomplete; importing the kit again rebuilds it"})
		}
	}
	var orphans []string
	if root := tx.Bucket(bucketRecordIndex); root != nil {
		root.ForEachBucket(func(name []byte) error {
			if !ref[string(name)] {
				orphans = append(orphans, string(name))
			}
			return nil
		})
	}
	return orphans
}

// walkPages reads every key and value of every bucket, so that each page
// bbolt reaches is read once in the calling goroutine.
func walkPages(ctx context.Context, tx *bolt.Tx) error {
	var sink byte
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			sink ^= k[0] ^ k[len(k)-1]
			if len(v) > 0 {
				sink ^= v[0] ^ v[len(v)-1]
			}
			if v == nil {
				if child := b.Bucket(k); child != nil {
					if err := walk(child); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	c := tx.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if b := tx.Bucket(k); b != nil {
			if err := walk(b); err != nil {
				return err
			}
		}
	}
	_ = sink
	return nil
}

// checkBlobs re-hashes every referenced blob, in digest order.
func (s *Store) checkBlobs(ctx context.Context, rep *CheckReport, refs map[string]blobRef) error {
	buf := make([]byte, 1<<20)
	for _, d := range sortedKeys(refs) {
		if err := ctx.Err(); err != nil {
			return err
		}
		ref := refs[d]
		rep.Blobs++
		rep.BlobBytes += ref.length
		p := CheckProblem{Digest: d, Channel: ref.channel, Path: ref.path}
		if !isHexDigest(d) {
			p.Kind, p.Detail = ProblemSchema, "the file map holds a malformed digest"
			rep.add(p)
			continue
		}
		if ref.lay != nil {
			s.checkLayered(rep, p, d, ref, buf)
			continue
		}
		f, err := os.Open(s.blobPath(d))
		if errors.Is(err, os.ErrNotExist) {
			p.Kind, p.Detail = ProblemBlobMissing, "not in "+blobsDir+"; import the kit again"
			rep.add(p)
			continue
		}
		if err != nil {
			p.Kind, p.Detail = ProblemBlobCorrupt, err.Error()
			rep.add(p)
			continue
		}
		h := sha256.New()
		n, err := io.CopyBuffer(h, io.LimitReader(f, ref.length+1), buf)
		f.Close()
		got := hex.EncodeToString(h.Sum(nil))
		switch {
		case err != nil:
			p.Kind, p.Detail = ProblemBlobCorrupt, "reading it: "+err.Error()
		case n != ref.length:
			p.Kind, p.Detail = ProblemBlobCorrupt, fmt.Sprintf("holds %s bytes, want %d; import the kit again", sizeAtLeast(n, ref.length), ref.length)
		case got != d:
			p.Kind, p.Detail = ProblemBlobCorrupt, "its sha256 is "+got+"; import the kit again"
		default:
			continue
		}
		rep.add(p)
	}
	return nil
}

// checkLayered hashes a layered file over its blobs.
func (s *Store) checkLayered(rep *CheckReport, p CheckProblem, d string, ref blobRef, buf []byte) {
	if ref.lay.Length != ref.length {
		p.Kind, p.Detail = ProblemIndex, fmt.Sprintf("its layer makes %d bytes, want %d; import the kit again", ref.lay.Length, ref.length)
		rep.add(p)
		return
	}
	r, err := s.layerReader(ref.lay, nil)
	if err != nil {
		p.Kind, p.Detail = ProblemBlobMissing, err.Error()+"; import the kit again"
		rep.add(p)
		return
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(r, 0, ref.length), buf); err != nil {
		p.Kind, p.Detail = ProblemBlobCorrupt, "reading its layer: "+err.Error()
		rep.add(p)
		return
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d {
		p.Kind, p.Detail = ProblemBlobCorrupt, "its layer makes sha256 "+got+"; import the kit again"
		rep.add(p)
	}
}

func sizeAtLeast(n, want int64) string {
	if n > want {
		return "more than " + strconv.FormatInt(want, 10)
	}
	return strconv.FormatInt(n, 10)
}

// checkStaging lists what failed imports left in tmp/, unless an import
// holds the store now.
// recordIndexes are the advisory record indexes no kit names: an import
// that holds the store may be building one of them.
func (s *Store) checkStaging(rep *CheckReport, recordIndexes []string) {
	if importLocked(s.dir) {
		rep.StagingSkipped = true
		return
	}
	ents, _ := os.ReadDir(filepath.Join(s.dir, tmpDir))
	for _, e := range ents {
		rep.add(CheckProblem{Kind: ProblemStaging, Path: filepath.ToSlash(filepath.Join(tmpDir, e.Name())), Detail: "left by a failed import; ferry store gc removes it"})
	}
	for _, sha := range recordIndexes {
		rep.add(CheckProblem{Kind: ProblemStaging, Path: dbName + ":" + string(bucketRecordIndex) + "/" + sha, Detail: "an advisory record index no kit names, left by a failed import; ferry store gc removes it"})
	}
	if _, err := os.Stat(filepath.Join(s.dir, pendingName)); err == nil {
		rep.add(CheckProblem{Kind: ProblemStaging, Path: pendingName, Detail: "commit marker of a killed import; the next import or ferry store gc removes it"})
	}
}

// The layout of a bbolt meta page (go.etcd.io/bbolt/internal/common): a
// 16-byte page header (id, flags, count, overflow), then magic, version,
// page size, flags (uint32 each), the root bucket (root page, sequence),
// freelist page, high-water page id, txid (uint64 each) and an FNV-64a
// checksum of everything before it. Native byte order, as bbolt writes it.
const (
	boltPageHeader = 16
	boltMetaLen    = 64
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltNoFreelist = ^uint64(0)
	boltMetaFlag   = 0x04
	// boltFreelistFlag marks a freelist page.
	boltFreelistFlag = 0x10
)

// boltMeta is one decoded meta page.
type boltMeta struct {
	pageSize                   uint32
	root, freelist, pgid, txid uint64
	err                        error
}

func decodeMeta(page []byte) boltMeta {
	if len(page) < boltPageHeader+boltMetaLen {
		return boltMeta{err: errors.New("cut short")}
	}
	e := binary.NativeEndian
	m := page[boltPageHeader:]
	bm := boltMeta{
		pageSize: e.Uint32(m[8:]),
		root:     e.Uint64(m[16:]),
		freelist: e.Uint64(m[32:]),
		pgid:     e.Uint64(m[40:]),
		txid:     e.Uint64(m[48:]),
	}
	h := fnv.New64a()
	h.Write(m[:56])
	switch {
	case e.Uint16(page[8:]) != boltMetaFlag:
		bm.err = errors.New("not a meta page")
	case e.Uint32(m[0:]) != boltMagic:
		bm.err = errors.New("bad magic")
	case e.Uint32(m[4:]) != boltVersion:
		bm.err = fmt.Errorf("unknown bbolt version %d", e.Uint32(m[4:]))
	case e.Uint64(m[56:]) != h.Sum64():
		bm.err = errors.New("checksum mismatch")
	case bm.pageSize < 512 || bm.pageSize > 1<<24 || bm.pageSize&(bm.pageSize-1) != 0:
		bm.err = fmt.Errorf("page size %d", bm.pageSize)
	}
	return bm
}

// fileInfo is what checkFile learnt about ferry.db.
type fileInfo struct {
	size int64
	meta [2]boltMeta
}

// chosen is the meta page bbolt uses: the valid one with the higher txid.
func (fi fileInfo) chosen() *boltMeta {
	a, b := &fi.meta[0], &fi.meta[1]
	if b.txid > a.txid {
		a, b = b, a
	}
	switch {
	case a.err == nil && a.pageSize != 0:
		return a
	case b.err == nil && b.pageSize != 0:
		return b
	}
	return nil
}

// fileError is damage checkFile found.
type fileError struct{ msg string }

func (e *fileError) Error() string { return e.msg }

// checkFile checks, before bbolt maps ferry.db, what bbolt trusts without
// checking: that a meta page is valid and that the file holds every page
// below its high-water mark, so that no page read lands beyond the end of
// the file (a fault). It returns a *fileError for damage.
func checkFile(path string) (fileInfo, error) {
	var fi fileInfo
	f, err := os.Open(path)
	if err != nil {
		return fi, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fi, err
	}
	fi.size = st.Size()
	if fi.size < 2*1024 {
		return fi, &fileError{fmt.Sprintf("%s is %d bytes: too short to hold its meta pages (truncated)", dbName, fi.size)}
	}
	buf := make([]byte, boltPageHeader+boltMetaLen)
	read := func(off int64) boltMeta {
		if _, err := f.ReadAt(buf, off); err != nil {
			return boltMeta{err: fmt.Errorf("reading it: %v", err)}
		}
		return decodeMeta(buf)
	}
	fi.meta[0] = read(0)
	if fi.meta[0].err == nil {
		fi.meta[1] = read(int64(fi.meta[0].pageSize))
	} else {
		// Like bbolt: find the second meta page by trying page sizes.
		fi.meta[1] = boltMeta{err: errors.New("not found")}
		for sz := int64(1024); sz <= 1<<24 && sz < fi.size-1024; sz *= 2 {
			if m := read(sz); m.err == nil && int64(m.pageSize) == sz {
				fi.meta[1] = m
				break
			}
		}
	}
	m := fi.chosen()
	if m == nil {
		return fi, &fileError{fmt.Sprintf("%s: both meta pages are invalid (%v; %v)", dbName, fi.meta[0].err, fi.meta[1].err)}
	}
	need := int64(m.pgid) * int64(m.pageSize)
	switch {
	case m.pgid < 3 || m.pgid > uint64(1)<<48:
		return fi, &fileError{fmt.Sprintf("%s: meta page of transaction %d claims %d pages", dbName, m.txid, m.pgid)}
	case fi.size < need:
		return fi, &fileError{fmt.Sprintf("%s is %d bytes, but its pages need %d: the file is truncated", dbName, fi.size, need)}
	case m.root < 2 || m.root >= m.pgid:
		return fi, &fileError{fmt.Sprintf("%s: root page %d is outside the file's %d pages", dbName, m.root, m.pgid)}
	case m.freelist != boltNoFreelist && (m.freelist < 2 || m.freelist >= m.pgid):
		return fi, &fileError{fmt.Sprintf("%s: freelist page %d is outside the file's %d pages", dbName, m.freelist, m.pgid)}
	}
	if m.freelist != boltNoFreelist {
		if err := checkFreelist(f, m); err != nil {
			return fi, &fileError{fmt.Sprintf("%s: freelist page %d: %v", dbName, m.freelist, err)}
		}
	}
	return fi, nil
}

// checkFreelist checks the freelist page that a writable open (and Check)
// loads before anything else: bbolt panics on a bad one while it holds the
// file mapped, and the mapping, with its lock, would outlive the panic.
// The page must say it is the freelist, fit in its pages, and list sorted,
// distinct ids of data pages below the high-water mark.
func checkFreelist(f *os.File, m *boltMeta) error {
	e := binary.NativeEndian
	off := int64(m.freelist) * int64(m.pageSize)
	hdr := make([]byte, boltPageHeader+8)
	if _, err := f.ReadAt(hdr, off); err != nil {
		return fmt.Errorf("reading it: %v", err)
	}
	id, flags := e.Uint64(hdr[0:]), e.Uint16(hdr[8:])
	count, overflow := uint64(e.Uint16(hdr[10:])), uint64(e.Uint32(hdr[12:]))
	first := uint64(0)
	switch {
	case id != m.freelist:
		return fmt.Errorf("the page says it is page %d", id)
	case flags != boltFreelistFlag:
		return fmt.Errorf("not a freelist page (flags %#x)", flags)
	case m.freelist+overflow >= m.pgid:
		return fmt.Errorf("%d overflow pages run past the file's %d pages", overflow, m.pgid)
	}
	if count == 0xFFFF {
		count, first = e.Uint64(hdr[boltPageHeader:]), 1
	}
	room := (overflow + 1) * uint64(m.pageSize)
	if count > room/8 || boltPageHeader+(first+count)*8 > room {
		return fmt.Errorf("%d free page ids do not fit in %d bytes", count, room)
	}
	buf := make([]byte, count*8)
	if _, err := f.ReadAt(buf, off+boltPageHeader+int64(first)*8); err != nil {
		return fmt.Errorf("reading it: %v", err)
	}
	ids := make([]uint64, count)
	for i := range ids {
		ids[i] = e.Uint64(buf[i*8:])
		if ids[i] < 2 || ids[i] >= m.pgid {
			return fmt.Errorf("free page id %d is outside the file's %d pages", ids[i], m.pgid)
		}
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return fmt.Errorf("page %d is free twice", ids[i])
		}
	}
	return nil
}
