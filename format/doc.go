// Package format is the one home of the names ferry reads and writes in
// other people's formats and in its own: the media types of a kit's files
// (the mediaType of a target's custom object), the annotations ferry puts
// on a kit's images/index.json, cosign's tag suffixes, annotations and
// payload types, the in-toto statement types, the OpenVEX predicate type,
// and the schema of a carried attestation record.
//
// The connected side (mirror, kit) writes these names and the offline side
// (images, store, verify, push, scan) reads them; both import this package
// instead of spelling the strings again, so the two sides cannot drift
// apart. Where an upstream library defines the same name, a test checks
// that the spellings agree.
//
// The package holds constants and small pure functions only. It imports
// nothing but the standard library, never does I/O and never changes: a
// value here is part of the kit format, so changing one breaks every kit
// and store already written.
package format
