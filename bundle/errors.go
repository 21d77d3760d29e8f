package bundle

import (
	"errors"
	"fmt"
)

// Code is a stable failure code. Scripts depend on these strings: never
// rename one.
type Code string

// The failure codes of kit verification (docs/kit-format.md). They are
// stable: scripts depend on them.
const (
	CodeSignatureInvalid Code = "KIT_SIGNATURE_INVALID"
	CodeThresholdNotMet  Code = "KIT_THRESHOLD_NOT_MET"
	CodeExpired          Code = "KIT_EXPIRED"
	CodeRollback         Code = "KIT_ROLLBACK"
	CodeDigestMismatch   Code = "KIT_DIGEST_MISMATCH"
	CodeSizeMismatch     Code = "KIT_SIZE_MISMATCH"
	CodeMissingTarget    Code = "KIT_MISSING_TARGET"
	CodeUnexpectedEntry  Code = "KIT_UNEXPECTED_ENTRY"
	CodeUnsafePath       Code = "KIT_UNSAFE_PATH"
	CodeUnsafeEntryType  Code = "KIT_UNSAFE_ENTRY_TYPE"
	CodeDuplicateEntry   Code = "KIT_DUPLICATE_ENTRY"
	CodeTruncated        Code = "KIT_TRUNCATED"
	CodeMalformed        Code = "KIT_MALFORMED"
	CodeBaseMismatch     Code = "KIT_BASE_MISMATCH"
	CodeTooLarge         Code = "KIT_TOO_LARGE"
	CodeUnknownChannel   Code = "KIT_UNKNOWN_CHANNEL"
	// Kits written in parts (parts.go).
	CodePartMissing Code = "KIT_PART_MISSING"
	CodePartInvalid Code = "KIT_PART_INVALID"
	// CodeBlobMissing: a delta leaves out a file whose content the store
	// it is checked against or imported into does not hold (a have-list
	// that claimed a blob the store lacks).
	CodeBlobMissing Code = "KIT_BLOB_MISSING"
)

// Codes lists every failure code, for documentation and tests.
var Codes = []Code{
	CodeSignatureInvalid, CodeThresholdNotMet, CodeExpired, CodeRollback,
	CodeDigestMismatch, CodeSizeMismatch, CodeMissingTarget, CodeUnexpectedEntry,
	CodeUnsafePath, CodeUnsafeEntryType, CodeDuplicateEntry, CodeTruncated,
	CodeMalformed, CodeBaseMismatch, CodeTooLarge, CodeUnknownChannel,
	CodePartMissing, CodePartInvalid, CodeBlobMissing,
}

// Error is one verification failure: a stable code, the entry it concerns
// (a path in the kit, or "" for the kit as a whole) and what is wrong.
type Error struct {
	Code  Code
	Entry string
	Msg   string
}

func (e *Error) Error() string {
	if e.Entry == "" {
		return fmt.Sprintf("%s: %s", e.Code, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Code, e.Entry, e.Msg)
}

// Is makes errors.Is(err, &Error{Code: c}) match any Error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Entry == "" || t.Entry == e.Entry)
}

// Errorf returns an *Error.
func Errorf(code Code, entry, format string, args ...any) *Error {
	return &Error{Code: code, Entry: entry, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ErrInvalidPath is returned by Write for a content path that the format
// does not allow (see CheckPath).
var ErrInvalidPath = errors.New("invalid kit path")

// ErrChanged is returned by Write when a content file changes between the
// hashing pass and the writing pass.
var ErrChanged = errors.New("content changed while the kit was written")

// ErrMetadataTooLarge is returned by Write and TargetsLimit.Add when the
// TUF metadata of a kit would be larger than a verifier reads
// (MaxMetadataSize, DefaultMetadataBudget): too many files, or too long
// names. Write returns it before it writes a byte.
var ErrMetadataTooLarge = errors.New("kit metadata too large")
