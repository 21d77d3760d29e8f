package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/internal/parallel"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
	// Jobs is how many blobs are uploaded at once, and how many tags
	// and digest checks are in flight (default 8).
	Jobs int
	// Logger receives progress; discard when nil.
	Logger *slog.Logger
	// Progress, if set, is called as blobs and manifests go out with the
	// bytes uploaded and the bytes to upload found so far (the total grows
	// as the upload reaches more blobs; blobs the registry holds already
	// are not counted). Calls come from one goroutine, all before Push returns.
	Progress func(uploaded, total int64)
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
// registry already has are not uploaded again (remote.MultiWrite), and at
// most Options.Jobs are uploaded at once. Layers are sent as the stored
// files, not re-hashed: the registry checks the digest of every blob it
// is sent, and when it refuses one Push re-hashes what it read and returns
// an *images.DigestError for each damaged stored blob with the registry's
// error. Manifests and configs are re-hashed as they are read. After the
// upload Push asks the registry for each manifest's digest (HEAD) and
// fails with ErrDigestChanged if one differs, reporting every mismatch.
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
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithJobs(o.Jobs), remote.WithTransport(uploads{guard{o.Transport, o.Insecure}, make(chan struct{}, o.Jobs)})}
	if o.Auth != nil {
		ropts = append(ropts, remote.WithAuth(o.Auth))
	} else {
		ropts = append(ropts, remote.WithAuthFromKeychain(o.Keychain))
	}

	rec := &opened{Blobs: b, hex: map[string]bool{}}
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
			t, err := taggable(b, rec, it.Desc)
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
	// One Pusher and one Puller for the whole run: each remote call made
	// without them pings the registry and resolves credentials again.
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", reg.Name(), err)
	}
	puller, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", reg.Name(), err)
	}
	// Built once: appending to ropts in each goroutine would race on its
	// spare capacity.
	pushOpts := append(slices.Clip(ropts), remote.Reuse(pusher))
	pullOpts := append(slices.Clip(ropts), remote.Reuse(puller))
	o.Logger.Info("pushing", "registry", reg.Name(), "manifests", len(byDigest))
	writeOpts := pushOpts
	var drained chan struct{}
	if o.Progress != nil {
		// MultiWrite closes updates when it returns (its options, the
		// ones NewPusher took, cannot fail to apply). It gets a Pusher of
		// its own: a reused one keeps the options it was made with, and
		// the later tags must not send on the closed channel.
		updates := make(chan v1.Update, 64)
		drained = make(chan struct{})
		go func() {
			defer close(drained)
			for u := range updates {
				if u.Error == nil {
					o.Progress(u.Complete, u.Total)
				}
			}
		}()
		writeOpts = append(slices.Clip(ropts), remote.WithProgress(updates))
	}
	err = remote.MultiWrite(byDigest, writeOpts...)
	if drained != nil {
		<-drained
	}
	if err != nil {
		err = fmt.Errorf("registry %s: %w", reg.Name(), err)
		if refusedContent(err) {
			// Layers are not re-hashed on the way out; the registry
			// checks them. Say which stored blob is damaged.
			return nil, errors.Join(append(rec.verify(), err)...)
		}
		return nil, err
	}
	// Tags only point at manifests MultiWrite has written: one PUT each,
	// o.Jobs at a time. The first failure stops the rest.
	_, err = parallel.Map(ctx, o.Jobs, tags, func(ctx context.Context, p Pushed) (struct{}, error) {
		tag, err := name.NewTag(p.Ref, nopts...)
		if err != nil {
			return struct{}{}, err
		}
		if err := remote.Tag(tag, byRef[tag.Context().Name()+"@"+p.Digest], append(slices.Clip(pushOpts), remote.WithContext(ctx))...); err != nil {
			return struct{}{}, fmt.Errorf("registry %s: tagging %s: %w", reg.Name(), tag, err)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return nil, err
	}
	res.Pushed = append(res.Pushed, tags...)
	// Ask the registry for every digest (by digest and by tag), o.Jobs at a
	// time. Every mismatch is reported, in the order of res.Pushed; any
	// other failure stops the rest.
	mismatches, err := parallel.Map(ctx, o.Jobs, res.Pushed, func(ctx context.Context, p Pushed) (headResult, error) {
		ref, err := name.ParseReference(p.Ref, nopts...)
		if err != nil {
			return headResult{}, err
		}
		desc, err := remote.Head(ref, append(slices.Clip(pullOpts), remote.WithContext(ctx))...)
		if err != nil {
			return headResult{}, fmt.Errorf("registry %s: %s: %w", reg.Name(), ref, err)
		}
		r := headResult{digest: desc.Digest.String()}
		if r.digest != p.Digest {
			r.mismatch = fmt.Errorf("%s: %w: pushed %s, the registry says %s", ref, ErrDigestChanged, p.Digest, r.digest)
		}
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	var errs []error
	for i, h := range mismatches {
		res.Pushed[i].RegistryDigest = h.digest
		if h.mismatch != nil {
			errs = append(errs, h.mismatch)
		}
	}
	slices.SortStableFunc(res.Pushed, func(a, b Pushed) int { return strings.Compare(a.Ref, b.Ref) })
	return res, errors.Join(errs...)
}

// headResult is what the registry says of one pushed manifest.
type headResult struct {
	digest   string
	mismatch error // wraps ErrDigestChanged
}

// opened records the blobs read for the upload, to re-hash them when the
// registry refuses what it was sent.
type opened struct {
	images.Blobs
	mu  sync.Mutex
	hex map[string]bool
}

func (o *opened) BlobPath(hex string) (string, error) {
	o.mu.Lock()
	o.hex[hex] = true
	o.mu.Unlock()
	return o.Blobs.BlobPath(hex)
}

// verify re-hashes every recorded blob and returns the *images.DigestError
// of each damaged one, in digest order.
func (o *opened) verify() []error {
	o.mu.Lock()
	hexes := slices.Sorted(maps.Keys(o.hex))
	o.mu.Unlock()
	var errs []error
	for _, x := range hexes {
		var de *images.DigestError
		if err := images.VerifyBlob(o.Blobs, v1.Hash{Algorithm: "sha256", Hex: x}); errors.As(err, &de) {
			errs = append(errs, err)
		}
	}
	return errs
}

// refusedContent reports whether err says that the bytes of a blob were
// wrong: a digest or size the registry (or the store's size check) refused.
func refusedContent(err error) bool {
	var de *images.DigestError
	if errors.As(err, &de) {
		return true
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.DigestInvalidErrorCode, transport.SizeInvalidErrorCode, transport.BlobUploadInvalidErrorCode:
			return true
		}
	}
	return false
}

// taggable reads d through rec for the upload: its layers unhashed (the
// registry checks every blob's digest), after checking with b that the
// store holds every blob it names.
func taggable(b, rec images.Blobs, d v1.Descriptor) (remote.Taggable, error) {
	missing, err := images.Missing(b, d.Digest, d.MediaType)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: %w: %d blob(s) it names are not in the store (first %s); an index mirrored with platforms: holds only those platforms and cannot be pushed whole",
			d.Digest, images.ErrBlobMissing, len(missing), missing[0])
	}
	if d.MediaType.IsIndex() {
		return images.IndexUnhashed(rec, d.Digest)
	}
	return images.ImageUnhashed(rec, d.Digest)
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

// uploads lets at most cap(sem) blob uploads (the PATCH that carries the
// bytes and the PUT that commits them) be in flight at once. MultiWrite
// pushes Jobs images at a time and each of them Jobs blobs at a time, so
// without it Jobs² uploads compete for the registry.
type uploads struct {
	next http.RoundTripper
	sem  chan struct{}
}

func (u uploads) RoundTrip(req *http.Request) (*http.Response, error) {
	if (req.Method == http.MethodPatch || req.Method == http.MethodPut) && strings.Contains(req.URL.Path, "/blobs/uploads/") {
		select {
		case u.sem <- struct{}{}:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		defer func() { <-u.sem }()
	}
	return u.next.RoundTrip(req)
}
