package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"io"
	"slices"
	"strings"

	"github.com/ferry-dev/ferry/verify"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	bolt "go.etcd.io/bbolt"
)

// Size caps of what the images indexer parses: manifests and configs are
// small JSON documents; a larger one is refused rather than buffered.
const (
	maxManifestBytes  = 4 << 20
	maxConfigBytes    = 16 << 20
	maxLayoutIdxBytes = 64 << 20
)

// Keys of the images index (one bucket per channel).
const (
	imgKeyLayout   = "layout"    // the descriptors of images/index.json
	imgKeyManifest = "manifest/" // + digest: a manifest or index summary
	imgKeyConfig   = "config/"   // + digest: an image config's platform
)

// ImagesIndexer indexes the kit's OCI image layout (content type
// "images"): the descriptors of images/index.json, and for every manifest,
// index and image config blob a small summary (children, layers, sizes,
// platform). Layers are not read. Store.Images joins the summaries.
type ImagesIndexer struct{}

var _ Indexer = ImagesIndexer{}

// Name implements Indexer.
func (ImagesIndexer) Name() string { return "images" }

// Accepts implements Indexer.
func (ImagesIndexer) Accepts(t string) bool { return t == "images" }

// manifestSummary is what the images index keeps of a manifest or index.
type manifestSummary struct {
	MediaType types.MediaType `json:"mediaType"`
	Size      int64           `json:"size"`
	Config    *v1.Descriptor  `json:"config,omitempty"`
	Layers    []v1.Descriptor `json:"layers,omitempty"`
	Manifests []v1.Descriptor `json:"manifests,omitempty"`
	Subject   *v1.Descriptor  `json:"subject,omitempty"`
}

// Index implements Indexer.
func (ImagesIndexer) Index(_ context.Context, f verify.Target, r io.Reader, w *IndexWriter) error {
	switch {
	case f.Path == "images/index.json":
		im, err := v1.ParseIndexManifest(io.LimitReader(r, maxLayoutIdxBytes))
		if err != nil {
			return fmt.Errorf("images/index.json: %w", err)
		}
		v, err := json.Marshal(im.Manifests)
		if err != nil {
			return err
		}
		return w.Put([]byte(imgKeyLayout), v)
	case strings.HasPrefix(f.Path, "images/blobs/sha256/"):
	default:
		return nil
	}
	digest := "sha256:" + strings.TrimPrefix(f.Path, "images/blobs/sha256/")
	var custom struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if len(f.Custom) > 0 {
		if err := json.Unmarshal(f.Custom, &custom); err != nil {
			return fmt.Errorf("custom: %w", err)
		}
	}
	mt := custom.MediaType
	switch {
	case mt.IsIndex() || mt.IsImage() || isArtifactManifest(mt):
		if f.Length > maxManifestBytes {
			return fmt.Errorf("a manifest of %d bytes is larger than %d", f.Length, maxManifestBytes)
		}
		raw, err := io.ReadAll(io.LimitReader(r, maxManifestBytes))
		if err != nil {
			return err
		}
		s := manifestSummary{MediaType: mt, Size: f.Length}
		if mt.IsIndex() {
			im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
			if err != nil {
				return fmt.Errorf("index %s: %w", digest, err)
			}
			s.Manifests, s.Subject = im.Manifests, im.Subject
		} else {
			m, err := v1.ParseManifest(bytes.NewReader(raw))
			if err != nil {
				return fmt.Errorf("manifest %s: %w", digest, err)
			}
			s.Config, s.Layers, s.Subject = &m.Config, m.Layers, m.Subject
		}
		v, err := json.Marshal(s)
		if err != nil {
			return err
		}
		return w.Put([]byte(imgKeyManifest+digest), v)
	case mt.IsConfig():
		if f.Length > maxConfigBytes {
			return nil // not a config we can describe; the image is still listed
		}
		var cfg struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
			Variant      string `json:"variant,omitempty"`
			OSVersion    string `json:"os.version,omitempty"`
		}
		if err := json.NewDecoder(io.LimitReader(r, maxConfigBytes)).Decode(&cfg); err != nil || cfg.OS == "" {
			return nil // e.g. cosign's empty config of a signature manifest
		}
		p := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion}
		return w.Put([]byte(imgKeyConfig+digest), []byte(p.String()))
	}
	return nil
}

func isArtifactManifest(mt types.MediaType) bool {
	return mt == types.OCIManifestSchema1 || mt == format.MediaOCIArtifactManifest
}

// ImagesSchema names the JSON schema of a list of Image.
const ImagesSchema = "ferry.dev/images/v1"

// Image is one image of the store, named by its digest. Names are labels
// only (the references kit.yaml wrote, tags resolved at mirror time):
// offline a name never decides which bytes are used.
type Image struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	// Names are the references the image was mirrored as, sorted.
	Names []string `json:"names"`
	// Repositories are where it came from (registry/repository), sorted.
	Repositories []string `json:"repositories"`
	// Channels are the channels whose active kit carries it.
	Channels []string `json:"channels"`
	// Platforms are the platforms carried ("linux/amd64"); for an index
	// only the children the kit holds.
	Platforms []string `json:"platforms"`
	// Manifests are the image manifests of an index that the kit holds
	// (for a single image: the image itself).
	Manifests []ImageManifest `json:"manifests"`
	// Size is the bytes of all distinct blobs of the image that the store
	// holds (manifests, configs, layers), attachments not counted.
	Size int64 `json:"size"`
	// Incomplete is set when a child manifest or blob the image names is
	// not in the store (platforms left out at mirror time, foreign
	// layers).
	Incomplete bool `json:"incomplete,omitempty"`
	// Attachments are the signatures, attestations, SBOMs and referrers
	// carried for the image or one of its manifests.
	Attachments []ImageAttachment `json:"attachments"`
}

// ImageManifest is one image manifest of an Image.
type ImageManifest struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Platform  string `json:"platform,omitempty"`
	Size      int64  `json:"size"`
}

// ImageAttachment is a signature, attestation, SBOM or OCI referrer.
type ImageAttachment struct {
	// Kind is one of format's attachment kinds (format.KindSignature …).
	Kind         string `json:"kind"`
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	Size         int64  `json:"size"`
	Subject      string `json:"subject"`
	Repository   string `json:"repository,omitempty"`
	Tag          string `json:"tag,omitempty"`
	ArtifactType string `json:"artifactType,omitempty"`
}

// Descriptor returns the image's top-level descriptor.
func (im *Image) Descriptor() (v1.Descriptor, error) {
	h, err := v1.NewHash(im.Digest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	var size int64
	for _, m := range im.Manifests {
		if m.Digest == im.Digest {
			size = m.Size
		}
	}
	return v1.Descriptor{MediaType: types.MediaType(im.MediaType), Digest: h, Size: size}, nil
}

// ErrImageNotFound is returned by ResolveImage when nothing matches.
var ErrImageNotFound = errors.New("no such image in the store")

// AmbiguousImageError is returned by ResolveImage for a name that more than
// one image carries.
type AmbiguousImageError struct {
	Name    string
	Digests []string
}

func (e *AmbiguousImageError) Error() string {
	return fmt.Sprintf("%s names %d images: %s; name the image by digest", e.Name, len(e.Digests), strings.Join(e.Digests, ", "))
}

// Images lists every image of every channel's active kit, sorted by digest,
// in one read transaction. An image two channels carry is listed once.
func (s *Store) Images(ctx context.Context) ([]Image, error) {
	byDigest := map[string]*Image{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		roots, err := s.kitRoots(tx)
		if err != nil {
			return err
		}
		for _, k := range roots {
			if b := k.indexBucket(ImagesIndexer{}.Name()); b != nil {
				if err := imagesOfChannel(b, k.channel, byDigest); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(byDigest))
	for _, d := range sortedKeys(byDigest) {
		im := byDigest[d]
		for _, p := range []*[]string{&im.Names, &im.Repositories, &im.Channels, &im.Platforms} {
			slices.Sort(*p)
			*p = slices.Compact(*p)
		}
		slices.SortFunc(im.Manifests, func(a, b ImageManifest) int {
			return cmp.Or(strings.Compare(a.Platform, b.Platform), strings.Compare(a.Digest, b.Digest))
		})
		im.Manifests = slices.CompactFunc(im.Manifests, func(a, b ImageManifest) bool { return a.Digest == b.Digest })
		slices.SortFunc(im.Attachments, func(a, b ImageAttachment) int {
			return cmp.Or(strings.Compare(a.Subject, b.Subject), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Tag, b.Tag),
				strings.Compare(a.Digest, b.Digest), strings.Compare(a.Repository, b.Repository))
		})
		im.Attachments = slices.CompactFunc(im.Attachments, func(a, b ImageAttachment) bool { return a == b })
		out = append(out, *im)
	}
	return out, nil
}

// imagesOfChannel adds the images of one channel's index to byDigest.
func imagesOfChannel(b *bolt.Bucket, channel string, byDigest map[string]*Image) error {
	var layout []v1.Descriptor
	if raw := b.Get([]byte(imgKeyLayout)); raw != nil {
		if err := json.Unmarshal(raw, &layout); err != nil {
			return fmt.Errorf("images index of %s: %w", channel, err)
		}
	}
	manifest := func(d string) (*manifestSummary, error) {
		raw := b.Get([]byte(imgKeyManifest + d))
		if raw == nil {
			return nil, nil
		}
		var s manifestSummary
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("images index of %s: %s: %w", channel, d, err)
		}
		return &s, nil
	}
	// subjects maps every manifest digest of an image to the image.
	subjects := map[string]*Image{}
	for _, d := range layout {
		if _, ok := d.Annotations[format.AnnotationSubject]; ok {
			continue
		}
		key := d.Digest.String()
		im := byDigest[key]
		if im == nil {
			im = &Image{Digest: key, MediaType: string(d.MediaType), Names: []string{}, Repositories: []string{},
				Platforms: []string{}, Manifests: []ImageManifest{}, Attachments: []ImageAttachment{}}
			byDigest[key] = im
		}
		im.Channels = append(im.Channels, channel)
		if n := d.Annotations[format.AnnotationRefName]; n != "" {
			im.Names = append(im.Names, n)
		}
		if r := d.Annotations[format.AnnotationRepository]; r != "" {
			im.Repositories = append(im.Repositories, r)
		}
		if d.Annotations[format.AnnotationPlatforms] != "" {
			im.Incomplete = true
		}
		// Walk the image: sizes of distinct blobs the store holds.
		im.Size = 0
		im.Manifests = im.Manifests[:0]
		im.Platforms = im.Platforms[:0]
		seen := map[string]bool{}
		var walk func(desc v1.Descriptor, platform string) error
		walk = func(desc v1.Descriptor, platform string) error {
			ds := desc.Digest.String()
			s, err := manifest(ds)
			if err != nil {
				return err
			}
			if s == nil {
				im.Incomplete = true
				return nil
			}
			subjects[ds] = im
			if !seen[ds] {
				seen[ds] = true
				im.Size += s.Size
			}
			if desc.MediaType.IsIndex() || s.MediaType.IsIndex() {
				for _, c := range s.Manifests {
					if c.Annotations["vnd.docker.reference.type"] != "" {
						att, err := manifest(c.Digest.String())
						if err != nil {
							return err
						}
						if att != nil {
							if err := walk(c, ""); err != nil {
								return err
							}
						}
						continue
					}
					p := ""
					if c.Platform != nil {
						p = c.Platform.String()
					}
					if err := walk(c, p); err != nil {
						return err
					}
				}
				return nil
			}
			if s.Config != nil {
				cd := s.Config.Digest.String()
				if platform == "" {
					if p := b.Get([]byte(imgKeyConfig + cd)); p != nil {
						platform = string(p)
					}
				}
				if !seen[cd] {
					seen[cd] = true
					im.Size += s.Config.Size
				}
			}
			for _, l := range s.Layers {
				if !seen[l.Digest.String()] {
					seen[l.Digest.String()] = true
					im.Size += l.Size
				}
			}
			if s.MediaType.IsImage() && (desc.Annotations == nil || desc.Annotations["vnd.docker.reference.type"] == "") {
				im.Manifests = append(im.Manifests, ImageManifest{Digest: ds, MediaType: string(s.MediaType), Platform: platform, Size: s.Size})
				if platform != "" {
					im.Platforms = append(im.Platforms, platform)
				}
			}
			return nil
		}
		if err := walk(d, ""); err != nil {
			return err
		}
		if d.MediaType.IsIndex() {
			// The index itself, for Descriptor (its size).
			im.Manifests = append(im.Manifests, ImageManifest{Digest: key, MediaType: string(d.MediaType), Size: d.Size})
		}
	}
	for _, d := range layout {
		subj, ok := d.Annotations[format.AnnotationSubject]
		if !ok {
			continue
		}
		im := subjects[subj]
		if im == nil {
			continue // attached to something the layout does not name as an image
		}
		a := ImageAttachment{Kind: d.Annotations[format.AnnotationKind], Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size,
			Subject: subj, Repository: d.Annotations[format.AnnotationRepository], Tag: d.Annotations[format.AnnotationTag], ArtifactType: d.ArtifactType}
		im.Attachments = append(im.Attachments, a)
		subjects[a.Digest] = im // referrers of referrers
	}
	return nil
}

// ResolveImage finds one image by its digest ("sha256:<hex>", or
// "repo@sha256:<hex>") or by a name it was mirrored as. A name is used only
// when exactly one image carries it: otherwise the error is an
// *AmbiguousImageError listing the digests. Nothing found is
// ErrImageNotFound.
func (s *Store) ResolveImage(ctx context.Context, arg string) (*Image, error) {
	all, err := s.Images(ctx)
	if err != nil {
		return nil, err
	}
	if _, d, ok := strings.Cut(arg, "@"); ok && strings.HasPrefix(d, "sha256:") && !strings.Contains(arg, "://") {
		if _, err := v1.NewHash(d); err == nil {
			arg = d
		}
	}
	if strings.HasPrefix(arg, "sha256:") {
		if _, err := v1.NewHash(arg); err != nil {
			return nil, fmt.Errorf("%q: %w", arg, err)
		}
		for i := range all {
			if all[i].Digest == arg {
				return &all[i], nil
			}
		}
		return nil, fmt.Errorf("%s: %w (ferry images list shows what it holds)", arg, ErrImageNotFound)
	}
	var found []*Image
	for i := range all {
		if slices.Contains(all[i].Names, arg) {
			found = append(found, &all[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%s: %w (a name must match a mirrored reference exactly; ferry images list shows them)", arg, ErrImageNotFound)
	case 1:
		return found[0], nil
	}
	e := &AmbiguousImageError{Name: arg}
	for _, f := range found {
		e.Digests = append(e.Digests, f.Digest)
	}
	return nil, e
}

// StoredFile is a content file of a channel's active kit.
type StoredFile struct {
	Channel string `json:"channel"`
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Length  int64  `json:"length"`
}

// SigstoreTrustedRoots lists the Sigstore trusted roots the active kits
// carry: every trust/<name>/targets/…trusted_root.json, sorted by channel
// and path. Their bytes are at BlobPath(SHA256).
func (s *Store) SigstoreTrustedRoots(ctx context.Context) ([]StoredFile, error) {
	var out []StoredFile
	err := s.view(ctx, func(tx *bolt.Tx) error {
		roots, err := s.kitRoots(tx)
		if err != nil {
			return err
		}
		for _, k := range roots {
			err := k.eachFile(func(p string, f fileRec) error {
				parts := strings.Split(p, "/")
				if len(parts) >= 4 && parts[0] == "trust" && parts[2] == "targets" && strings.HasSuffix(p, "trusted_root.json") {
					out = append(out, StoredFile{Channel: k.channel, Path: p, SHA256: f.SHA256, Length: f.Length})
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b StoredFile) int {
		return cmp.Or(strings.Compare(a.Channel, b.Channel), strings.Compare(a.Path, b.Path))
	})
	return out, err
}
