package bundle

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/internal/parallel"
	"github.com/klauspost/compress/zstd"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// File is one content file to put in a kit.
type File struct {
	// Path is where the file goes inside the kit (see CheckPath).
	Path string
	// Custom is the target's custom object in targets.json (media type,
	// source name …); nil for none. It must be canonical JSON if the kit is
	// to be reproducible.
	Custom json.RawMessage
	// Open returns the file's content. Write calls it twice: once to hash,
	// once to write, and fails with ErrChanged if the two differ. While
	// hashing, Write may call the Open of different files concurrently.
	Open func() (io.ReadCloser, error)
	// Digest, if not nil, is the content's sha256 (32 bytes) and Size its
	// length, already known to the caller: Write then skips the hashing
	// pass for this file and calls Open once, to write. Set them only when
	// they come from content-addressed storage that checked them (a blob
	// cache that re-hashes what it serves). The writing pass still hashes
	// what Open yields and fails with ErrChanged if it does not match, so a
	// wrong Digest or Size never reaches a kit: it only fails the Write.
	Digest []byte
	Size   int64
}

// Base names the kit a delta kit applies on top of: a version of the
// channel, named by the sha256 of its full targets.json. With Have set the
// delta was made against a site's have-list instead: it applies onto any
// store that holds the blobs it leaves out, and Version and TargetsSHA256
// record what the have-list said the site had (0 and "" for nothing).
type Base struct {
	Channel       string `json:"channel"`
	Version       int64  `json:"version"`
	TargetsSHA256 string `json:"targetsSha256"`
	Have          bool   `json:"have,omitempty"`
}

// Info describes a kit. It is signed, in targets.json, so a verifier can read
// it before any content.
type Info struct {
	Format  int       `json:"format"`
	Name    string    `json:"name"`
	Channel string    `json:"channel"`
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Base    *Base     `json:"base,omitempty"`
}

// WriteOptions configures Write.
type WriteOptions struct {
	// Info is the kit's description; Info.Version becomes the version of
	// targets, snapshot and timestamp.
	Info Info
	// Roots is the channel's root chain, oldest first, as signed JSON.
	Roots [][]byte
	// Signers sign targets, snapshot and timestamp. Their keys must be those
	// the last root lists for these roles.
	Signers []signature.Signer
}

// Written describes a kit that Write produced.
type Written struct {
	Info          Info
	TargetsSHA256 string
	Targets       int
	ContentBytes  int64
	SignerKeyIDs  []string
}

// checkNotDelta refuses, in a full kit, the paths of a delta's own files.
func checkNotDelta(files []File) error {
	for _, f := range files {
		if f.Path == DeltaPath {
			return fmt.Errorf("%w: %q: reserved for a delta kit's description", ErrInvalidPath, DeltaPath)
		}
		if strings.HasPrefix(f.Path, PatchDir) {
			return fmt.Errorf("%w: %q: %s is reserved for a delta kit's patches", ErrInvalidPath, f.Path, PatchDir)
		}
	}
	return nil
}

// Write writes a kit holding files to w. files need not be sorted; their
// paths must be valid and unique. The same files, options and ed25519 keys
// give the same bytes.
func Write(ctx context.Context, w io.Writer, opts WriteOptions, files []File) (*Written, error) {
	if len(opts.Roots) == 0 {
		return nil, errors.New("no root metadata given")
	}
	if len(opts.Signers) == 0 {
		return nil, errors.New("no signing key given")
	}
	info, files, err := prepare(opts, files)
	if err != nil {
		return nil, err
	}
	if info.Base == nil {
		if err := checkNotDelta(files); err != nil {
			return nil, err
		}
	}

	// Pass 1: hash every file.
	digests, sizes, err := hashFiles(ctx, files)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, n := range sizes {
		total += n
	}
	targets, err := targetsOf(info, files, digests, sizes)
	if err != nil {
		return nil, err
	}
	targetsJSON, keyIDs, err := signMeta(targets, opts.Signers)
	if err != nil {
		return nil, fmt.Errorf("signing targets: %w", err)
	}
	snapshot := metadata.Snapshot(info.Expires)
	snapshot.Signed.Version = info.Version
	snapshot.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": metaFile(info.Version, targetsJSON)}
	snapshotJSON, _, err := signMeta(snapshot, opts.Signers)
	if err != nil {
		return nil, fmt.Errorf("signing snapshot: %w", err)
	}
	timestamp := metadata.Timestamp(info.Expires)
	timestamp.Signed.Version = info.Version
	timestamp.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metaFile(info.Version, snapshotJSON)}
	timestampJSON, _, err := signMeta(timestamp, opts.Signers)
	if err != nil {
		return nil, fmt.Errorf("signing timestamp: %w", err)
	}
	if err := checkMetadata(opts.Roots, timestampJSON, snapshotJSON, targetsJSON); err != nil {
		return nil, err
	}

	// Pass 2: write the tar.
	zw, err := zstd.NewWriter(w, encoderOptions()...)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(zw, 1<<20)
	tw := tar.NewWriter(bw)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(header(name, int64(len(data)), info.Created)); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for i, r := range opts.Roots {
		root, err := metadata.Root().FromBytes(r)
		if err != nil {
			zw.Close()
			return nil, fmt.Errorf("root chain entry %d: %w", i+1, err)
		}
		// A root goes into the kit in its canonical form, whatever the
		// file's layout: its signatures cover only the signed part, and a
		// verifier refuses any other form.
		canon, err := EncodeMetadata(root)
		if err != nil {
			zw.Close()
			return nil, fmt.Errorf("root chain entry %d: %w", i+1, err)
		}
		if err := put(RootPath(root.Signed.Version), canon); err != nil {
			zw.Close()
			return nil, err
		}
	}
	for _, m := range []struct {
		name string
		data []byte
	}{{TimestampPath, timestampJSON}, {SnapshotPath, snapshotJSON}, {TargetsPath, targetsJSON}} {
		if err := put(m.name, m.data); err != nil {
			zw.Close()
			return nil, err
		}
	}
	cp := newCopier()
	defer cp.close()
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			zw.Close()
			return nil, err
		}
		if err := tw.WriteHeader(header(f.Path, sizes[i], info.Created)); err != nil {
			zw.Close()
			return nil, err
		}
		if err := cp.copyChecked(tw, f, sizes[i], digests[i]); err != nil {
			zw.Close()
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		zw.Close()
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		zw.Close()
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(targetsJSON)
	return &Written{
		Info:          info,
		TargetsSHA256: hex.EncodeToString(sum[:]),
		Targets:       len(files),
		ContentBytes:  total,
		SignerKeyIDs:  keyIDs,
	}, nil
}

// prepare checks the options and files of a kit and returns its
// normalised Info and the files sorted by path.
func prepare(opts WriteOptions, files []File) (Info, []File, error) {
	info := opts.Info
	info.Format = FormatVersion
	info.Created = info.Created.UTC().Truncate(time.Second)
	info.Expires = info.Expires.UTC().Truncate(time.Second)
	if info.Version < 1 {
		return Info{}, nil, fmt.Errorf("kit version %d: must be at least 1", info.Version)
	}
	if !info.Expires.After(info.Created) {
		return Info{}, nil, fmt.Errorf("kit expiry %s is not after its creation %s", info.Expires.Format(time.RFC3339), info.Created.Format(time.RFC3339))
	}
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for i, f := range files {
		if p := CheckPath(f.Path); p != "" {
			return Info{}, nil, fmt.Errorf("%w: %q: %s", ErrInvalidPath, f.Path, p)
		}
		if strings.HasPrefix(f.Path, MetaDir) {
			return Info{}, nil, fmt.Errorf("%w: %q: %s is reserved for TUF metadata", ErrInvalidPath, f.Path, MetaDir)
		}
		if i > 0 && files[i-1].Path == f.Path {
			return Info{}, nil, fmt.Errorf("%w: %q: duplicate path", ErrInvalidPath, f.Path)
		}
		if f.Digest != nil && (len(f.Digest) != sha256.Size || f.Size < 0) {
			return Info{}, nil, fmt.Errorf("%q: known digest of %d bytes and size %d: want a sha256 and a size >= 0", f.Path, len(f.Digest), f.Size)
		}
	}
	if err := checkTargetsSize(files); err != nil {
		return Info{}, nil, err
	}
	return info, files, nil
}

// targetsOf returns the unsigned targets metadata of a kit: info in its
// kit field, every file with its length, sha256 and custom object.
func targetsOf(info Info, files []File, digests [][]byte, sizes []int64) (*metadata.Metadata[metadata.TargetsType], error) {
	targets := metadata.Targets(info.Expires)
	targets.Signed.Version = info.Version
	for i, f := range files {
		tf := &metadata.TargetFiles{Length: sizes[i], Hashes: metadata.Hashes{"sha256": digests[i]}, Path: f.Path}
		if len(f.Custom) > 0 {
			c := json.RawMessage(slices.Clone(f.Custom))
			tf.Custom = &c
		}
		targets.Signed.Targets[f.Path] = tf
	}
	infoMap, err := toMap(info)
	if err != nil {
		return nil, err
	}
	targets.Signed.UnrecognizedFields = map[string]any{KitField: infoMap}
	return targets, nil
}

// checkTargetsSize refuses files whose targets.json would be larger than a
// verifier reads, before any of them is opened or the metadata is built
// (which takes memory in proportion). The lengths not known yet count as
// one digit; checkMetadata checks the real size after signing.
func checkTargetsSize(files []File) error {
	var l TargetsLimit
	for _, f := range files {
		size := int64(0)
		if f.Digest != nil {
			size = f.Size
		}
		if err := l.Add(f.Path, f.Custom, size); err != nil {
			return err
		}
	}
	return nil
}

// hashWorkers caps how many files pass 1 hashes at once. sha256 is the
// bulk of its cost, and each file is hashed on its own core.
const hashWorkers = 4

// hashFiles hashes every file, several at a time; a file with a known
// Digest is not read. On failure it returns the error of the first failing
// file in files' order, as hashing them one by one would: files are
// started in order and a file started is hashed to its end.
func hashFiles(ctx context.Context, files []File) ([][]byte, []int64, error) {
	digests := make([][]byte, len(files))
	sizes := make([]int64, len(files))
	var todo []int
	for i, f := range files {
		if f.Digest != nil {
			digests[i], sizes[i] = slices.Clone(f.Digest), f.Size
			continue
		}
		todo = append(todo, i)
	}
	type sum struct {
		size   int64
		digest []byte
	}
	bufs := sync.Pool{New: func() any { return new([hashBufSize]byte) }}
	sums, err := parallel.Map(ctx, min(hashWorkers, runtime.GOMAXPROCS(0)), todo, func(_ context.Context, i int) (sum, error) {
		buf := bufs.Get().(*[hashBufSize]byte)
		defer bufs.Put(buf)
		n, d, err := hashFile(files[i], buf[:])
		return sum{n, d}, err
	})
	if err != nil {
		return nil, nil, err
	}
	for j, i := range todo {
		sizes[i], digests[i] = sums[j].size, sums[j].digest
	}
	return digests, sizes, nil
}

// hashBufSize is the read buffer of pass 1, one per file being hashed.
const hashBufSize = 256 << 10

func hashFile(f File, buf []byte) (int64, []byte, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, nil, fmt.Errorf("opening %s: %w", f.Path, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, rc, buf)
	if err != nil {
		return 0, nil, fmt.Errorf("reading %s: %w", f.Path, err)
	}
	return n, h.Sum(nil), nil
}

// copier copies files into the tar while a second goroutine hashes what
// was copied, so sha256 runs beside the read, the tar and the compressor
// rather than after them. It owns copierBufs buffers of copierBufSize.
type copier struct {
	free chan []byte // buffers nobody uses
	full chan []byte // buffers read, to hash; nil ends the file
	sums chan []byte // the digest of each file, after its nil
	h    hash.Hash
}

const (
	copierBufs    = 4
	copierBufSize = 1 << 20
)

func newCopier() *copier {
	c := &copier{
		free: make(chan []byte, copierBufs),
		full: make(chan []byte, copierBufs),
		sums: make(chan []byte),
		h:    sha256.New(),
	}
	for range copierBufs {
		c.free <- make([]byte, copierBufSize)
	}
	go c.hash()
	return c
}

func (c *copier) hash() {
	for b := range c.full {
		if b == nil {
			c.sums <- c.h.Sum(nil)
			c.h.Reset()
			continue
		}
		c.h.Write(b)
		c.free <- b[:cap(b)]
	}
	close(c.sums)
}

func (c *copier) close() { close(c.full) }

// copyChecked copies f into w, exactly size bytes, and checks the digest.
func (c *copier) copyChecked(w io.Writer, f File, size int64, digest []byte) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("opening %s: %w", f.Path, err)
	}
	defer rc.Close()
	n, err := c.copy(w, io.LimitReader(rc, size))
	// The hasher finishes the file in every case, so the buffers are all
	// free again for the next file.
	c.full <- nil
	sum := <-c.sums
	if err != nil {
		if errors.Is(err, tar.ErrWriteTooLong) {
			return fmt.Errorf("%s: %w", f.Path, ErrChanged)
		}
		return fmt.Errorf("reading %s: %w", f.Path, err)
	}
	var one [1]byte
	if extra, _ := rc.Read(one[:]); n != size || extra != 0 || !slices.Equal(sum, digest) {
		return fmt.Errorf("%s: %w", f.Path, ErrChanged)
	}
	return nil
}

// copy is io.Copy with the hashing handed to c.hash. A buffer goes to the
// hasher before it is written to w; both only read it, and c.hash frees
// it when done, which is never before copy takes its next buffer from free
// after the write returned.
func (c *copier) copy(w io.Writer, r io.Reader) (int64, error) {
	var n int64
	for {
		buf := <-c.free
		nr, rerr := r.Read(buf)
		if nr > 0 {
			c.full <- buf[:nr]
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if nw != nr {
				return n, io.ErrShortWrite
			}
		} else {
			c.free <- buf
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

func metaFile(version int64, data []byte) *metadata.MetaFiles {
	sum := sha256.Sum256(data)
	return &metadata.MetaFiles{Version: version, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
}

// signMeta signs m with every signer and returns its canonical JSON
// (EncodeMetadata) and the key ids, sorted.
func signMeta[T metadata.Roles](m *metadata.Metadata[T], signers []signature.Signer) ([]byte, []string, error) {
	for _, s := range signers {
		if _, err := m.Sign(s); err != nil {
			return nil, nil, err
		}
	}
	b, err := EncodeMetadata(m)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, 0, len(m.Signatures))
	for _, s := range m.Signatures {
		ids = append(ids, s.KeyID)
	}
	slices.Sort(ids)
	return b, ids, nil
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
