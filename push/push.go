package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/ferry-dev/ferry/images"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrPlainHTTP is returned when the registry would be reached over plain
// HTTP and Options.Insecure is not set.
var ErrPlainHTTP = errors.New("registry would be reached over plain HTTP")

// ErrDigestChanged is returned when the registry reports another digest
// for what was pushed.
var ErrDigestChanged = errors.New("the registry's digest differs from the source digest")

// Item is one manifest to push: an image or index, or an attachment.
type Item struct {
	// Repository is the repository path without registry
	// ("app/api"); the registry comes from Options.
	Repository string
	Desc       v1.Descriptor
	// Tag, if set, is also pointed at the manifest (cosign's
	// sha256-<hex>.sig tags). Images are pushed by digest only.
	Tag string
}

// Options configures Push.
type Options struct {
	// Registry is host[:port] of the site's registry.
	Registry string
	// Insecure allows plain HTTP (and an unverified TLS certificate is
	// still refused).
	Insecure bool
	// Keychain finds credentials (default authn.DefaultKeychain: the
	// Docker config).
	Keychain authn.Keychain
	// Auth, if set, is used instead of Keychain.
	Auth authn.Authenticator
	// Transport (default remote.DefaultTransport).
	Transport http.RoundTripper
	// Jobs is how many blobs are uploaded at once (default 8).
	Jobs int
	// Logger receives progress; discard when nil.
	Logger *slog.Logger
}

// Result lists what Push pushed.
type Result struct {
	Schema string   `json:"schema"`
	Pushed []Pushed `json:"pushed"`
}

// ResultSchema names the JSON schema of Result.
const ResultSchema = "ferry.dev/images-push/v1"

// Pushed is one manifest in the registry, with the digest the registry
// reports for it (equal to Digest, or Push fails).
type Pushed struct {
	Ref            string `json:"ref"`
	Digest         string `json:"digest"`
	RegistryDigest string `json:"registryDigest"`
	Tag            string `json:"tag,omitempty"`
}

// Push uploads items from the store's blobs b to the registry. Blobs the
// registry already has are not uploaded again (remote.MultiWrite). After
// the upload it asks the registry for each manifest's digest (HEAD) and
// fails with ErrDigestChanged if one differs.
func Push(ctx context.Context, b images.Blobs, items []Item, o Options) (*Result, error) {
	if o.Registry == "" {
		return nil, errors.New("no registry given")
	}
	if o.Jobs <= 0 {
		o.Jobs = 8
	}
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.Transport == nil {
		o.Transport = remote.DefaultTransport
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(o.Registry, nopts...)
	if err != nil {
		return nil, fmt.Errorf("registry %q: %w", o.Registry, err)
	}
	if reg.Scheme() == "http" && !o.Insecure {
		return nil, fmt.Errorf("%s: %w: pass --insecure only for a registry on a network you trust", o.Registry, ErrPlainHTTP)
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithJobs(o.Jobs), remote.WithTransport(guard{o.Transport, o.Insecure})}
	if o.Auth != nil {
		ropts = append(ropts, remote.WithAuth(o.Auth))
	} else {
		ropts = append(ropts, remote.WithAuthFromKeychain(o.Keychain))
	}

	res := &Result{Schema: ResultSchema, Pushed: []Pushed{}}
	byDigest := map[name.Reference]remote.Taggable{}
	byRef := map[string]remote.Taggable{}
	var tags []Pushed
	seen := map[string]bool{}
	for _, it := range items {
		repo, err := name.NewRepository(reg.Name()+"/"+it.Repository, nopts...)
		if err != nil {
			return nil, fmt.Errorf("repository %q: %w", it.Repository, err)
		}
		ref := repo.Digest(it.Desc.Digest.String())
		if !seen[ref.String()] {
			seen[ref.String()] = true
			t, err := taggable(b, it.Desc)
			if err != nil {
				return nil, err
			}
			byDigest[ref] = t
			byRef[ref.String()] = t
			res.Pushed = append(res.Pushed, Pushed{Ref: ref.String(), Digest: it.Desc.Digest.String()})
		}
		if it.Tag != "" {
			tags = append(tags, Pushed{Ref: repo.Tag(it.Tag).String(), Digest: it.Desc.Digest.String(), Tag: it.Tag})
		}
	}
	o.Logger.Info("pushing", "registry", reg.Name(), "manifests", len(byDigest))
	if err := remote.MultiWrite(byDigest, ropts...); err != nil {
		return nil, fmt.Errorf("registry %s: %w", reg.Name(), err)
	}
	for _, t := range tags {
		tag, err := name.NewTag(t.Ref, nopts...)
		if err != nil {
			return nil, err
		}
		if err := remote.Tag(tag, byRef[tag.Context().Name()+"@"+t.Digest], ropts...); err != nil {
			return nil, fmt.Errorf("registry %s: tagging %s: %w", reg.Name(), tag, err)
		}
		res.Pushed = append(res.Pushed, t)
	}
	var errs []error
	for i := range res.Pushed {
		p := &res.Pushed[i]
		ref, err := name.ParseReference(p.Ref, nopts...)
		if err != nil {
			return nil, err
		}
		desc, err := remote.Head(ref, ropts...)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %s: %w", reg.Name(), ref, err)
		}
		p.RegistryDigest = desc.Digest.String()
		if p.RegistryDigest != p.Digest {
			errs = append(errs, fmt.Errorf("%s: %w: pushed %s, the registry says %s", ref, ErrDigestChanged, p.Digest, p.RegistryDigest))
		}
	}
	slices.SortStableFunc(res.Pushed, func(a, b Pushed) int { return strings.Compare(a.Ref, b.Ref) })
	return res, errors.Join(errs...)
}

func taggable(b images.Blobs, d v1.Descriptor) (remote.Taggable, error) {
	missing, err := images.Missing(b, d.Digest, d.MediaType)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: %w: %d blob(s) it names are not in the store (first %s); an index mirrored with platforms: holds only those platforms and cannot be pushed whole",
			d.Digest, images.ErrBlobMissing, len(missing), missing[0])
	}
	if d.MediaType.IsIndex() {
		return images.Index(b, d.Digest)
	}
	return images.Image(b, d.Digest)
}

// guard refuses plain-HTTP requests (including redirects to http://) unless
// insecure.
type guard struct {
	next     http.RoundTripper
	insecure bool
}

func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !g.insecure {
		return nil, fmt.Errorf("refusing a plain-HTTP request to %s: %w", req.URL.Redacted(), ErrPlainHTTP)
	}
	return g.next.RoundTrip(req)
}
