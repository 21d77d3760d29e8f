package scan

import (
	"context"
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
// "docker-archive:FILE", "sbom:FILE" or "dir:DIR". It returns a
// *TargetError (Is ErrTarget) for anything else.
func ParseTarget(s string) (Target, error) {
	bad := func(reason string) (Target, error) { return Target{}, &TargetError{Target: s, Reason: reason} }
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return bad("want sha256:…, oci:DIR[@sha256:…], docker-archive:FILE, sbom:FILE or dir:DIR")
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
	case KindDockerArchive, KindSBOM, KindDir:
	default:
		return bad("unknown kind " + kind + ": want sha256, oci, docker-archive, sbom or dir")
	}
	if t.Kind != KindStoreImage && t.Path == "" {
		return bad("no path after " + kind + ":")
	}
	return t, nil
}
