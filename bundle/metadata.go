package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ErrNotCanonical is returned by ParseMetadata for TUF metadata that parses
// but is not byte for byte the canonical form EncodeMetadata writes.
var ErrNotCanonical = errors.New("TUF metadata is not in the kit's canonical form")

// signedFields are the fields of a role's signed part that ferry writes
// beyond those of the TUF specification: go-tuf keeps them in
// UnrecognizedFields. Any other unknown field is refused.
var signedFields = map[string][]string{
	metadata.ROOT:      {"x-ferry"},
	metadata.TARGETS:   {KitField},
	metadata.SNAPSHOT:  nil,
	metadata.TIMESTAMP: nil,
}

// EncodeMetadata returns the canonical bytes of TUF metadata in a kit: the
// JSON of go-tuf's ToBytes(true) (object keys sorted, indented with one
// tab), the signatures sorted by key id, and one final newline. It refuses
// two signatures by the same key, an unknown field beside "signed" and
// "signatures" or in a signature, and an unknown field in the signed part
// other than those ferry writes ("x-ferry" in a root, "kit" in targets).
//
// The writer of every kit and root uses it, and the verifier re-derives it
// from the parsed metadata (ParseMetadata): a signature covers only the
// signed part as go-tuf re-encodes it, so without this rule whitespace,
// key order, escapes, extra signatures and trailing bytes could change
// without invalidating anything. m is not modified.
func EncodeMetadata[T metadata.Roles](m *metadata.Metadata[T]) ([]byte, error) {
	if err := checkFields(m); err != nil {
		return nil, err
	}
	c := *m
	c.Signatures = slices.Clone(m.Signatures)
	slices.SortFunc(c.Signatures, func(a, b metadata.Signature) int { return strings.Compare(a.KeyID, b.KeyID) })
	for i := 1; i < len(c.Signatures); i++ {
		if c.Signatures[i-1].KeyID == c.Signatures[i].KeyID {
			return nil, fmt.Errorf("two signatures by key %s", c.Signatures[i].KeyID)
		}
	}
	b, err := json.MarshalIndent(c, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseMetadata parses data as TUF metadata of role T (metadata.RootType,
// TimestampType, SnapshotType or TargetsType) and checks that data is
// exactly EncodeMetadata of what it parsed to: signatures sorted by key id
// and unique, no unknown fields beyond those ferry writes, no other
// whitespace, escapes or number forms, nothing after the final newline.
// It does not verify signatures. Errors wrap ErrNotCanonical when data
// parses but is not canonical.
func ParseMetadata[T metadata.Roles](data []byte) (*metadata.Metadata[T], error) {
	if m, ok := parseCanonical[T](data); ok {
		return m, nil
	}
	// Something is wrong: go the long way, for go-tuf's own word on it.
	m, err := new(metadata.Metadata[T]).FromBytes(data)
	if err != nil {
		return nil, err
	}
	if err := checkFields(m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotCanonical, err)
	}
	for i, s := range m.Signatures {
		if i > 0 && m.Signatures[i-1].KeyID >= s.KeyID {
			return nil, fmt.Errorf("%w: signatures not sorted by key id (%.16s… after %.16s…)", ErrNotCanonical, s.KeyID, m.Signatures[i-1].KeyID)
		}
	}
	want, err := EncodeMetadata(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotCanonical, err)
	}
	if !bytes.Equal(data, want) {
		return nil, fmt.Errorf("%w: %s", ErrNotCanonical, firstDifference(data, want))
	}
	return m, nil
}

// parseCanonical is ParseMetadata for metadata that is fine, without the
// pass over data that go-tuf's FromBytes makes first to check the role
// (into a map of every value, the costliest of its passes): data that is
// the canonical encoding of what it parsed to names the role it parsed as
// in "signed"."_type", which is what that pass checks. It reports false
// for anything else, for ParseMetadata to find out what is wrong.
func parseCanonical[T metadata.Roles](data []byte) (*metadata.Metadata[T], bool) {
	var m metadata.Metadata[T]
	if json.Unmarshal(data, &m) != nil || roleOf(m.Signed) != typeOf(m.Signed) {
		return nil, false
	}
	for i, s := range m.Signatures {
		if i > 0 && m.Signatures[i-1].KeyID >= s.KeyID {
			return nil, false
		}
	}
	want, err := EncodeMetadata(&m)
	if err != nil || !bytes.Equal(data, want) {
		return nil, false
	}
	return &m, true
}

// roleOf is the role of a signed part by its Go type; typeOf the role it
// names in its "_type" field.
func roleOf(signed any) string {
	switch signed.(type) {
	case metadata.RootType:
		return metadata.ROOT
	case metadata.TimestampType:
		return metadata.TIMESTAMP
	case metadata.SnapshotType:
		return metadata.SNAPSHOT
	case metadata.TargetsType:
		return metadata.TARGETS
	}
	return ""
}

func typeOf(signed any) string {
	switch s := signed.(type) {
	case metadata.RootType:
		return s.Type
	case metadata.TimestampType:
		return s.Type
	case metadata.SnapshotType:
		return s.Type
	case metadata.TargetsType:
		return s.Type
	}
	return "?"
}

// checkFields refuses unknown fields that a signature does not cover (in
// the envelope, in a signature) and unknown fields of the signed part that
// ferry does not write.
func checkFields[T metadata.Roles](m *metadata.Metadata[T]) error {
	if k := firstKey(m.UnrecognizedFields); k != "" {
		return fmt.Errorf("unknown field %q beside \"signed\" and \"signatures\"", k)
	}
	for _, s := range m.Signatures {
		if k := firstKey(s.UnrecognizedFields); k != "" {
			return fmt.Errorf("unknown field %q in the signature by key %s", k, s.KeyID)
		}
	}
	var role string
	var extra map[string]any
	switch s := any(m.Signed).(type) {
	case metadata.RootType:
		role, extra = metadata.ROOT, s.UnrecognizedFields
	case metadata.TimestampType:
		role, extra = metadata.TIMESTAMP, s.UnrecognizedFields
	case metadata.SnapshotType:
		role, extra = metadata.SNAPSHOT, s.UnrecognizedFields
	case metadata.TargetsType:
		role, extra = metadata.TARGETS, s.UnrecognizedFields
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(signedFields[role], k) {
			return fmt.Errorf("unknown field %q in the signed %s metadata", k, role)
		}
	}
	return nil
}

// firstKey returns the smallest key of m, or "" when m is empty.
func firstKey(m map[string]any) string {
	first := ""
	for k := range m {
		if first == "" || k < first {
			first = k
		}
	}
	if first == "" && len(m) > 0 {
		return `""`
	}
	return first
}

// firstDifference describes where got first differs from want.
func firstDifference(got, want []byte) string {
	n := min(len(got), len(want))
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	switch {
	case i == len(want):
		return fmt.Sprintf("%d unexpected byte(s) after the end at byte %d", len(got)-i, i)
	case i == len(got):
		return fmt.Sprintf("ends at byte %d, %d byte(s) short (a final newline missing?)", i, len(want)-i)
	}
	return fmt.Sprintf("byte %d is %q where the canonical form has %q", i, got[i], want[i])
}
