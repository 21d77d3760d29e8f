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
// ParseHead is the index's fast path: it reads only the id, aliases,
// withdrawn and affected packages of a record that was validated before
// (a verified kit's), skipping the rest without decoding it.
//
// Package osv never opens a network connection.
package osv
