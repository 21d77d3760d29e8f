package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrNoTrustedRoot is returned by SigstoreTrustedRoot when no active kit
// carries a Sigstore trusted root.
var ErrNoTrustedRoot = errors.New("no kit carried a Sigstore trusted root (trust/<name>/targets/trusted_root.json)")

// AmbiguousTrustedRootError is returned by SigstoreTrustedRoot when the
// active kits carry more than one Sigstore trusted root: which one to use
// is the caller's choice to make.
type AmbiguousTrustedRootError struct {
	Roots []StoredFile
}

func (e *AmbiguousTrustedRootError) Error() string {
	names := make([]string, len(e.Roots))
	for i, r := range e.Roots {
		names[i] = r.Channel + ":" + r.Path
	}
	return fmt.Sprintf("the store holds %d Sigstore trusted roots (%s)", len(e.Roots), strings.Join(names, ", "))
}

// SigstoreTrustedRoot returns the bytes of the one Sigstore trusted root
// the active kits carry (see SigstoreTrustedRoots), re-hashed against the
// digest its kit signed. It returns ErrNoTrustedRoot when there is none
// and an *AmbiguousTrustedRootError when there are several.
func (s *Store) SigstoreTrustedRoot(ctx context.Context) ([]byte, error) {
	roots, err := s.SigstoreTrustedRoots(ctx)
	if err != nil {
		return nil, err
	}
	switch len(roots) {
	case 0:
		return nil, ErrNoTrustedRoot
	case 1:
	default:
		return nil, &AmbiguousTrustedRootError{Roots: roots}
	}
	r := roots[0]
	p, err := s.BlobPath(r.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%s (channel %s): %w", r.Path, r.Channel, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s (channel %s): %w", r.Path, r.Channel, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, r.Length+1))
	if err != nil {
		return nil, fmt.Errorf("%s (channel %s): %w", r.Path, r.Channel, err)
	}
	if sum := sha256.Sum256(b); int64(len(b)) != r.Length || hex.EncodeToString(sum[:]) != r.SHA256 {
		return nil, fmt.Errorf("%s (channel %s): the stored blob %s does not match the kit's digest and length: the store is damaged (ferry store check)", r.Path, r.Channel, r.SHA256)
	}
	return b, nil
}
