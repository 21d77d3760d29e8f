package publish

import "errors"

// ErrPlainHTTP is returned when the registry would be reached over plain
// HTTP and Options.Insecure is not set.
var ErrPlainHTTP = errors.New("registry would be reached over plain HTTP")

// ErrNotKit is returned by Open when the manifest is not a ferry kit
// artifact (another artifact type, or not exactly one kit layer).
var ErrNotKit = errors.New("not a ferry kit artifact")

// ErrVersionTaken is returned by Publish when the registry already holds
// another kit under the same CHANNEL-VERSION tag.
var ErrVersionTaken = errors.New("the registry holds another kit under this version's tag")

// ErrAttestationLost is returned by Attach when the attestation is still
// missing from the image's cosign tag after every retry (other writers
// kept replacing the tag).
var ErrAttestationLost = errors.New("attestation missing from the cosign tag after retries")

// ErrNotActive is returned by CheckActive for a kit that is not the
// active kit of its channel in the store.
var ErrNotActive = errors.New("not the store's active kit")
