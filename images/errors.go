package images

import (
	"errors"
	"fmt"
)

// ErrBlobMissing is returned when a manifest names a blob the store does
// not hold (a platform left out at mirror time, a foreign layer).
var ErrBlobMissing = errors.New("blob not in the store")

// ErrNotVerified is returned by Verify when no signature of the image
// verified.
var ErrNotVerified = errors.New("no valid signature")

// ErrFormat is returned for an export format other than oci or docker.
var ErrFormat = errors.New("unknown export format")

// DigestError reports a blob whose bytes do not hash to its name.
type DigestError struct {
	Path string
	Want string
	Got  string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s: content hashes to %s, want %s: the store is damaged (re-import the kit)", e.Path, e.Got, e.Want)
}

// ErrNotInToto is returned by ParseEnvelope for a DSSE envelope whose
// payload is not an in-toto statement.
var ErrNotInToto = errors.New("not an in-toto attestation")

// ErrOutputExists is returned by Export when the output of an OCI layout
// exists and is not an empty directory; nothing there is touched.
var ErrOutputExists = errors.New("output exists")
