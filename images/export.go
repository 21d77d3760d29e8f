package images

import (
	"context"
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Export formats.
const (
	FormatOCI    = "oci"    // an OCI image layout directory
	FormatDocker = "docker" // a docker save / docker load tarball
)

// ExportOptions configures Export.
type ExportOptions struct {
	// Format is FormatOCI or FormatDocker.
	Format string
	// Name labels the image: org.opencontainers.image.ref.name in the OCI
	// layout, the repo tag in a docker tarball. Optional.
	Name string
	// Platform picks one image of an index for a docker tarball (which
	// holds single images only). Optional when the store holds exactly
	// one image of the index.
	Platform *v1.Platform
}

// ExportResult describes what Export wrote.
type ExportResult struct {
	Format string `json:"format"`
	Path   string `json:"path"`
	// Digest is the digest of what was written: the source digest (OCI),
	// or the image manifest chosen from an index (docker).
	Digest string `json:"digest"`
	// ImageID is the config digest of a docker export (docker's image ID).
	ImageID string `json:"imageId,omitempty"`
}

// Export writes the image or index desc from b to out: an OCI image layout
// directory (which must not exist, or be empty) whose index.json names
// desc with its digest unchanged, or a docker tarball file. Both are
// written under a temporary name and renamed into place.
//
// A docker tarball holds no manifest: docker load rebuilds one, so only
// the config digest (the image ID) and the layers survive; use the OCI
// format or push to keep the manifest digest.
func Export(ctx context.Context, b Blobs, desc v1.Descriptor, out string, o ExportOptions) (*ExportResult, error) {
	if out == "" {
		return nil, errors.New("no output path")
	}
	missing, err := Missing(b, desc.Digest, desc.MediaType)
	if err != nil {
		return nil, err
	}
	switch o.Format {
	case FormatOCI:
		if len(missing) > 0 {
			return nil, missingErr(desc.Digest, missing)
		}
		return exportOCI(ctx, b, desc, out, o)
	case FormatDocker:
		return exportDocker(ctx, b, desc, out, o)
	}
	return nil, fmt.Errorf("%w %q: use oci or docker", ErrFormat, o.Format)
}

func missingErr(h v1.Hash, missing []v1.Hash) error {
	var s []string
	for _, m := range missing {
		s = append(s, m.String())
	}
	return fmt.Errorf("%s: %w: %d blob(s) it names are not in the store (%s); an index mirrored with platforms: holds only those platforms",
		h, ErrBlobMissing, len(missing), strings.Join(s, ", "))
}

func exportOCI(ctx context.Context, b Blobs, desc v1.Descriptor, out string, o ExportOptions) (*ExportResult, error) {
	if err := checkLayoutTarget(out); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), ".ferry-export-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return nil, err
	}
	var opts []layout.Option
	if o.Name != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{format.AnnotationRefName: o.Name}))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		idx, err := Index(b, desc.Digest)
		if err != nil {
			return nil, err
		}
		err = p.AppendIndex(idx, opts...)
	} else {
		img, err2 := Image(b, desc.Digest)
		if err2 != nil {
			return nil, err2
		}
		err = p.AppendImage(img, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("writing the layout: %w", err)
	}
	// Checked again: out may have changed while the layout was written.
	// Only an empty directory is removed, never a file.
	if err := checkLayoutTarget(out); err != nil {
		return nil, err
	}
	if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	if err := os.Chmod(out, 0o755); err != nil {
		return nil, err
	}
	return &ExportResult{Format: FormatOCI, Path: out, Digest: desc.Digest.String()}, nil
}

// checkLayoutTarget refuses an OCI layout output that exists and is not
// an empty directory: a file (or a symlink, a device) there is the user's
// and is never replaced by a directory.
func checkLayoutTarget(out string) error {
	fi, err := os.Lstat(out)
	switch {
	case os.IsNotExist(err):
		return nil
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s: %w: the oci format writes a directory; give -o a new or empty directory", out, ErrOutputExists)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s: %w: it is a directory that is not empty", out, ErrOutputExists)
	}
	return nil
}

func exportDocker(ctx context.Context, b Blobs, desc v1.Descriptor, out string, o ExportOptions) (*ExportResult, error) {
	h := desc.Digest
	if desc.MediaType.IsIndex() {
		var err error
		if h, err = pickPlatform(b, desc.Digest, o.Platform); err != nil {
			return nil, err
		}
	}
	if missing, err := Missing(b, h, types.OCIManifestSchema1); err != nil {
		return nil, err
	} else if len(missing) > 0 {
		return nil, missingErr(h, missing)
	}
	img, err := Image(b, h)
	if err != nil {
		return nil, err
	}
	var ref name.Reference
	if o.Name != "" {
		if t, err := name.NewTag(o.Name); err == nil && !strings.Contains(o.Name, "@") {
			ref = t
		}
	}
	if ref == nil {
		ref, err = name.NewDigest("ferry.local/image@" + h.String())
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	err = atomicfile.WriteFrom(out, 0o644, func(w io.Writer) error { return tarball.Write(ref, img, w) })
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", out, err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	return &ExportResult{Format: FormatDocker, Path: out, Digest: h.String(), ImageID: cfg.String()}, nil
}

// pickPlatform chooses one image manifest of an index that the store
// holds: the one for p, or the only one.
func pickPlatform(b Blobs, h v1.Hash, p *v1.Platform) (v1.Hash, error) {
	idx, err := Index(b, h)
	if err != nil {
		return v1.Hash{}, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("index %s: %w", h, err)
	}
	var held []v1.Descriptor
	var names []string
	for _, c := range im.Manifests {
		if !c.MediaType.IsImage() || c.Annotations["vnd.docker.reference.type"] != "" {
			continue
		}
		if path, err := b.BlobPath(c.Digest.Hex); err != nil || !fileExists(path) {
			continue
		}
		held = append(held, c)
		if c.Platform != nil {
			names = append(names, c.Platform.String())
		}
	}
	if p != nil {
		for _, c := range held {
			if c.Platform != nil && c.Platform.Satisfies(*p) {
				return c.Digest, nil
			}
		}
		return v1.Hash{}, fmt.Errorf("%s: the store holds no image for %s (it has: %s)", h, p, strings.Join(names, ", "))
	}
	if len(held) == 1 {
		return held[0].Digest, nil
	}
	return v1.Hash{}, fmt.Errorf("%s is an index of %d images (%s): a docker tarball holds one; pick it with --platform", h, len(held), strings.Join(names, ", "))
}
