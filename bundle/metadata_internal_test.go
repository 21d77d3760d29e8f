package bundle

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// parseMetadataLong is ParseMetadata as it was before parseCanonical: the
// reference its results and errors must equal.
func parseMetadataLong[T metadata.Roles](data []byte) (*metadata.Metadata[T], error) {
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

func TestParseMetadataSameAsLongWay(t *testing.T) {
	tg := metadata.Targets(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC))
	tg.Signed.Version = 3
	tg.Signed.UnrecognizedFields = map[string]any{KitField: map[string]any{"channel": "acme", "format": 1}}
	tg.Signed.Targets["a/b.json"] = &metadata.TargetFiles{Length: 5, Hashes: metadata.Hashes{"sha256": bytes.Repeat([]byte{1}, 32)}}
	tg.Signatures = []metadata.Signature{{KeyID: "aa", Signature: []byte{1}}, {KeyID: "bb", Signature: []byte{2}}}
	good, err := EncodeMetadata(tg)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		t.Helper()
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q is not in the metadata", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	inputs := map[string][]byte{
		"canonical":           good,
		"another role":        replace(`"_type": "targets"`, `"_type": "snapshot"`),
		"_type in upper case": replace(`"_type"`, `"_TYPE"`),
		"no _type":            replace(`"_type": "targets",`, ``),
		"_type a number":      replace(`"_type": "targets"`, `"_type": 7`),
		"trailing space":      append(bytes.Clone(good), ' '),
		"signatures unsorted": replace(`"keyid": "aa"`, `"keyid": "cc"`),
		"two equal keys":      replace(`"keyid": "aa"`, `"keyid": "bb"`),
		"unknown field":       replace(`"kit": {`, `"kix": {`),
		"no signed part":      []byte(`{"signatures":[]}` + "\n"),
		"signed an array":     []byte(`{"signatures":[],"signed":[]}` + "\n"),
		"not JSON":            good[:len(good)/2],
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			same(t, data, ParseMetadata[metadata.TargetsType], parseMetadataLong[metadata.TargetsType])
			same(t, data, ParseMetadata[metadata.RootType], parseMetadataLong[metadata.RootType])
			same(t, data, ParseMetadata[metadata.SnapshotType], parseMetadataLong[metadata.SnapshotType])
			same(t, data, ParseMetadata[metadata.TimestampType], parseMetadataLong[metadata.TimestampType])
		})
	}
}

func same[T metadata.Roles](t *testing.T, data []byte, got, want func([]byte) (*metadata.Metadata[T], error)) {
	t.Helper()
	gm, gerr := got(data)
	wm, werr := want(data)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Errorf("error %v, the long way %v", gerr, werr)
	}
	if (gm == nil) != (wm == nil) {
		t.Fatalf("metadata %v, the long way %v", gm, wm)
	}
	if gm != nil {
		ge, _ := EncodeMetadata(gm)
		we, _ := EncodeMetadata(wm)
		if !bytes.Equal(ge, we) {
			t.Errorf("metadata differs from the long way's:\n%s\n%s", ge, we)
		}
	}
}

// FuzzParseMetadataSameAsLongWay holds ParseMetadata to the long way on
// arbitrary bytes, for every role:
//
//	go test -run '^$' -fuzz FuzzParseMetadataSameAsLongWay -fuzztime 60s ./bundle/
func FuzzParseMetadataSameAsLongWay(f *testing.F) {
	tg := metadata.Targets(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC))
	tg.Signed.UnrecognizedFields = map[string]any{KitField: map[string]any{"channel": "acme"}}
	tg.Signatures = []metadata.Signature{{KeyID: "aa", Signature: []byte{1}}}
	for _, m := range []any{tg, metadata.Root(), metadata.Snapshot(), metadata.Timestamp()} {
		var b []byte
		var err error
		switch m := m.(type) {
		case *metadata.Metadata[metadata.TargetsType]:
			b, err = EncodeMetadata(m)
		case *metadata.Metadata[metadata.RootType]:
			b, err = EncodeMetadata(m)
		case *metadata.Metadata[metadata.SnapshotType]:
			b, err = EncodeMetadata(m)
		case *metadata.Metadata[metadata.TimestampType]:
			b, err = EncodeMetadata(m)
		}
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		same(t, data, ParseMetadata[metadata.TargetsType], parseMetadataLong[metadata.TargetsType])
		same(t, data, ParseMetadata[metadata.RootType], parseMetadataLong[metadata.RootType])
		same(t, data, ParseMetadata[metadata.SnapshotType], parseMetadataLong[metadata.SnapshotType])
		same(t, data, ParseMetadata[metadata.TimestampType], parseMetadataLong[metadata.TimestampType])
	})
}
