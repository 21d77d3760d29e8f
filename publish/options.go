package publish

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options says how to reach the site's registry. The zero value reaches
// it over HTTPS with the Docker config's credentials.
type Options struct {
	// Insecure allows plain HTTP to the registry (as crane's --insecure;
	// go-containerregistry already uses plain HTTP for loopback hosts,
	// which ferry still refuses without Insecure).
	Insecure bool
	// Keychain finds credentials (default authn.DefaultKeychain: the
	// Docker config).
	Keychain authn.Keychain
	// Auth, if set, is used instead of Keychain.
	Auth authn.Authenticator
	// Transport (default remote.DefaultTransport).
	Transport http.RoundTripper
	// Read, if set, wraps the reader of the kit blob that Import streams
	// into the store (size: the blob's size in the manifest), e.g. to show
	// progress. It must return what it reads unchanged.
	Read func(r io.Reader, size int64) io.Reader
}

// repository parses repo ("registry.site:5000/ferry/kits") and refuses
// plain HTTP unless o.Insecure.
func (o Options) repository(repo string) (name.Repository, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.NewRepository(repo, append(nopts, name.StrictValidation)...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("repository %q: %w", repo, err)
	}
	if err := o.checkScheme(r.Registry); err != nil {
		return name.Repository{}, err
	}
	return r, nil
}

func (o Options) checkScheme(reg name.Registry) error {
	if reg.Scheme() == "http" && !o.Insecure {
		return fmt.Errorf("%s: %w: pass --insecure only for a registry on a network you trust", reg.RegistryStr(), ErrPlainHTTP)
	}
	return nil
}

// remote returns go-containerregistry's options for one call.
func (o Options) remote(ctx context.Context) []remote.Option {
	tr := o.Transport
	if tr == nil {
		tr = remote.DefaultTransport
	}
	ro := []remote.Option{remote.WithContext(ctx), remote.WithTransport(tr)}
	if o.Auth != nil {
		return append(ro, remote.WithAuth(o.Auth))
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	return append(ro, remote.WithAuthFromKeychain(kc))
}
