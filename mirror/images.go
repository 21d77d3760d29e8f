package mirror

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"github.com/ferry-dev/ferry/internal/parallel"
	"github.com/ferry-dev/ferry/manifest"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LayoutDir is where the images go inside a kit: one OCI image layout.
const LayoutDir = "images"

// legacyTags are cosign's tag suffixes for things attached to a digest.
// The layout's index.json carries ferry's annotations (format.Annotation…).
var legacyTags = []struct{ suffix, kind string }{
	{format.SuffixSignature, format.KindSignature}, {format.SuffixAttestation, format.KindAttestation}, {format.SuffixSBOM, format.KindSBOM},
}

// ImageRef is one image to mirror.
type ImageRef struct {
	// Ref is the reference (ParseReference); a tag is resolved to a digest
	// at fetch time.
	Ref name.Reference
	// Written is the reference as kit.yaml wrote it, kept in the
	// format.AnnotationRefName annotation and the provenance; "" means
	// Ref.String() (which spells docker.io as index.docker.io).
	Written string
	// Platforms limits an index to these platforms; nil means all.
	Platforms []v1.Platform
}

// Images mirrors registry images into one OCI image layout. Create it with
// NewImages.
type Images struct {
	refs []ImageRef
	o    imagesOptions
}

type imagesOptions struct {
	registries map[string]RegistryConfig
	transport  http.RoundTripper
	logger     *slog.Logger
	jobs       int
	userAgent  string
}

// ImagesOption configures NewImages.
type ImagesOption func(*imagesOptions)

// WithRegistry sets how to reach the registry host (as RegistryHost
// returns it). Registries without one are reached anonymously over HTTPS.
func WithRegistry(host string, cfg RegistryConfig) ImagesOption {
	return func(o *imagesOptions) { o.registries[host] = cfg }
}

// WithTransport sets the HTTP transport (default remote.DefaultTransport).
func WithTransport(rt http.RoundTripper) ImagesOption {
	return func(o *imagesOptions) { o.transport = rt }
}

// WithLogger sets the logger for progress; discard by default.
func WithLogger(l *slog.Logger) ImagesOption {
	return func(o *imagesOptions) { o.logger = l }
}

// WithJobs sets how many blobs are downloaded at once (default 4).
func WithJobs(n int) ImagesOption {
	return func(o *imagesOptions) { o.jobs = n }
}

// WithUserAgent sets the User-Agent sent to registries.
func WithUserAgent(ua string) ImagesOption {
	return func(o *imagesOptions) { o.userAgent = ua }
}

// NewImages validates refs and options. It opens no connection. It fails
// with ErrPlainHTTP when a reference's registry would be reached over
// plain HTTP and its RegistryConfig is not Insecure, and with
// ErrInvalidReference for a reference without a registry.
func NewImages(refs []ImageRef, opts ...ImagesOption) (*Images, error) {
	o := imagesOptions{registries: map[string]RegistryConfig{}, transport: remote.DefaultTransport, jobs: 4}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.jobs < 1 {
		return nil, fmt.Errorf("jobs must be at least 1, not %d", o.jobs)
	}
	if o.transport == nil {
		return nil, fmt.Errorf("nil transport")
	}
	for _, r := range refs {
		if r.Ref == nil {
			return nil, fmt.Errorf("%w: nil reference", ErrInvalidReference)
		}
		reg := r.Ref.Context().RegistryStr()
		if PlainHTTP(r.Ref) && !o.registries[reg].Insecure {
			return nil, fmt.Errorf("%s: %w (set insecure: true for %s under registries: only for a registry you trust on this network)", r.Ref, ErrPlainHTTP, reg)
		}
	}
	return &Images{refs: slices.Clone(refs), o: o}, nil
}

// LayoutFile is one file of the layout, with its path in the kit.
type LayoutFile struct {
	// Path is the kit path, e.g. images/blobs/sha256/<hex>.
	Path string
	// MediaType is what the first descriptor that named the blob says it
	// is, or the type of index.json / oci-layout.
	MediaType string
	Size      int64
	Digest    v1.Hash
	// Open returns a reader over the content; it may be called more than
	// once. Readers of blobs come from the cache and fail at the end with
	// a *DigestError if the cached file changed.
	Open func() (io.ReadCloser, error)
}

// ImageProvenance records where one image came from.
type ImageProvenance = manifest.Image

// Layout is the result of Fetch: the files of one OCI image layout in
// lexical order of path, and where each image came from (in the order of
// the refs).
type Layout struct {
	Files  []LayoutFile
	Images []ImageProvenance
	// Bytes is the total size of Files.
	Bytes int64
}

// Fetch resolves every image to its digest, downloads manifests and blobs
// into cache (each blob once, however many images share it) and returns
// the layout. at is recorded as the fetch time. Registry failures come
// back as *RegistryError.
//
// Images are resolved several at a time (as many as WithJobs) and every
// blob starts downloading as soon as a manifest names it; the layout does
// not depend on which request finishes first.
func (m *Images) Fetch(ctx context.Context, cache *BlobCache, at time.Time) (*Layout, error) {
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &fetch{
		Images: m,
		ctx:    ctx,
		dctx:   dctx,
		cancel: cancel,
		cache:  cache,
		pullers: &pullers{transport: m.o.transport, registries: m.o.registries, jobs: m.o.jobs,
			userAgent: m.o.userAgent, byHost: map[string]*remote.Puller{}},
		blobs:     map[string]*blob{},
		refIndex:  map[string]bool{},
		scheduled: map[string]bool{},
		dlSlots:   make(chan struct{}, m.o.jobs),
	}
	refs, err := f.resolve()
	if err != nil {
		cancel()
		f.dlWG.Wait()
		return nil, err
	}
	// Merge in the order of the refs, as a serial walk would have met
	// them: the first descriptor naming a blob gives its media type.
	var provs []ImageProvenance
	for _, r := range refs {
		for _, b := range r.blobs {
			if g := f.addBlob(b.repo, v1.Descriptor{Digest: b.digest, Size: b.size, MediaType: types.MediaType(b.mediaType)}); g.size != b.size {
				cancel()
				f.dlWG.Wait()
				return nil, fmt.Errorf("%s: blob %s is named with sizes %d and %d", b.repo, b.digest, g.size, b.size)
			}
		}
		for _, d := range r.index {
			f.addIndex(d)
		}
		r.prov.FetchedAt = at.UTC()
		provs = append(provs, *r.prov)
	}
	f.dlWG.Wait()
	if f.dlErr != nil {
		return nil, f.dlErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.layout(provs)
}

// resolve walks every image, o.jobs at a time. Images are taken in order
// and every image taken is walked to the end (or until the first failure
// cancels its requests), so on failure the error returned is the one a
// serial walk would meet first.
func (f *fetch) resolve() ([]*refFetch, error) {
	return parallel.Map(f.ctx, f.o.jobs, f.refs, func(ctx context.Context, ref ImageRef) (*refFetch, error) {
		r := &refFetch{fetch: f, ctx: ctx, local: map[string]*blob{}, refIndex: map[string]bool{}, attachSeen: map[string]int{}}
		var err error
		r.prov, err = r.image(ref)
		return r, err
	})
}

// blob is one content-addressed file of the layout.
type blob struct {
	digest    v1.Hash
	size      int64
	mediaType string
	// repo is where to download it from (the first repository that named
	// it).
	repo name.Repository
}

// fetch is the state of one Fetch shared by the images it resolves.
type fetch struct {
	*Images
	ctx     context.Context
	cache   *BlobCache
	pullers *pullers
	pullMu  sync.Mutex // guards pullers

	// Downloads: dctx is cancelled on the first download error (dlErr)
	// or when resolving fails; dlSlots holds o.jobs tokens.
	dctx      context.Context
	cancel    context.CancelFunc
	dlMu      sync.Mutex // guards scheduled and dlErr
	scheduled map[string]bool
	dlErr     error
	dlSlots   chan struct{}
	dlWG      sync.WaitGroup

	// The merged result, filled in ref order once all are resolved.
	blobs    map[string]*blob
	index    []v1.Descriptor
	refIndex map[string]bool // descriptor keys already in index
}

// refFetch is the walk of one image: what it found, in the order found.
type refFetch struct {
	*fetch
	// ctx is the walk's own: cancelled when another image fails.
	ctx        context.Context
	prov       *ImageProvenance
	blobs      []*blob
	local      map[string]*blob
	index      []v1.Descriptor
	refIndex   map[string]bool
	attachSeen map[string]int // repo@digest looked up -> attachments found
}

// schedule starts downloading b unless it is on its way or, with cached,
// already in the cache.
func (f *fetch) schedule(b *blob, cached bool) {
	f.dlMu.Lock()
	defer f.dlMu.Unlock()
	k := b.digest.String()
	if f.scheduled[k] {
		return
	}
	f.scheduled[k] = true
	if cached {
		return
	}
	f.dlWG.Go(func() {
		select {
		case f.dlSlots <- struct{}{}:
		case <-f.dctx.Done():
			return
		}
		defer func() { <-f.dlSlots }()
		if err := f.download(f.dctx, b); err != nil {
			f.dlMu.Lock()
			if f.dlErr == nil {
				f.dlErr = err
				f.cancel()
			}
			f.dlMu.Unlock()
		}
	})
}

// image mirrors one reference.
func (f *refFetch) image(r ImageRef) (*ImageProvenance, error) {
	repo := r.Ref.Context()
	f.o.logger.Info("resolving image", "ref", r.Ref.String())
	desc, raw, err := f.getManifest(r.Ref, repo)
	if err != nil {
		return nil, err
	}
	written := cmp.Or(r.Written, r.Ref.String())
	prov := &ImageProvenance{Ref: written, Repository: repo.Name(), Digest: desc.Digest.String(), MediaType: string(desc.MediaType)}
	for _, p := range r.Platforms {
		prov.Platforms = append(prov.Platforms, p.String())
	}
	var images []v1.Hash
	switch {
	case desc.MediaType.IsIndex():
		images, err = f.walkIndex(repo, desc.Digest, raw, r.Platforms)
	case desc.MediaType.IsImage():
		if len(r.Platforms) > 0 {
			if err := f.checkImagePlatform(repo, raw, r); err != nil {
				return nil, err
			}
		}
		images = []v1.Hash{desc.Digest}
		err = f.walkManifest(repo, raw)
	default:
		err = f.walkManifest(repo, raw)
	}
	if err != nil {
		return nil, err
	}
	prov.Manifests = len(images)
	ann := map[string]string{
		format.AnnotationRefName:        written,
		format.AnnotationRepository:     repo.Name(),
		format.AnnotationResolvedDigest: desc.Digest.String(),
	}
	if len(prov.Platforms) > 0 {
		ann[format.AnnotationPlatforms] = strings.Join(prov.Platforms, ",")
	}
	f.addIndex(v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest, Annotations: ann})

	// Signatures etc. are attached to the digest that was signed: usually
	// the top one, sometimes each platform's.
	subjects := append([]v1.Hash{desc.Digest}, images...)
	slices.SortFunc(subjects[1:], func(a, b v1.Hash) int { return strings.Compare(a.String(), b.String()) })
	subjects = slices.Compact(subjects)
	for _, s := range subjects {
		n, err := f.attachments(repo, s, true)
		if err != nil {
			return nil, err
		}
		prov.Attachments += n
	}
	return prov, nil
}

// getManifest fetches a manifest by tag or digest, checks what it is and
// stores it in the cache and the layout.
func (f *refFetch) getManifest(ref name.Reference, repo name.Repository) (v1.Descriptor, []byte, error) {
	p, err := f.puller(repo.RegistryStr())
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	rd, err := p.Get(f.ctx, ref)
	if err != nil {
		return v1.Descriptor{}, nil, registryError(repo.RegistryStr(), ref.String(), err)
	}
	raw := rd.Manifest
	mt := manifestMediaType(raw, rd.MediaType)
	if mt.IsSchema1() {
		return v1.Descriptor{}, nil, fmt.Errorf("%s: %w: Docker schema 1 (%s); re-push the image with a current client", ref, ErrUnsupportedManifest, mt)
	}
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: rd.Digest}
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != desc.Digest.String() {
		return v1.Descriptor{}, nil, &DigestError{What: ref.String(), Want: d.DigestStr(), Got: desc.Digest.String(), WantSize: -1}
	}
	if err := f.cache.PutBytes(f.ctx, desc.Digest, raw); err != nil {
		return v1.Descriptor{}, nil, err
	}
	f.schedule(f.addLocal(repo, desc), true)
	return desc, raw, nil
}

// manifestMediaType prefers the manifest's own mediaType field over the
// Content-Type the registry sent.
func manifestMediaType(raw []byte, header types.MediaType) types.MediaType {
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if json.Unmarshal(raw, &probe) == nil && probe.MediaType != "" {
		return probe.MediaType
	}
	return header
}

// walkIndex fetches the children of an index (only those of the wanted
// platforms, if any, and their buildx attestation manifests) and returns
// the image manifests it carried. The index's own bytes stay as they are,
// so its digest survives; children left out are simply not in the layout.
func (f *refFetch) walkIndex(repo name.Repository, digest v1.Hash, raw []byte, want []v1.Platform) ([]v1.Hash, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w: %v", repo, digest, ErrUnsupportedManifest, err)
	}
	selected := map[string]bool{}
	var children []v1.Descriptor
	if len(want) == 0 {
		children = im.Manifests
	} else {
		for _, w := range want {
			found := false
			for _, c := range im.Manifests {
				if c.Platform != nil && c.Platform.Satisfies(w) {
					found = true
					if !selected[c.Digest.String()] {
						selected[c.Digest.String()] = true
						children = append(children, c)
					}
				}
			}
			if !found {
				return nil, fmt.Errorf("%s@%s: %w: %s (the index has %s)", repo, digest, ErrPlatformNotFound, w, platformsOf(im))
			}
		}
		// buildx keeps provenance and SBOMs as manifests of the index that
		// point at the image they describe.
		for _, c := range im.Manifests {
			if c.Annotations["vnd.docker.reference.type"] == "attestation-manifest" && selected[c.Annotations["vnd.docker.reference.digest"]] && !selected[c.Digest.String()] {
				selected[c.Digest.String()] = true
				children = append(children, c)
			}
		}
	}
	var images []v1.Hash
	for _, c := range children {
		if !c.MediaType.IsDistributable() {
			continue
		}
		desc, craw, err := f.getManifest(repo.Digest(c.Digest.String()), repo)
		if err != nil {
			return nil, err
		}
		if desc.Size != c.Size {
			return nil, &DigestError{What: repo.Digest(c.Digest.String()).String(), Want: c.Digest.String(), Got: desc.Digest.String(), WantSize: c.Size, GotSize: desc.Size}
		}
		switch {
		case desc.MediaType.IsIndex():
			sub, err := f.walkIndex(repo, desc.Digest, craw, want)
			if err != nil {
				return nil, err
			}
			images = append(images, sub...)
		default:
			if desc.MediaType.IsImage() && c.Annotations["vnd.docker.reference.type"] == "" {
				images = append(images, desc.Digest)
			}
			if err := f.walkManifest(repo, craw); err != nil {
				return nil, err
			}
		}
	}
	return images, nil
}

func platformsOf(im *v1.IndexManifest) string {
	var ps []string
	for _, c := range im.Manifests {
		if c.Platform != nil {
			ps = append(ps, c.Platform.String())
		}
	}
	return strings.Join(ps, ", ")
}

// walkManifest records the config and layers of an image or artifact
// manifest as blobs to download. Non-distributable (foreign) layers are
// left out, as registries do not serve them.
func (f *refFetch) walkManifest(repo name.Repository, raw []byte) error {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w: %v", repo, ErrUnsupportedManifest, err)
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if d.Digest == (v1.Hash{}) {
			continue
		}
		if !d.MediaType.IsDistributable() {
			f.o.logger.Info("skipping non-distributable layer", "repository", repo.Name(), "digest", d.Digest.String())
			continue
		}
		if err := checkSHA256(d.Digest); err != nil {
			return fmt.Errorf("%s: %w", repo, err)
		}
		b := f.addLocal(repo, d)
		if b.size != d.Size {
			return fmt.Errorf("%s: blob %s is named with sizes %d and %d", repo, d.Digest, b.size, d.Size)
		}
		f.schedule(b, false)
	}
	return nil
}

// checkImagePlatform checks that a single-platform image is for one of the
// platforms kit.yaml lists.
func (f *refFetch) checkImagePlatform(repo name.Repository, raw []byte, r ImageRef) error {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w: %v", r.Ref, ErrUnsupportedManifest, err)
	}
	p, err := f.puller(repo.RegistryStr())
	if err != nil {
		return err
	}
	l, err := p.Layer(f.ctx, repo.Digest(m.Config.Digest.String()))
	if err != nil {
		return registryError(repo.RegistryStr(), r.Ref.String(), err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return registryError(repo.RegistryStr(), r.Ref.String(), err)
	}
	defer rc.Close()
	cfg, err := v1.ParseConfigFile(io.LimitReader(rc, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: config: %w", r.Ref, err)
	}
	have := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion}
	for _, w := range r.Platforms {
		if have.Satisfies(w) {
			return nil
		}
	}
	return fmt.Errorf("%s: %w: it is a single image for %s", r.Ref, ErrPlatformNotFound, have)
}

// attachments mirrors what is attached to subject: cosign's legacy tags
// (when legacy is set) and OCI referrers, and recursively what is attached
// to a referrer.
func (f *refFetch) attachments(repo name.Repository, subject v1.Hash, legacy bool) (int, error) {
	key := repo.Name() + "@" + subject.String()
	if n, ok := f.attachSeen[key]; ok {
		return n, nil
	}
	f.attachSeen[key] = 0
	p, err := f.puller(repo.RegistryStr())
	if err != nil {
		return 0, err
	}
	n := 0
	if legacy {
		for _, lt := range legacyTags {
			tag := repo.Tag(format.CosignTag(subject.Algorithm, subject.Hex, lt.suffix))
			desc, raw, err := f.getManifest(tag, repo)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return 0, err
			}
			if err := f.walkAny(repo, desc, raw); err != nil {
				return 0, err
			}
			f.addIndex(v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest, Annotations: map[string]string{
				format.AnnotationRepository: repo.Name(), format.AnnotationSubject: subject.String(), format.AnnotationKind: lt.kind, format.AnnotationTag: tag.TagStr(),
			}})
			n++
		}
	}
	d := repo.Digest(subject.String())
	refs, err := listReferrers(f.ctx, p, d)
	if err != nil {
		return 0, err
	}
	for _, rd := range refs {
		if err := checkSHA256(rd.Digest); err != nil {
			return 0, fmt.Errorf("%s referrer: %w", d, err)
		}
		desc, raw, err := f.getManifest(repo.Digest(rd.Digest.String()), repo)
		if err != nil {
			return 0, err
		}
		if err := f.walkAny(repo, desc, raw); err != nil {
			return 0, err
		}
		f.addIndex(v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest, ArtifactType: rd.ArtifactType, Annotations: map[string]string{
			format.AnnotationRepository: repo.Name(), format.AnnotationSubject: subject.String(), format.AnnotationKind: format.KindReferrer,
		}})
		sub, err := f.attachments(repo, desc.Digest, false)
		if err != nil {
			return 0, err
		}
		n += 1 + sub
	}
	f.attachSeen[key] = n
	return n, nil
}

// walkAny follows a manifest of any kind: an index entirely, else its
// blobs.
func (f *refFetch) walkAny(repo name.Repository, desc v1.Descriptor, raw []byte) error {
	if desc.MediaType.IsIndex() {
		_, err := f.walkIndex(repo, desc.Digest, raw, nil)
		return err
	}
	return f.walkManifest(repo, raw)
}

// addLocal records a blob that this image names, in the order named.
func (f *refFetch) addLocal(repo name.Repository, d v1.Descriptor) *blob {
	if b, ok := f.local[d.Digest.String()]; ok {
		return b
	}
	b := &blob{digest: d.Digest, size: d.Size, mediaType: string(d.MediaType), repo: repo}
	f.local[d.Digest.String()] = b
	f.blobs = append(f.blobs, b)
	return b
}

// addIndex records a descriptor for index.json once.
func (f *refFetch) addIndex(d v1.Descriptor) {
	k, _ := json.Marshal(d)
	if f.refIndex[string(k)] {
		return
	}
	f.refIndex[string(k)] = true
	f.index = append(f.index, d)
}

func (f *fetch) addBlob(repo name.Repository, d v1.Descriptor) *blob {
	if b, ok := f.blobs[d.Digest.String()]; ok {
		return b
	}
	b := &blob{digest: d.Digest, size: d.Size, mediaType: string(d.MediaType), repo: repo}
	f.blobs[d.Digest.String()] = b
	return b
}

func (f *fetch) addIndex(d v1.Descriptor) {
	k, _ := json.Marshal(d)
	if f.refIndex[string(k)] {
		return
	}
	f.refIndex[string(k)] = true
	f.index = append(f.index, d)
}

func (f *fetch) download(ctx context.Context, b *blob) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	ok, err := f.cache.Has(ctx, b.digest, b.size)
	if err != nil || ok {
		return err
	}
	ref := b.repo.Digest(b.digest.String())
	f.o.logger.Info("downloading blob", "ref", ref.String(), "size", b.size)
	p, err := f.puller(b.repo.RegistryStr())
	if err != nil {
		return err
	}
	l, err := p.Layer(ctx, ref)
	if err != nil {
		return registryError(b.repo.RegistryStr(), ref.String(), err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return registryError(b.repo.RegistryStr(), ref.String(), err)
	}
	defer rc.Close()
	if err := f.cache.Put(ctx, b.digest, b.size, rc); err != nil {
		return registryError(b.repo.RegistryStr(), ref.String(), err)
	}
	return nil
}

// puller is pullers.get for concurrent use while downloading.
func (f *fetch) puller(reg string) (*remote.Puller, error) {
	f.pullMu.Lock()
	defer f.pullMu.Unlock()
	return f.pullers.get(reg)
}

// layout assembles the layout's files.
func (f *fetch) layout(provs []ImageProvenance) (*Layout, error) {
	idx := slices.Clone(f.index)
	slices.SortStableFunc(idx, compareDescriptors)
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: idx}
	if im.Manifests == nil {
		im.Manifests = []v1.Descriptor{}
	}
	indexJSON, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		return nil, err
	}
	indexJSON = append(indexJSON, '\n')
	ociLayout := []byte(`{"imageLayoutVersion":"1.0.0"}` + "\n")
	l := &Layout{Images: provs}
	add := func(p, mt string, b []byte) {
		h, n, _ := v1.SHA256(bytes.NewReader(b))
		l.Files = append(l.Files, LayoutFile{Path: p, MediaType: mt, Size: n, Digest: h,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }})
	}
	keys := make([]string, 0, len(f.blobs))
	for k := range f.blobs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b := f.blobs[k]
		cache, h, size := f.cache, b.digest, b.size
		l.Files = append(l.Files, LayoutFile{
			Path: LayoutDir + "/blobs/sha256/" + h.Hex, MediaType: b.mediaType, Size: size, Digest: h,
			Open: func() (io.ReadCloser, error) { return cache.Open(h, size) },
		})
	}
	add(LayoutDir+"/index.json", string(types.OCIImageIndex), indexJSON)
	add(LayoutDir+"/oci-layout", "application/vnd.oci.layout.header.v1+json", ociLayout)
	slices.SortFunc(l.Files, func(a, b LayoutFile) int { return strings.Compare(a.Path, b.Path) })
	for _, file := range l.Files {
		l.Bytes += file.Size
	}
	return l, nil
}

// compareDescriptors orders index.json: images by reference, then
// attachments by subject, kind and tag; ties by digest.
func compareDescriptors(a, b v1.Descriptor) int {
	rank := func(d v1.Descriptor) int {
		if _, ok := d.Annotations[format.AnnotationSubject]; ok {
			return 1
		}
		return 0
	}
	return cmp.Or(
		cmp.Compare(rank(a), rank(b)),
		strings.Compare(a.Annotations[format.AnnotationRefName], b.Annotations[format.AnnotationRefName]),
		strings.Compare(a.Annotations[format.AnnotationRepository], b.Annotations[format.AnnotationRepository]),
		strings.Compare(a.Annotations[format.AnnotationSubject], b.Annotations[format.AnnotationSubject]),
		strings.Compare(a.Annotations[format.AnnotationKind], b.Annotations[format.AnnotationKind]),
		strings.Compare(a.Annotations[format.AnnotationTag], b.Annotations[format.AnnotationTag]),
		strings.Compare(a.Digest.String(), b.Digest.String()),
		strings.Compare(a.Annotations[format.AnnotationPlatforms], b.Annotations[format.AnnotationPlatforms]),
	)
}

// listReferrers returns the OCI referrers of d (the referrers API, with the
// referrers-tag fallback that ggcr applies), sorted by digest.
func listReferrers(ctx context.Context, p *remote.Puller, d name.Digest) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(d, remote.Reuse(p), remote.WithContext(ctx))
	if err != nil {
		return nil, registryError(d.RegistryStr(), d.String()+" (referrers)", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, registryError(d.RegistryStr(), d.String()+" (referrers)", err)
	}
	refs := slices.Clone(im.Manifests)
	slices.SortFunc(refs, func(a, b v1.Descriptor) int { return cmp.Compare(a.Digest.String(), b.Digest.String()) })
	return refs, nil
}
