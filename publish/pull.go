package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Scheme prefixes a kit in a registry on the command line:
// oci://REGISTRY/REPO:TAG.
const Scheme = "oci://"

// Artifact is a kit artifact in the registry, as its manifest says
// (unverified: the kit's signed metadata is the truth).
type Artifact struct {
	// Ref is REPO@sha256:… of the manifest.
	Ref      string
	Manifest v1.Hash
	// Layer is the kit file's descriptor; Layer.Digest is the kit's
	// sha256.
	Layer   v1.Descriptor
	Channel string
	Version int64
}

// ParseRef parses oci://REGISTRY/REPO:TAG (or @sha256:…); the prefix is
// optional.
func ParseRef(s string, o Options) (name.Reference, error) {
	s = strings.TrimPrefix(s, Scheme)
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(s, append(nopts, name.StrictValidation)...)
	if err != nil {
		return nil, fmt.Errorf("%q: %w (want %sREGISTRY/REPO:TAG)", s, err, Scheme)
	}
	if err := o.checkScheme(ref.Context().Registry); err != nil {
		return nil, err
	}
	return ref, nil
}

// Resolve reads the kit manifest at ref. The manifest is checked against
// its digest (the one asked for, or the registry's Docker-Content-Digest)
// by go-containerregistry; a manifest that is not a kit is ErrNotKit.
func Resolve(ctx context.Context, ref name.Reference, o Options) (*Artifact, error) {
	return resolve(ref, o.remote(ctx))
}

func resolve(ref name.Reference, ro []remote.Option) (*Artifact, error) {
	d, err := remote.Get(ref, ro...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if len(d.Manifest) > MaxManifest {
		return nil, fmt.Errorf("%s: %w: manifest of %d bytes", ref, ErrNotKit, len(d.Manifest))
	}
	var m v1.Manifest
	if err := json.Unmarshal(d.Manifest, &m); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", ref, ErrNotKit, err)
	}
	if m.ArtifactType != ArtifactType || len(m.Layers) != 1 || m.Layers[0].MediaType != MediaKitLayer {
		return nil, fmt.Errorf("%s: %w: artifactType %q with %d layer(s); want %s with one %s layer", ref, ErrNotKit, m.ArtifactType, len(m.Layers), ArtifactType, MediaKitLayer)
	}
	if m.Layers[0].Digest.Algorithm != "sha256" || m.Layers[0].Size <= 0 {
		return nil, fmt.Errorf("%s: %w: layer %s of %d bytes", ref, ErrNotKit, m.Layers[0].Digest, m.Layers[0].Size)
	}
	a := &Artifact{Ref: ref.Context().Digest(d.Digest.String()).String(), Manifest: d.Digest, Layer: m.Layers[0], Channel: m.Annotations[AnnotationChannel]}
	if v := m.Annotations[AnnotationVersion]; v != "" {
		a.Version, _ = strconv.ParseInt(v, 10, 64)
	}
	return a, nil
}

// Open returns the kit file of a as a stream from the registry, bounded
// by the layer's size and hashed while it is read: the read that reaches
// the end fails when the bytes do not match the layer's digest (or are
// shorter), so an import that reads the kit to its end never commits a
// blob that does not match. The caller closes it.
func Open(ctx context.Context, repo name.Repository, a *Artifact, o Options) (io.ReadCloser, error) {
	l, err := remote.Layer(repo.Digest(a.Layer.Digest.String()), o.remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.Ref, err)
	}
	// Compressed is the blob as stored: go-containerregistry checks its
	// digest and size at EOF (internal/verify).
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("%s: kit blob %s: %w", a.Ref, a.Layer.Digest, err)
	}
	return &sized{rc: rc, left: a.Layer.Size, ref: a.Ref}, nil
}

// sized fails a read past the manifest's layer size, and an end before it.
type sized struct {
	rc   io.ReadCloser
	left int64
	ref  string
}

func (s *sized) Read(p []byte) (int, error) {
	if int64(len(p)) > s.left+1 {
		p = p[:s.left+1]
	}
	n, err := s.rc.Read(p)
	s.left -= int64(n)
	if s.left < 0 {
		return n, fmt.Errorf("%s: kit blob is longer than its manifest says", s.ref)
	}
	if err == io.EOF && s.left > 0 {
		return n, fmt.Errorf("%s: kit blob ends %d bytes short of its manifest's size: %w", s.ref, s.left, io.ErrUnexpectedEOF)
	}
	return n, err
}

func (s *sized) Close() error { return s.rc.Close() }
