package vex

import (
	"errors"
	"fmt"
)

// Sentinels, for errors.Is. Every error the parsers return wraps exactly one
// of them, most through a *DocumentError that adds the field and reason.
var (
	// ErrMalformed: the bytes are not one well-formed JSON object (or have
	// duplicate keys, invalid UTF-8, or values of the wrong JSON type).
	ErrMalformed = errors.New("malformed JSON document")
	// ErrTooLarge: the document exceeds MaxDocumentSize.
	ErrTooLarge = errors.New("document too large")

	// ErrNotOpenVEX: the document has no OpenVEX @context.
	ErrNotOpenVEX = errors.New("not an OpenVEX document")
	// ErrNestedHeader: OpenVEX header fields (@context, author, timestamp …)
	// are nested under another key such as "metadata" instead of being at the
	// top level, a non-spec vendor variant. Reading it as OpenVEX would give
	// a document with no author and no context: it is refused instead.
	ErrNestedHeader = errors.New("OpenVEX header fields are not at the top level")
	// ErrUnsupportedVersion: an OpenVEX @context version this package does
	// not know.
	ErrUnsupportedVersion = errors.New("unsupported OpenVEX version")

	// ErrNotCSAF: the document has no CSAF document object or csaf_version.
	ErrNotCSAF = errors.New("not a CSAF 2.0 document")
	// ErrCSAFCategory: a CSAF document of a category that carries no VEX
	// (only csaf_vex and csaf_security_advisory do).
	ErrCSAFCategory = errors.New("CSAF document category carries no VEX")
	// ErrUnknownProduct: a CSAF vulnerability references a product_id or
	// group_id the product tree does not define.
	ErrUnknownProduct = errors.New("undefined CSAF product reference")
	// ErrContradiction: a CSAF document states two things that exclude each
	// other (one product in two status groups, two justification flags).
	ErrContradiction = errors.New("contradictory CSAF statements")

	// ErrMissingField: a field the format requires is absent or empty.
	ErrMissingField = errors.New("required field missing")
	// ErrInvalidField: a field has a value the format does not allow.
	ErrInvalidField = errors.New("invalid field value")
	// ErrUnknownFormat: a Format other than FormatOpenVEX or FormatCSAF.
	ErrUnknownFormat = errors.New("unknown VEX format")
)

// DocumentError says what is wrong with a document and where. Field is a
// JSON path like "statements[3].status" or "" for the whole document.
type DocumentError struct {
	Format Format
	Field  string
	Reason string
	Err    error // one of the sentinels
}

func (e *DocumentError) Error() string {
	s := string(e.Format)
	if e.Field != "" {
		s += ": " + e.Field
	}
	return fmt.Sprintf("%s: %v: %s", s, e.Err, e.Reason)
}

// Unwrap returns the sentinel.
func (e *DocumentError) Unwrap() error { return e.Err }

func docErr(f Format, sentinel error, field, format string, args ...any) error {
	return &DocumentError{Format: f, Field: field, Err: sentinel, Reason: fmt.Sprintf(format, args...)}
}
