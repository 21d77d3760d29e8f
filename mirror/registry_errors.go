package mirror

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Sentinels of the image source. Errors wrap them; test with errors.Is.
var (
	// ErrInvalidReference: an image reference that does not parse, or
	// leaves out the registry, repository or tag/digest.
	ErrInvalidReference = errors.New("invalid image reference")
	// ErrPlainHTTP: a registry would be reached over plain HTTP and is not
	// configured Insecure.
	ErrPlainHTTP = errors.New("registry reached over plain HTTP without insecure: true")
	// ErrUnknownPlatform: a platform that is not os/arch[/variant] with a
	// known os and architecture.
	ErrUnknownPlatform = errors.New("unknown platform")
	// ErrPlatformNotFound: an index does not hold a manifest for a platform
	// that kit.yaml lists, or an image is for another platform.
	ErrPlatformNotFound = errors.New("platform not in image")
	// ErrUnsupportedManifest: a manifest of a kind the layout cannot hold
	// (Docker schema 1, or not a manifest at all).
	ErrUnsupportedManifest = errors.New("unsupported manifest")
	// ErrDigestMismatch: content that does not hash to the digest or size it
	// was named by (from the registry or from the cache).
	ErrDigestMismatch = errors.New("digest mismatch")
)

// RegistryError is a failed registry request. It names the registry, the
// reference and, when the registry answered, the HTTP status; Err is
// usually a *transport.Error of go-containerregistry.
type RegistryError struct {
	Registry  string
	Reference string
	// Status is the HTTP status code, or 0 if there was no response.
	Status int
	Err    error
}

func (e *RegistryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "registry %s: %s", e.Registry, e.Reference)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		b.WriteString(" (set auth: docker-config for this registry under registries: in kit.yaml and log in with docker login)")
	}
	return b.String()
}

func (e *RegistryError) Unwrap() error { return e.Err }

// registryError wraps err from a request for ref on registry.
func registryError(registry, ref string, err error) error {
	if err == nil {
		return nil
	}
	var re *RegistryError
	if errors.As(err, &re) {
		return err
	}
	e := &RegistryError{Registry: registry, Reference: ref, Err: err}
	var te *transport.Error
	if errors.As(err, &te) {
		e.Status = te.StatusCode
	}
	return e
}

// isNotFound reports whether err is the registry saying 404.
func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// DigestError is content that does not match the digest and size it is
// named by. It wraps ErrDigestMismatch.
type DigestError struct {
	// What names the content: a reference or a cache path.
	What              string
	Want, Got         string
	WantSize, GotSize int64
}

func (e *DigestError) Error() string {
	if e.WantSize >= 0 && e.GotSize != e.WantSize {
		return fmt.Sprintf("%s: %v: want %d bytes, got %d", e.What, ErrDigestMismatch, e.WantSize, e.GotSize)
	}
	return fmt.Sprintf("%s: %v: want %s, got %s", e.What, ErrDigestMismatch, e.Want, e.Got)
}

func (e *DigestError) Unwrap() error { return ErrDigestMismatch }
