package mirror

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/images"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// MaxAttestationLayer caps one attestation layer (a DSSE envelope) read
// from a registry.
const MaxAttestationLayer = 32 << 20

// Ways an attestation was found (AttestationRecord.Via).
const (
	ViaTag      = "tag"
	ViaReferrer = "referrer"
)

// VEXAttestationsOptions configures FetchVEXAttestations.
type VEXAttestationsOptions struct {
	// Images are the subscribed images; a tag is resolved to its digest.
	Images []ImageRef
	// Verify is the trust: a public key, or a keyless identity and issuer
	// with a trusted root. Required.
	Verify images.VerifyOptions
	// Registries says how to reach each registry host (RegistryHost);
	// others are reached anonymously over HTTPS.
	Registries map[string]RegistryConfig
	// Transport is the HTTP transport; default remote.DefaultTransport.
	Transport http.RoundTripper
	// Logger receives progress; discard when nil.
	Logger    *slog.Logger
	UserAgent string
	// At is recorded as each image's fetch time.
	At time.Time
}

// VEXAttestations is what FetchVEXAttestations found.
type VEXAttestations struct {
	// Images are the subscribed images resolved to digests, in order.
	Images []ImageProvenance
	// Verified are the OpenVEX attestations that verified, in discovery
	// order (image, subject, tag before referrers, manifest, layer).
	Verified []VEXAttestation
	// Rejected are the OpenVEX attestations that did not verify or could
	// not be read, with the reason.
	Rejected []RejectedAttestation
	// Ignored counts attestations of other predicate types (SLSA
	// provenance, SBOMs …), which are neither verified nor carried.
	Ignored int
}

// VEXAttestation is one verified OpenVEX attestation.
type VEXAttestation struct {
	// Record describes it; Predicate, PredicateDigest and Verified.Key /
	// TrustedRoot are left for the caller, which knows the kit paths.
	Record images.AttestationRecord
	// Predicate is the OpenVEX document exactly as it sits in the signed
	// statement.
	Predicate []byte
	// Result is the verification result (identity and issuer, keyless).
	Result images.SignatureRes
}

// RejectedAttestation is an OpenVEX attestation left out.
type RejectedAttestation struct {
	// Item names it: repository@manifest#layer.
	Item   string
	Image  string
	Reason string
}

// FetchVEXAttestations finds the OpenVEX attestations of every image
// (cosign's sha256-<hex>.att tags and OCI referrers of the image and of
// its platform manifests), verifies each against o.Verify with
// images.VerifyAttestation and returns the ones that verified and the ones
// that did not, with the reason. Attestations of other predicate types
// are counted and left alone. Registry failures come back as
// *RegistryError; a registry reached over plain HTTP without Insecure
// fails with ErrPlainHTTP before any request.
func FetchVEXAttestations(ctx context.Context, o VEXAttestationsOptions) (*VEXAttestations, error) {
	if o.Transport == nil {
		o.Transport = remote.DefaultTransport
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if len(o.Images) == 0 {
		return nil, errors.New("no images to look at")
	}
	if o.Verify.Key == nil && o.Verify.Identity == "" {
		return nil, errors.New("no verification key or keyless identity")
	}
	for _, r := range o.Images {
		if r.Ref == nil {
			return nil, fmt.Errorf("%w: nil reference", ErrInvalidReference)
		}
		reg := r.Ref.Context().RegistryStr()
		if PlainHTTP(r.Ref) && !o.Registries[reg].Insecure {
			return nil, fmt.Errorf("%s: %w (set insecure: true for %s under registries: only for a registry you trust on this network)", r.Ref, ErrPlainHTTP, reg)
		}
	}
	if o.Registries == nil {
		o.Registries = map[string]RegistryConfig{}
	}
	ua := o.UserAgent
	f := &vexFetch{
		ctx: ctx, o: o,
		pullers: &pullers{transport: o.Transport, registries: o.Registries, jobs: 1, userAgent: ua, byHost: map[string]*remote.Puller{}},
		seen:    map[string]bool{},
		out:     &VEXAttestations{},
	}
	for _, r := range o.Images {
		if err := f.image(r); err != nil {
			return nil, err
		}
	}
	return f.out, nil
}

type vexFetch struct {
	ctx     context.Context
	o       VEXAttestationsOptions
	pullers *pullers
	seen    map[string]bool // subject + layer digest already handled
	out     *VEXAttestations
}

func (f *vexFetch) image(r ImageRef) error {
	repo := r.Ref.Context()
	p, err := f.pullers.get(repo.RegistryStr())
	if err != nil {
		return err
	}
	f.o.Logger.Info("resolving image", "ref", r.Ref.String())
	desc, raw, err := f.get(p, r.Ref)
	if err != nil {
		return err
	}
	written := cmp.Or(r.Written, r.Ref.String())
	prov := ImageProvenance{Ref: written, Repository: repo.Name(), Digest: desc.Digest.String(), MediaType: string(desc.MediaType), FetchedAt: f.o.At.UTC()}
	subjects := []v1.Hash{desc.Digest}
	if desc.MediaType.IsIndex() {
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("%s@%s: %w: %v", repo, desc.Digest, ErrUnsupportedManifest, err)
		}
		var children []v1.Hash
		for _, c := range im.Manifests {
			if c.MediaType.IsImage() && c.Annotations["vnd.docker.reference.type"] == "" {
				children = append(children, c.Digest)
			}
		}
		slices.SortFunc(children, func(a, b v1.Hash) int { return strings.Compare(a.String(), b.String()) })
		subjects = append(subjects, slices.Compact(children)...)
		prov.Manifests = len(children)
	} else {
		prov.Manifests = 1
	}
	for _, s := range subjects {
		if err := checkSHA256(s); err != nil {
			return fmt.Errorf("%s: %w", repo, err)
		}
		n, err := f.subject(p, repo, written, s)
		if err != nil {
			return err
		}
		prov.Attachments += n
	}
	f.out.Images = append(f.out.Images, prov)
	return nil
}

// get fetches a manifest and checks a digest reference against it.
func (f *vexFetch) get(p *remote.Puller, ref name.Reference) (v1.Descriptor, []byte, error) {
	reg := ref.Context().RegistryStr()
	rd, err := p.Get(f.ctx, ref)
	if err != nil {
		return v1.Descriptor{}, nil, registryError(reg, ref.String(), err)
	}
	raw := rd.Manifest
	desc := v1.Descriptor{MediaType: manifestMediaType(raw, rd.MediaType), Size: int64(len(raw)), Digest: rd.Digest}
	got, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil || got != rd.Digest {
		return v1.Descriptor{}, nil, &DigestError{What: ref.String(), Want: rd.Digest.String(), Got: got.String(), WantSize: -1}
	}
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != desc.Digest.String() {
		return v1.Descriptor{}, nil, &DigestError{What: ref.String(), Want: d.DigestStr(), Got: desc.Digest.String(), WantSize: -1}
	}
	return desc, raw, nil
}

// subject looks at the .att tag and the referrers of one digest and
// returns how many attestation manifests it read.
func (f *vexFetch) subject(p *remote.Puller, repo name.Repository, written string, subject v1.Hash) (int, error) {
	n := 0
	tag := repo.Tag(format.CosignTag(subject.Algorithm, subject.Hex, format.SuffixAttestation))
	desc, raw, err := f.get(p, tag)
	switch {
	case err == nil:
		n++
		if err := f.manifest(p, repo, written, subject, desc, raw, ViaTag, tag.TagStr()); err != nil {
			return 0, err
		}
	case !isNotFound(err):
		return 0, err
	}
	d := repo.Digest(subject.String())
	refs, err := listReferrers(f.ctx, p, d)
	if err != nil {
		return 0, err
	}
	for _, rd := range refs {
		if rd.MediaType.IsIndex() {
			continue // an index of referrers: not an attestation
		}
		if err := checkSHA256(rd.Digest); err != nil {
			return 0, fmt.Errorf("%s referrer: %w", d, err)
		}
		desc, raw, err := f.get(p, repo.Digest(rd.Digest.String()))
		if err != nil {
			return 0, err
		}
		n++
		if err := f.manifest(p, repo, written, subject, desc, raw, ViaReferrer, ""); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// manifest looks at every layer of an attestation manifest.
func (f *vexFetch) manifest(p *remote.Puller, repo name.Repository, written string, subject v1.Hash, desc v1.Descriptor, raw []byte, via, tag string) error {
	if desc.MediaType.IsIndex() {
		return nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s@%s: %w: %v", repo, desc.Digest, ErrUnsupportedManifest, err)
	}
	for i, l := range m.Layers {
		item := fmt.Sprintf("%s@%s#%d", repo.Name(), desc.Digest, i)
		reject := func(format string, args ...any) {
			f.out.Rejected = append(f.out.Rejected, RejectedAttestation{Item: item, Image: written, Reason: fmt.Sprintf(format, args...)})
		}
		switch string(l.MediaType) {
		case format.MediaDSSE:
		case format.MediaSigstoreBundle:
			if pt := l.Annotations[format.AnnotationBundlePredicateType]; format.IsOpenVEXPredicate(pt) {
				reject("a Sigstore bundle attestation: this version of ferry verifies cosign DSSE attestations only")
			} else {
				f.out.Ignored++
			}
			continue
		default:
			continue // a signature, an SBOM, a config-only artifact …
		}
		key := subject.String() + " " + l.Digest.String()
		if f.seen[key] {
			continue
		}
		f.seen[key] = true
		if err := checkSHA256(l.Digest); err != nil {
			reject("%v", err)
			continue
		}
		if l.Size > MaxAttestationLayer {
			reject("layer of %d bytes (at most %d)", l.Size, MaxAttestationLayer)
			continue
		}
		env, err := f.layer(p, repo, l)
		if err != nil {
			return err
		}
		st, err := images.ParseEnvelope(env)
		if err != nil {
			if pt := l.Annotations[format.AnnotationPredicateType]; format.IsOpenVEXPredicate(pt) {
				reject("%v", err)
			} else {
				f.out.Ignored++
			}
			continue
		}
		if !format.IsOpenVEXPredicate(st.PredicateType) {
			f.out.Ignored++
			continue
		}
		res, err := images.VerifyAttestation(f.ctx, env, l.Annotations, subject, f.o.Verify)
		if err != nil {
			if f.ctx.Err() != nil {
				return f.ctx.Err()
			}
			reject("verification failed: %v", err)
			continue
		}
		if len(bytes.TrimSpace(st.Predicate)) == 0 || bytes.Equal(bytes.TrimSpace(st.Predicate), []byte("null")) {
			reject("the statement has no predicate")
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, env); err != nil {
			reject("envelope: %v", err)
			continue
		}
		rec := images.AttestationRecord{
			Schema: format.AttestationSchema, Image: written, Repository: repo.Name(), Subject: subject.String(),
			Manifest: desc.Digest.String(), Via: via, Tag: tag, Layer: i, LayerDigest: l.Digest.String(),
			MediaType: string(l.MediaType), Annotations: cosignAnnotations(l.Annotations), Envelope: compact.Bytes(),
			PredicateType: st.PredicateType,
			Verified:      images.AttestationCheck{Tlog: res.Tlog},
		}
		if f.o.Verify.Key != nil {
			rec.Verified.Mode = "key"
		} else {
			rec.Verified.Mode, rec.Verified.Identity, rec.Verified.Issuer = "keyless", f.o.Verify.Identity, f.o.Verify.Issuer
		}
		f.out.Verified = append(f.out.Verified, VEXAttestation{Record: rec, Predicate: st.Predicate, Result: res})
	}
	return nil
}

// cosignAnnotations keeps the layer annotations that carry verification
// material or say what the layer is.
func cosignAnnotations(in map[string]string) map[string]string {
	keep := []string{format.AnnotationCosignSignature, format.AnnotationCosignCertificate, format.AnnotationCosignChain,
		format.AnnotationCosignBundle, format.AnnotationCosignRFC3161, format.AnnotationPredicateType}
	var out map[string]string
	for _, k := range keep {
		if v, ok := in[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// layer downloads one attestation layer, capped and checked against its
// digest.
func (f *vexFetch) layer(p *remote.Puller, repo name.Repository, l v1.Descriptor) ([]byte, error) {
	ref := repo.Digest(l.Digest.String())
	rl, err := p.Layer(f.ctx, ref)
	if err != nil {
		return nil, registryError(repo.RegistryStr(), ref.String(), err)
	}
	rc, err := rl.Compressed()
	if err != nil {
		return nil, registryError(repo.RegistryStr(), ref.String(), err)
	}
	defer rc.Close()
	h := sha256.New()
	data, err := io.ReadAll(io.TeeReader(io.LimitReader(rc, MaxAttestationLayer+1), h))
	if err != nil {
		return nil, registryError(repo.RegistryStr(), ref.String(), err)
	}
	if len(data) > MaxAttestationLayer {
		return nil, fmt.Errorf("%s: attestation layer larger than %d bytes", ref, MaxAttestationLayer)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != l.Digest.Hex || int64(len(data)) != l.Size {
		return nil, &DigestError{What: ref.String(), Want: l.Digest.String(), Got: "sha256:" + got, WantSize: l.Size, GotSize: int64(len(data))}
	}
	return data, nil
}
