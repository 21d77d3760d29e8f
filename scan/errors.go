package scan

import (
	"errors"
	"fmt"
)

// ErrTarget is returned (wrapped in a *TargetError) for a target string
// that cannot be parsed or names a kind scan does not know.
var ErrTarget = errors.New("invalid scan target")

// ErrNoImageSource is returned for a sha256: target when no image source
// (the store's image reader) was configured.
var ErrNoImageSource = errors.New("sha256: targets name images imported into a store: scan them with --store DIR")

// ErrAmbiguousImage is returned when an OCI layout holds several images
// and the target does not name one by digest.
var ErrAmbiguousImage = errors.New("the layout holds several images: name one with @sha256:…")

// ErrSBOMFormat is returned for an SBOM that is neither CycloneDX JSON
// nor SPDX JSON.
var ErrSBOMFormat = errors.New("unsupported SBOM format: want CycloneDX JSON or SPDX JSON")

// ErrUnsafePath is returned for a layer entry whose name would escape
// the root (absolute after cleaning, or with "..").
var ErrUnsafePath = errors.New("unsafe path in layer")

// TargetError says why a target string was refused.
type TargetError struct {
	Target string
	Reason string
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("scan target %q: %s", e.Target, e.Reason)
}

// Is reports ErrTarget.
func (e *TargetError) Is(target error) bool { return target == ErrTarget }

// ErrNotJSONObject is returned for an advisory file that is not a JSON
// object.
var ErrNotJSONObject = errors.New("not a JSON object")
