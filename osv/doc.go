// Package osv parses and validates OSV vulnerability records
// (https://ossf.github.io/osv-schema/) with the schema's own Go bindings
// (github.com/ossf/osv-schema/bindings/go/osvschema, generated from the
// schema's protobuf definition), so that field names and types follow the
// schema exactly and unknown fields are refused rather than dropped.
//
// On top of the schema's shape, Validate checks what the bindings cannot:
// required fields, one event kind per event, an introduced event per range,
// no fixed and last_affected in one range, valid SEMVER versions in
// ascending order.
//
// Parse decodes with a hand-written decoder that builds the schema's
// messages without reflection, for records as OSV databases write them,
// and hands anything else (camelCase names, nulls, enum numbers, malformed
// input) to protojson, the reference: what is accepted, the messages built
// and every error are protojson's (a test compares the two on every record
// of a real corpus, and a fuzz target on any input).
//
// ParseHead is the index's fast path: it reads only the id, aliases,
// withdrawn and affected packages of a record that was validated before
// (a verified kit's), skipping the rest without decoding it.
//
// Package osv never opens a network connection.
package osv
