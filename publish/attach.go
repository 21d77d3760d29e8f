package publish

import (
	"context"
	"fmt"

	"github.com/ferry-dev/ferry/format"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// attachTries bounds how often Attach re-adds its layer to the cosign tag
// when another writer replaced the tag meanwhile.
const attachTries = 8

// Attached is where Attach put an attestation.
type Attached struct {
	// Tag is REPO:sha256-<hex>.att, cosign's tag for the image.
	Tag string `json:"tag"`
	// Referrer is REPO@sha256:… of the OCI 1.1 referrer manifest.
	Referrer string `json:"referrer"`
	// Layer is the digest of the envelope layer.
	Layer string `json:"layer"`
	// Existed is true when the tag already held the envelope.
	Existed bool `json:"existed"`
}

// Attach pushes a DSSE envelope (an in-toto statement about the image
// REPO@subject, as ferry gate --sign writes it) as cosign lays out an
// attestation: a layer of media type application/vnd.dsse.envelope.v1+json
// with the annotations predicateType and an empty cosign signature, added
// to the image's sha256-<hex>.att tag (the layers already there stay; the
// same envelope is not added twice); and the same layer in a manifest of
// its own whose subject is the image (an OCI 1.1 referrer, which needs no
// tag and so cannot be lost to another writer).
//
// A registry tag has no compare-and-swap: two writers adding to the same
// .att tag at once can each replace the other's manifest. Attach reads the
// tag back after writing and adds its layer again while it is missing
// (at most a few times, then ErrAttestationLost); the referrer holds the
// attestation either way. The image must be in the repository.
func Attach(ctx context.Context, repo string, subject v1.Hash, envelope []byte, predicateType string, o Options) (*Attached, error) {
	r, err := o.repository(repo)
	if err != nil {
		return nil, err
	}
	ro := o.remote(ctx)
	img := r.Digest(subject.String())
	sd, err := remote.Head(img, ro...)
	if err != nil {
		return nil, fmt.Errorf("the image %s: %w", img, err)
	}
	layer := mutate.Addendum{
		Layer:       static.NewLayer(envelope, format.MediaDSSE),
		Annotations: map[string]string{format.AnnotationCosignSignature: "", format.AnnotationPredicateType: predicateType},
	}
	ld, err := layer.Layer.Digest()
	if err != nil {
		return nil, err
	}
	tag := r.Tag(format.CosignTag(subject.Algorithm, subject.Hex, format.SuffixAttestation))
	out := &Attached{Tag: tag.String(), Layer: ld.String()}

	// The referrer first: it is written once and never replaced.
	ref, err := mutate.Append(cosignBase(), layer)
	if err != nil {
		return nil, err
	}
	refImg := mutate.Subject(mutate.ConfigMediaType(ref, format.MediaDSSE), *sd).(v1.Image)
	rd, err := refImg.Digest()
	if err != nil {
		return nil, err
	}
	if err := remote.Write(r.Digest(rd.String()), refImg, ro...); err != nil {
		return nil, fmt.Errorf("writing the referrer of %s: %w", img, err)
	}
	out.Referrer = r.Digest(rd.String()).String()

	for try := 0; try < attachTries; try++ {
		cur, found, err := attTag(tag, ld, ro)
		if err != nil {
			return nil, err
		}
		if found {
			out.Existed = try == 0
			return out, nil
		}
		next, err := mutate.Append(cur, layer)
		if err != nil {
			return nil, err
		}
		if err := remote.Write(tag, next, ro...); err != nil {
			return nil, fmt.Errorf("writing %s: %w", tag, err)
		}
		if _, found, err = attTag(tag, ld, ro); err != nil {
			return nil, err
		} else if found {
			return out, nil
		}
	}
	return out, fmt.Errorf("%s: %w (the referrer %s holds it)", tag, ErrAttestationLost, out.Referrer)
}

// cosignBase is cosign's empty attachment image: an OCI manifest with an
// OCI config.
func cosignBase() v1.Image {
	return mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
}

// attTag reads the .att image at tag (empty when there is none) and
// whether it holds a layer of digest want.
func attTag(tag name.Tag, want v1.Hash, ro []remote.Option) (v1.Image, bool, error) {
	h, err := head(tag, ro)
	if err != nil {
		return nil, false, err
	}
	if h == nil {
		return cosignBase(), false, nil
	}
	img, err := remote.Image(tag.Context().Digest(h.String()), ro...)
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", tag, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", tag, err)
	}
	for _, l := range m.Layers {
		if l.Digest == want {
			return img, true, nil
		}
	}
	return img, false, nil
}
