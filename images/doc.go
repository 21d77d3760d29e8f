// Package images is the offline side of images: it reads images out of the
// store's content-addressed blobs as go-containerregistry v1.Image and
// v1.ImageIndex values, exports them as an OCI image layout or a docker
// tarball, and verifies the cosign signatures and attestations a kit
// carried, with sigstore-go, against a public key or a Sigstore trusted
// root.
//
// Trust assumptions: blobs are named by their sha256 digest and every read
// re-hashes what it returns (a changed blob fails with a *DigestError);
// images are named by digest, never by tag. Signature verification uses
// only the key or trusted root it is given and the bytes in the store.
//
// The package never opens a network connection and does not import
// go-containerregistry's remote package (a test checks). It is not under
// verify/ because sigstore-go's root package links net/http (its TUF
// client), which the offline packages may not even link.
package images
