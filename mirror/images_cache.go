package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BlobCache is a content-addressed directory of blobs:
// DIR/blobs/sha256/<hex>. A blob is written to a temp file and renamed
// into place, so a running process never sees a partial blob under its
// name. Blobs are not fsynced: after a crash a blob may be empty or
// truncated under its name, but every blob is re-hashed before it is
// reused (Has) and as it is read (Open), so a corrupt cache costs a
// download, never a wrong kit, and an fsync per blob (tens of
// milliseconds each on some disks) buys nothing.
//
// A BlobCache is safe for concurrent use, also by several processes, as
// long as no two callers fetch the same digest at the same moment.
type BlobCache struct {
	dir string
}

// OpenBlobCache uses dir (created if missing) as a blob cache.
func OpenBlobCache(dir string) (*BlobCache, error) {
	if dir == "" {
		return nil, errors.New("blob cache: no directory given")
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("blob cache: %w", err)
	}
	return &BlobCache{dir: dir}, nil
}

// Dir is the cache's directory.
func (c *BlobCache) Dir() string { return c.dir }

func (c *BlobCache) path(h v1.Hash) string {
	return filepath.Join(c.dir, "blobs", "sha256", h.Hex)
}

func checkSHA256(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return fmt.Errorf("%s: only sha256 digests are supported", h)
	}
	if _, err := hex.DecodeString(h.Hex); err != nil {
		return fmt.Errorf("%s: %w", h, err)
	}
	return nil
}

// Has reports whether the cache holds the blob h of size bytes, re-hashing
// it. A cached file that does not match is removed.
func (c *BlobCache) Has(ctx context.Context, h v1.Hash, size int64) (bool, error) {
	if err := checkSHA256(h); err != nil {
		return false, err
	}
	f, err := os.Open(c.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	r := newVerifier(ctxReader{ctx, f}, c.path(h), h, size)
	if _, err := io.Copy(io.Discard, r); err != nil {
		if errors.Is(err, ErrDigestMismatch) {
			f.Close()
			if err := os.Remove(c.path(h)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, err
			}
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Put stores the blob h of size bytes read from r, unless the cache holds
// it already. It fails with a *DigestError if r does not yield exactly
// that content, and leaves nothing behind.
func (c *BlobCache) Put(ctx context.Context, h v1.Hash, size int64, r io.Reader) (err error) {
	if err := checkSHA256(h); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path(h)), ".partial-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// Large writes: io.Copy into an *os.File would go 32 KiB at a time.
	buf := make([]byte, min(max(size, 1), 1<<20))
	if _, err := io.CopyBuffer(struct{ io.Writer }{tmp}, newVerifier(ctxReader{ctx, r}, h.String(), h, size), buf); err != nil {
		return err
	}
	// No fsync: see BlobCache.
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), c.path(h))
}

// PutBytes stores b as the blob h (a manifest already in memory).
func (c *BlobCache) PutBytes(ctx context.Context, h v1.Hash, b []byte) error {
	if ok, err := c.Has(ctx, h, int64(len(b))); err != nil || ok {
		return err
	}
	return c.Put(ctx, h, int64(len(b)), bytes.NewReader(b))
}

// Open returns a reader over the cached blob h. The reader checks the
// digest and size as it reaches the end and fails with a *DigestError
// instead of io.EOF if the file changed since it was verified.
func (c *BlobCache) Open(h v1.Hash, size int64) (io.ReadCloser, error) {
	if err := checkSHA256(h); err != nil {
		return nil, err
	}
	f, err := os.Open(c.path(h))
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{newVerifier(f, c.path(h), h, size), f}, nil
}

// verifier passes bytes through while hashing them, allows at most size
// bytes and turns the final io.EOF into a *DigestError when the content
// does not match.
type verifier struct {
	r         io.Reader
	what      string
	want      v1.Hash
	size, n   int64
	h         hash.Hash
	checked   bool
	resultErr error
}

func newVerifier(r io.Reader, what string, want v1.Hash, size int64) *verifier {
	return &verifier{r: io.LimitReader(r, size+1), what: what, want: want, size: size, h: sha256.New()}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.checked {
		return 0, v.resultErr
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		v.checked, v.resultErr = true, &DigestError{What: v.what, Want: v.want.String(), WantSize: v.size, GotSize: v.n}
		return 0, v.resultErr
	}
	if errors.Is(err, io.EOF) {
		v.checked = true
		got := hex.EncodeToString(v.h.Sum(nil))
		switch {
		case v.n != v.size:
			v.resultErr = &DigestError{What: v.what, Want: v.want.String(), Got: "sha256:" + got, WantSize: v.size, GotSize: v.n}
		case got != v.want.Hex:
			v.resultErr = &DigestError{What: v.what, Want: v.want.String(), Got: "sha256:" + got, WantSize: v.size, GotSize: v.n}
		default:
			v.resultErr = io.EOF
		}
		return n, v.resultErr
	}
	return n, err
}

// ctxReader stops a long copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
