package publish

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

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
// .att tag at once can each replace the other's manifest. The referrers
// cannot be lost that way (each is a manifest of its own), so every write
// of the tag adds whatever cosign attestation layers the subject's
// referrers hold that the tag lacks, and Attach waits a moment after
// writing, reads the tag again and writes again while its layer is
// missing (at most a few times, then ErrAttestationLost; the referrer
// holds the attestation either way). The image must be in the repository.
// Attach is safe for concurrent use, in one process or many.
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
		cur, have, err := attTag(tag, ro)
		if err != nil {
			return nil, err
		}
		if try == 0 && have[ld] {
			out.Existed = true
			return out, nil
		}
		if try > 0 && have[ld] {
			return out, nil
		}
		// Everything the referrers hold that the tag lacks, ours
		// included: a writer that replaced the tag with an older copy
		// is repaired by the next one.
		missing, err := referred(ctx, r.Digest(subject.String()), have, ro)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(missing, func(a mutate.Addendum) bool { d, _ := a.Layer.Digest(); return d == ld }) {
			missing = append(missing, layer)
		}
		next, err := mutate.Append(cur, missing...)
		if err != nil {
			return nil, err
		}
		if err := remote.Write(tag, next, ro...); err != nil {
			return nil, fmt.Errorf("writing %s: %w", tag, err)
		}
		// Let writers that read the tag before ours landed finish, then
		// look again.
		if err := settle(ctx, ld, try); err != nil {
			return nil, err
		}
	}
	return out, fmt.Errorf("%s: %w (the referrer %s holds it)", tag, ErrAttestationLost, out.Referrer)
}

// attachSettle is how long Attach waits after writing the .att tag before
// it checks that its layer is still there.
const attachSettle = 100 * time.Millisecond

// settle waits attachSettle, spread by the layer digest and the try so
// that racing writers do not check in step.
func settle(ctx context.Context, ld v1.Hash, try int) error {
	var spread time.Duration
	if len(ld.Hex) >= 2 {
		b, _ := strconv.ParseUint(ld.Hex[:2], 16, 8)
		spread = time.Duration(b) * attachSettle / 256
	}
	t := time.NewTimer(attachSettle*time.Duration(try+1) + spread)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// referred returns the cosign attestation layers (DSSE, with a
// predicateType) of the subject's referrers that are not in have.
func referred(ctx context.Context, subject name.Digest, have map[v1.Hash]bool, ro []remote.Option) ([]mutate.Addendum, error) {
	idx, err := remote.Referrers(subject, append(ro, remote.WithFilter("artifactType", format.MediaDSSE))...)
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", subject, err)
	}
	var out []mutate.Addendum
	for _, d := range im.Manifests {
		if d.ArtifactType != format.MediaDSSE {
			continue
		}
		img, err := remote.Image(subject.Context().Digest(d.Digest.String()), ro...)
		if err != nil {
			return nil, fmt.Errorf("referrer %s: %w", d.Digest, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("referrer %s: %w", d.Digest, err)
		}
		for _, l := range m.Layers {
			if have[l.Digest] || l.MediaType != format.MediaDSSE || l.Annotations[format.AnnotationPredicateType] == "" {
				continue
			}
			if _, ok := l.Annotations[format.AnnotationCosignSignature]; !ok {
				continue
			}
			have[l.Digest] = true
			layer, err := img.LayerByDigest(l.Digest)
			if err != nil {
				return nil, fmt.Errorf("referrer %s: %w", d.Digest, err)
			}
			out = append(out, mutate.Addendum{Layer: layer, Annotations: l.Annotations, MediaType: l.MediaType})
		}
	}
	return out, nil
}

// cosignBase is cosign's empty attachment image: an OCI manifest with an
// OCI config.
func cosignBase() v1.Image {
	return mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
}

// attTag reads the .att image at tag (empty when there is none) and the
// digests of its layers.
func attTag(tag name.Tag, ro []remote.Option) (v1.Image, map[v1.Hash]bool, error) {
	have := map[v1.Hash]bool{}
	h, err := head(tag, ro)
	if err != nil {
		return nil, nil, err
	}
	if h == nil {
		return cosignBase(), have, nil
	}
	img, err := remote.Image(tag.Context().Digest(h.String()), ro...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	for _, l := range m.Layers {
		have[l.Digest] = true
	}
	return img, have, nil
}
