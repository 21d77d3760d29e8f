package mirror

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RegistryConfig is how to reach one registry. The zero value means
// anonymous access over HTTPS only.
type RegistryConfig struct {
	// Insecure allows plain HTTP to the registry (ggcr's name.Insecure).
	// Without it, a registry that would be reached over HTTP (localhost,
	// loopback, RFC 1918 and .local names) is refused with ErrPlainHTTP,
	// and a redirect to a plain-HTTP URL fails.
	Insecure bool
	// Keychain resolves credentials (authn.DefaultKeychain reads the
	// Docker config); nil means anonymous.
	Keychain authn.Keychain
}

// RegistryHost normalises a registry host as written in kit.yaml
// ("docker.io" becomes "index.docker.io"). It wraps ErrInvalidReference.
func RegistryHost(s string) (string, error) {
	if s == "" || strings.ContainsAny(s, "/@ ") {
		return "", fmt.Errorf("%w: %q is not a registry host[:port]", ErrInvalidReference, s)
	}
	r, err := name.NewRegistry(s, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	return r.RegistryStr(), nil
}

// ParseReference parses an image reference as kit.yaml writes it. The
// registry must be explicit and a tag or digest given: offline, an implicit
// "docker.io/library/…:latest" would be a guess. insecure marks the
// reference for plain HTTP (ggcr's name.Insecure). It wraps
// ErrInvalidReference.
func ParseReference(s string, insecure bool) (name.Reference, error) {
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	if strings.TrimSpace(s) != s || s == "" {
		return nil, fmt.Errorf("%w: %q", ErrInvalidReference, s)
	}
	// The registry must be spelled out (a dot, a port or localhost), as
	// StrictValidation wants; say so plainly.
	first, _, ok := strings.Cut(s, "/")
	if !ok || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		return nil, fmt.Errorf("%w: %q names no registry (write it out, e.g. docker.io/library/debian:12)", ErrInvalidReference, s)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	return ref, nil
}

// PlainHTTP reports whether ref's registry would be reached over plain HTTP.
// For a reference parsed without insecure, that is ggcr's rule for
// localhost, loopback, RFC 1918 and .local registries.
func PlainHTTP(ref name.Reference) bool {
	return ref.Context().Registry.Scheme() == "http"
}

// Known platform values: Go's GOOS and GOARCH lists, which OCI uses.
var (
	knownOS = []string{"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux",
		"netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows"}
	knownArch = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle",
		"ppc64", "ppc64le", "riscv64", "s390x", "wasm"}
	variantRE = regexp.MustCompile(`^v[0-9]+(\.[0-9]+)?$`)
)

// ParsePlatform parses "os/arch[/variant][:osversion]" (linux/amd64,
// linux/arm/v7). os and arch must be known GOOS/GOARCH values. It wraps
// ErrUnknownPlatform.
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("%w: %v", ErrUnknownPlatform, err)
	}
	switch {
	case !slices.Contains(knownOS, p.OS):
		return v1.Platform{}, fmt.Errorf("%w: %q: os %q is not one of %v", ErrUnknownPlatform, s, p.OS, knownOS)
	case !slices.Contains(knownArch, p.Architecture):
		return v1.Platform{}, fmt.Errorf("%w: %q: architecture %q is not one of %v", ErrUnknownPlatform, s, p.Architecture, knownArch)
	case p.Variant != "" && !variantRE.MatchString(p.Variant):
		return v1.Platform{}, fmt.Errorf("%w: %q: variant %q is not like v7 or v8.2", ErrUnknownPlatform, s, p.Variant)
	case strings.Contains(s, ":") && p.OSVersion == "":
		return v1.Platform{}, fmt.Errorf("%w: %q: empty os version", ErrUnknownPlatform, s)
	}
	return *p, nil
}

// schemeGuard refuses plain-HTTP requests to registries (and their blob
// redirects) that are not configured insecure.
type schemeGuard struct {
	next     http.RoundTripper
	insecure bool
}

var _ http.RoundTripper = schemeGuard{}

var errPlainHTTPRequest = errors.New("refusing a plain-HTTP request")

func (g schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !g.insecure {
		return nil, fmt.Errorf("%w to %s: %w", errPlainHTTPRequest, req.URL.Redacted(), ErrPlainHTTP)
	}
	return g.next.RoundTrip(req)
}

// pullers holds one ggcr Puller per registry, so each registry's token
// and connections are reused across images.
type pullers struct {
	transport  http.RoundTripper
	registries map[string]RegistryConfig
	jobs       int
	userAgent  string
	byHost     map[string]*remote.Puller
}

func (ps *pullers) get(reg string) (*remote.Puller, error) {
	if p, ok := ps.byHost[reg]; ok {
		return p, nil
	}
	cfg := ps.registries[reg]
	opts := []remote.Option{
		remote.WithTransport(schemeGuard{next: ps.transport, insecure: cfg.Insecure}),
		remote.WithJobs(ps.jobs),
	}
	if ps.userAgent != "" {
		opts = append(opts, remote.WithUserAgent(ps.userAgent))
	}
	if cfg.Keychain != nil {
		opts = append(opts, remote.WithAuthFromKeychain(cfg.Keychain))
	} else {
		opts = append(opts, remote.WithAuth(authn.Anonymous))
	}
	p, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	ps.byHost[reg] = p
	return p, nil
}
