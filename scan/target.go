package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Target kinds.
const (
	KindStoreImage    = "image"          // sha256:… an image in the store
	KindOCI           = "oci"            // oci:DIR[@sha256:…]
	KindDockerArchive = "docker-archive" // docker-archive:FILE
	KindSBOM          = "sbom"           // sbom:FILE
	KindDir           = "dir"            // dir:DIR
	// KindFile is a single file scanned by what it holds: a Go binary or a
	// lockfile (package-lock.json, a .jar). A target without a prefix is
	// a path: an SBOM, a docker save tarball, an OCI layout or a directory
	// found there is scanned as such, anything else as a KindFile.
	KindFile = "file"
)

// Target is a parsed scan target.
type Target struct {
	Ref    string // as given
	Kind   string
	Path   string // file or directory; "" for store images
	Digest string // sha256:… for store images and oci:DIR@sha256:…
}

// ImageSource opens images by digest, e.g. the images a kit imported into
// the store.
type ImageSource interface {
	Image(ctx context.Context, digest string) (v1.Image, error)
}

// ParseTarget parses "sha256:…", "oci:DIR[@sha256:…]",
// "docker-archive:FILE", "sbom:FILE", "dir:DIR", "file:FILE", or a path
// without a prefix (kind "" until ResolvePath looks at it). It returns a
// *TargetError (Is ErrTarget) for anything else.
func ParseTarget(s string) (Target, error) {
	bad := func(reason string) (Target, error) { return Target{}, &TargetError{Target: s, Reason: reason} }
	if s == "" {
		return bad("empty target: want a file or directory, or sha256:…, oci:DIR[@sha256:…], docker-archive:FILE, sbom:FILE or dir:DIR")
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		// A bare path: what it is is decided when it is read.
		return Target{Ref: s, Path: s}, nil
	}
	t := Target{Ref: s, Kind: kind, Path: rest}
	switch kind {
	case "sha256":
		if _, err := v1.NewHash(s); err != nil {
			return bad("not a sha256 digest: " + err.Error())
		}
		t.Kind, t.Path, t.Digest = KindStoreImage, "", s
	case KindOCI:
		if i := strings.LastIndex(rest, "@sha256:"); i >= 0 {
			if _, err := v1.NewHash(rest[i+1:]); err != nil {
				return bad("not a sha256 digest after @: " + err.Error())
			}
			t.Path, t.Digest = rest[:i], rest[i+1:]
		}
	case KindDockerArchive, KindSBOM, KindDir, KindFile:
	default:
		return bad("unknown kind " + kind + ": want sha256, oci, docker-archive, sbom, dir, file, or a path without a prefix")
	}
	if t.Kind != KindStoreImage && t.Path == "" {
		return bad("no path after " + kind + ":")
	}
	return t, nil
}

// ResolvePath decides the kind of a target given as a bare path by what is
// there: a directory with an oci-layout file is an OCI layout, any other
// directory a dir:; a file that starts like a CycloneDX or SPDX JSON
// document is an SBOM, a tar archive with a manifest.json a docker save
// tarball, anything else a single file (KindFile). Targets with a kind are
// returned as they are.
func ResolvePath(t Target) (Target, error) {
	if t.Kind != "" {
		return t, nil
	}
	fi, err := os.Stat(t.Path)
	if err != nil {
		return t, &TargetError{Target: t.Ref, Reason: err.Error()}
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(t.Path, "oci-layout")); err == nil {
			t.Kind = KindOCI
		} else {
			t.Kind = KindDir
		}
		return t, nil
	}
	if !fi.Mode().IsRegular() {
		return t, &TargetError{Target: t.Ref, Reason: "not a regular file or a directory"}
	}
	f, err := os.Open(t.Path)
	if err != nil {
		return t, &TargetError{Target: t.Ref, Reason: err.Error()}
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return t, &TargetError{Target: t.Ref, Reason: err.Error()}
	}
	head = head[:n]
	switch {
	case len(bytes.TrimSpace(head)) > 0 && bytes.TrimSpace(head)[0] == '{' &&
		(bytes.Contains(head, []byte(`"bomFormat"`)) || bytes.Contains(head, []byte(`"spdxVersion"`))):
		t.Kind = KindSBOM
	case isDockerArchive(f):
		t.Kind = KindDockerArchive
	default:
		t.Kind = KindFile
	}
	return t, nil
}

// isDockerArchive reports whether r is a tar archive holding a
// manifest.json at its top (docker save writes it last).
func isDockerArchive(r io.ReadSeeker) bool {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return false
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return false
		}
		if path.Clean(h.Name) == "manifest.json" {
			return true
		}
	}
}
