// Package push copies images from the offline store into the site's own
// registry with go-containerregistry's remote package: by digest, so that
// the digest in the registry is the digest that was mirrored, together with
// the cosign signature/attestation/SBOM tags (sha256-<hex>.sig …) and OCI
// referrers, so that cosign at the site finds them.
//
// It is the one offline component that opens network connections, and only
// to the registry it is given. Plain HTTP is refused unless the caller
// says Insecure.
//
// Trust: manifests and configs are re-hashed as they are read from the
// store. Layers are sent as the stored files (sendfile) with only their
// size checked: the registry verifies the digest of every blob it is sent
// (the distribution spec's DIGEST_INVALID; the distribution registry and
// go-containerregistry's do), and when it refuses one, push re-hashes the
// blobs it read to name the damaged file. A registry that stored a blob
// without checking its digest would not be caught here; clients pulling
// the blob by digest would.
package push
