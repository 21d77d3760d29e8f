package images_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-dev/ferry/images"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

type dirBlobs string

func (d dirBlobs) BlobPath(hex string) (string, error) { return filepath.Join(string(d), hex), nil }

// storeIndex writes a one-image index into a blob directory and returns
// it, the index digest and the image's layer.
func storeIndex(t *testing.T) (dirBlobs, v1.Hash, v1.Layer) {
	t.Helper()
	b := dirBlobs(t.TempDir())
	put := func(h v1.Hash, raw []byte) {
		if err := os.WriteFile(filepath.Join(string(b), h.Hex), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img, err := random.Image(4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	h, _ := ls[0].Digest()
	rc, _ := ls[0].Compressed()
	raw, _ := io.ReadAll(rc)
	put(h, raw)
	cfg, _ := img.RawConfigFile()
	ch, _ := img.ConfigName()
	put(ch, cfg)
	m, _ := img.RawManifest()
	d, _ := img.Digest()
	put(d, m)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
	im, _ := idx.RawManifest()
	xd, _ := idx.Digest()
	put(xd, im)
	return b, xd, ls[0]
}

func layerOf(t *testing.T, x v1.ImageIndex, want v1.Layer) v1.Layer {
	t.Helper()
	im, err := x.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := x.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := want.Digest()
	l, err := img.LayerByDigest(h)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestUnhashedLayers: IndexUnhashed hands its images' layers out as the
// stored files (for sendfile), Index never does; both refuse a layer of
// the wrong size, and only Index catches a same-size change (the registry
// does for IndexUnhashed).
func TestUnhashedLayers(t *testing.T) {
	b, xd, want := storeIndex(t)
	h, _ := want.Digest()
	p, _ := b.BlobPath(h.Hex)
	for _, tc := range []struct {
		name     string
		open     func(images.Blobs, v1.Hash) (v1.ImageIndex, error)
		unhashed bool
	}{
		{"Index", images.Index, false},
		{"IndexUnhashed", images.IndexUnhashed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := tc.open(b, xd)
			if err != nil {
				t.Fatal(err)
			}
			l := layerOf(t, x, want)
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			if _, isFile := rc.(*os.File); isFile != tc.unhashed {
				t.Errorf("Compressed is a %T", rc)
			}
			rc.Close()

			data, _ := os.ReadFile(p)
			t.Cleanup(func() { os.WriteFile(p, data, 0o644) })
			data2 := append([]byte(nil), data[:len(data)-1]...)
			if err := os.WriteFile(p, data2, 0o644); err != nil {
				t.Fatal(err)
			}
			var de *images.DigestError
			rc, err = l.Compressed()
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if !errors.As(err, &de) || de.Path != p {
				t.Errorf("truncated layer: want a *DigestError for %s, got %v", p, err)
			}
			if err := images.VerifyBlob(b, h); !errors.As(err, &de) {
				t.Errorf("VerifyBlob: want a *DigestError, got %v", err)
			}
			os.WriteFile(p, data, 0o644)
			if err := images.VerifyBlob(b, h); err != nil {
				t.Errorf("VerifyBlob of the intact layer: %v", err)
			}
		})
	}
}
