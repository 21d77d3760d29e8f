package images

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Blobs locates content-addressed blobs; *store.Store implements it.
type Blobs interface {
	// BlobPath returns the path of the blob with the hex sha256 digest.
	BlobPath(hexDigest string) (string, error)
}

// maxManifest caps manifests, indexes and configs read into memory.
const maxManifest = 16 << 20

// readBlob reads a small blob (a manifest or config) whole, checking its
// digest.
func readBlob(b Blobs, h v1.Hash) ([]byte, error) {
	rc, err := openBlob(b, h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxManifest+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxManifest {
		return nil, fmt.Errorf("%s: larger than %d bytes", h, maxManifest)
	}
	return raw, nil
}

// openBlob opens a blob; the reader fails at EOF with a *DigestError when
// the bytes do not hash to h.
func openBlob(b Blobs, h v1.Hash) (io.ReadCloser, error) {
	f, p, err := blobFile(b, h)
	if err != nil {
		return nil, err
	}
	return &verifyingReader{f: f, h: sha256.New(), want: h, path: p}, nil
}

// blobFile opens the stored file of h.
func blobFile(b Blobs, h v1.Hash) (*os.File, string, error) {
	if h.Algorithm != "sha256" {
		return nil, "", fmt.Errorf("%s: only sha256 digests are stored", h)
	}
	p, err := b.BlobPath(h.Hex)
	if err != nil {
		return nil, "", err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("%s: %w", h, ErrBlobMissing)
	}
	if err != nil {
		return nil, "", err
	}
	return f, p, nil
}

// openUnhashed opens the blob d without hashing it: the file itself, so
// that net/http can hand it to the kernel (sendfile). Only its size is
// checked; a wrong size is reported as the *DigestError it implies.
func openUnhashed(b Blobs, d v1.Descriptor) (io.ReadCloser, error) {
	f, p, err := blobFile(b, d.Digest)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() != d.Size {
		f.Close()
		if err := VerifyBlob(b, d.Digest); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %d bytes, the manifest says %d", p, fi.Size(), d.Size)
	}
	return f, nil
}

// VerifyBlob re-hashes the blob h in b. It returns a *DigestError when
// the bytes do not hash to h, and an error wrapping ErrBlobMissing when b
// does not hold it.
func VerifyBlob(b Blobs, h v1.Hash) error {
	rc, err := openBlob(b, h)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

type verifyingReader struct {
	f    *os.File
	h    hash.Hash
	want v1.Hash
	path string
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
			return n, &DigestError{Path: v.path, Want: v.want.String(), Got: "sha256:" + got}
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.f.Close() }

// Image returns the image manifest h from b. Its digest is h: the manifest
// bytes are the stored ones, never re-serialised. Every blob it hands out
// is re-hashed while read and fails at EOF with a *DigestError when the
// store is damaged.
func Image(b Blobs, h v1.Hash) (v1.Image, error) { return newImage(b, h, false) }

// ImageUnhashed is Image for a consumer that checks the digest of every
// layer it is given itself, as a registry does on upload (the
// distribution spec's DIGEST_INVALID): layers are handed out as the
// stored files, not re-hashed, and only their size is checked, so that
// they can be sent with sendfile. The manifest and the config are still
// verified. Anything else must use Image.
func ImageUnhashed(b Blobs, h v1.Hash) (v1.Image, error) { return newImage(b, h, true) }

func newImage(b Blobs, h v1.Hash, unhashed bool) (v1.Image, error) {
	raw, err := readBlob(b, h)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", h, err)
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	if !mt.IsImage() {
		return nil, fmt.Errorf("%s is a %s, not an image manifest", h, mt)
	}
	return partial.CompressedToImage(&image{b: b, raw: raw, m: m, mt: mt, unhashed: unhashed})
}

type image struct {
	b        Blobs
	raw      []byte
	m        *v1.Manifest
	mt       types.MediaType
	unhashed bool
}

var _ partial.CompressedImageCore = (*image)(nil)

func (i *image) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *image) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *image) RawConfigFile() ([]byte, error)      { return readBlob(i.b, i.m.Config.Digest) }

func (i *image) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &layer{b: i.b, d: i.m.Config, unhashed: i.unhashed}, nil
	}
	for _, l := range i.m.Layers {
		if l.Digest == h {
			return &layer{b: i.b, d: l, unhashed: i.unhashed}, nil
		}
	}
	return nil, fmt.Errorf("layer %s is not in the manifest", h)
}

// layer is a blob of an image, read from the store and re-hashed unless
// unhashed.
type layer struct {
	b        Blobs
	d        v1.Descriptor
	unhashed bool
}

func (l *layer) Digest() (v1.Hash, error)            { return l.d.Digest, nil }
func (l *layer) Size() (int64, error)                { return l.d.Size, nil }
func (l *layer) MediaType() (types.MediaType, error) { return l.d.MediaType, nil }
func (l *layer) Compressed() (io.ReadCloser, error) {
	if l.unhashed {
		return openUnhashed(l.b, l.d)
	}
	return openBlob(l.b, l.d.Digest)
}

// Index returns the image index h from b. Its children are read lazily;
// a child the store does not hold fails with ErrBlobMissing when it is
// asked for. Its images are Image's.
func Index(b Blobs, h v1.Hash) (v1.ImageIndex, error) { return newIndex(b, h, false) }

// IndexUnhashed is Index whose images are ImageUnhashed's: for a consumer
// that checks every layer's digest itself.
func IndexUnhashed(b Blobs, h v1.Hash) (v1.ImageIndex, error) { return newIndex(b, h, true) }

func newIndex(b Blobs, h v1.Hash, unhashed bool) (v1.ImageIndex, error) {
	raw, err := readBlob(b, h)
	if err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", h, err)
	}
	mt := im.MediaType
	if mt == "" {
		mt = types.OCIImageIndex
	}
	return &index{b: b, h: h, raw: raw, im: im, mt: mt, unhashed: unhashed}, nil
}

type index struct {
	b        Blobs
	h        v1.Hash
	raw      []byte
	im       *v1.IndexManifest
	mt       types.MediaType
	unhashed bool
}

var _ v1.ImageIndex = (*index)(nil)

func (x *index) MediaType() (types.MediaType, error)         { return x.mt, nil }
func (x *index) Digest() (v1.Hash, error)                    { return x.h, nil }
func (x *index) Size() (int64, error)                        { return int64(len(x.raw)), nil }
func (x *index) RawManifest() ([]byte, error)                { return x.raw, nil }
func (x *index) Image(h v1.Hash) (v1.Image, error)           { return newImage(x.b, h, x.unhashed) }
func (x *index) ImageIndex(h v1.Hash) (v1.ImageIndex, error) { return newIndex(x.b, h, x.unhashed) }
func (x *index) IndexManifest() (*v1.IndexManifest, error) {
	c := *x.im
	return &c, nil
}

// Missing lists the blobs that the image or index h names (recursively)
// and b does not hold. Non-distributable layers are not counted: no tool
// copies them.
func Missing(b Blobs, h v1.Hash, mt types.MediaType) ([]v1.Hash, error) {
	var out []v1.Hash
	seen := map[v1.Hash]bool{}
	var walk func(h v1.Hash, mt types.MediaType) error
	walk = func(h v1.Hash, mt types.MediaType) error {
		if seen[h] {
			return nil
		}
		seen[h] = true
		p, err := b.BlobPath(h.Hex)
		if err != nil {
			return err
		}
		if !fileExists(p) {
			out = append(out, h)
			return nil
		}
		switch {
		case mt.IsIndex():
			raw, err := readBlob(b, h)
			if err != nil {
				return err
			}
			im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
			if err != nil {
				return fmt.Errorf("index %s: %w", h, err)
			}
			for _, c := range im.Manifests {
				if err := walk(c.Digest, c.MediaType); err != nil {
					return err
				}
			}
		case mt.IsImage() || mt == "":
			raw, err := readBlob(b, h)
			if err != nil {
				return err
			}
			m, err := v1.ParseManifest(bytes.NewReader(raw))
			if err != nil {
				return fmt.Errorf("manifest %s: %w", h, err)
			}
			for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
				if !d.MediaType.IsDistributable() || seen[d.Digest] {
					continue
				}
				seen[d.Digest] = true
				if p, err := b.BlobPath(d.Digest.Hex); err != nil || !fileExists(p) {
					out = append(out, d.Digest)
				}
			}
		}
		return nil
	}
	return out, walk(h, mt)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
