// Package publish uses the site's own OCI registry (distribution, Harbor,
// Zot) as the distribution engine between one store that imported a kit
// and the many runners and admission controllers of a site: Publish pushes
// a kit file, byte-exact, as an OCI artifact; Open pulls it back as a
// stream for the store's ordinary import; Attach pushes a signed gate
// decision to an image as a cosign-compatible attestation.
//
// Trust: nothing read from the registry is trusted. A kit pulled by Open
// goes through the same TUF verification as a kit file; the manifest's
// annotations (channel, version) are hints for tags and logs only. The
// manifest is checked against its digest (go-containerregistry computes
// it), and the kit blob is hashed while the import streams it: a blob
// that does not match its digest fails the import before it commits.
//
// It opens network connections, and only to the registry it is given.
// Plain HTTP is refused unless the caller says Insecure. It never runs a
// server.
package publish
