// Package push copies images from the offline store into the site's own
// registry with go-containerregistry's remote package: by digest, so that
// the digest in the registry is the digest that was mirrored, together with
// the cosign signature/attestation/SBOM tags (sha256-<hex>.sig …) and OCI
// referrers, so that cosign at the site finds them.
//
// It is the one offline component that opens network connections, and only
// to the registry it is given. Plain HTTP is refused unless the caller
// says Insecure. Blobs are read from the store and re-hashed while read.
package push
