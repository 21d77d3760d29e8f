package osv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"
)

// sameAsProtojson checks that Parse, with its fast decoder, gives what the
// reference decoder (protojson) gives for data: the same message or the
// same error.
func sameAsProtojson(t *testing.T, name string, data []byte) {
	t.Helper()
	trimmed := []byte(strings.TrimSpace(string(data)))
	want, wantErr := decodeProto(trimmed)
	got, gotErr := decode(trimmed)
	switch {
	case (wantErr == nil) != (gotErr == nil):
		t.Errorf("%s: fast decoder error %v, protojson error %v", name, gotErr, wantErr)
	case wantErr != nil:
		if gotErr.Error() != wantErr.Error() {
			t.Errorf("%s: error %q, protojson's %q", name, gotErr, wantErr)
		}
	case !proto.Equal(got, want):
		t.Errorf("%s: decoded differently from protojson (-protojson +fast):\n%s", name, cmp.Diff(want, got, protocmp.Transform()))
	}
}

// testRecord is one record of testdata/records.
type testRecord struct {
	name string
	data []byte
}

// testRecords reads testdata/records, at least one.
func testRecords(tb testing.TB) []testRecord {
	tb.Helper()
	files, err := filepath.Glob("testdata/records/*.json")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no test records: %v", err)
	}
	var out []testRecord
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, testRecord{f, data})
	}
	return out
}

func TestDecodeSameAsProtojson(t *testing.T) {
	for _, r := range testRecords(t) {
		if _, ok := decodeFast([]byte(strings.TrimSpace(string(r.data)))); !ok {
			t.Errorf("%s: the fast decoder gave up on a plain record", r.name)
		}
		sameAsProtojson(t, r.name, r.data)
	}
}

// TestDecodeEdges covers the inputs on which the fast decoder either must
// agree with protojson or must hand over to it.
func TestDecodeEdges(t *testing.T) {
	const head = `{"id":"X-1","modified":"2024-01-01T00:00:00Z",`
	cases := map[string]string{
		"camelCase field":       head + `"schemaVersion":"1.6.0"}`,
		"null field":            head + `"summary":null}`,
		"null in struct":        head + `"database_specific":{"a":null}}`,
		"duplicate field":       head + `"id":"X-2"}`,
		"duplicate struct key":  head + `"database_specific":{"a":1,"a":2}}`,
		"enum number":           head + `"references":[{"type":1,"url":"u"}]}`,
		"unknown enum":          head + `"references":[{"type":"BLOG","url":"u"}]}`,
		"escapes":               head + `"summary":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`,
		"lone surrogate":        head + `"summary":"\ud83d"}`,
		"bad escape":            head + `"summary":"\x"}`,
		"control character":     head + "\"summary\":\"a\tb\"}",
		"invalid UTF-8":         head + "\"summary\":\"a\xffb\"}",
		"replacement char":      head + "\"summary\":\"a\uFFFDb\"}",
		"numbers":               head + `"database_specific":{"a":-0,"b":1.5e3,"c":0.25,"d":[1,true,false,null,"s",{}]}}`,
		"leading zero":          head + `"database_specific":{"a":01}}`,
		"huge number":           head + `"database_specific":{"a":1e400}}`,
		"bare dot":              head + `"database_specific":{"a":1.}}`,
		"truex":                 head + `"database_specific":{"a":truex}}`,
		"timestamp offset":      `{"id":"X-1","modified":"2024-01-01T00:00:00.123456789+02:00"}`,
		"timestamp too precise": `{"id":"X-1","modified":"2024-01-01T00:00:00.1234567891Z"}`,
		"timestamp no zone":     `{"id":"X-1","modified":"2024-01-01T00:00:00"}`,
		"timestamp year 0":      `{"id":"X-1","modified":"0000-01-01T00:00:00Z"}`,
		"trailing data":         head + `"summary":"s"} x`,
		"trailing comma":        head + `"summary":"s",}`,
		"empty objects":         head + `"affected":[{"package":{},"ranges":[{"events":[{}]}],"database_specific":{}}]}`,
		"empty arrays":          head + `"aliases":[],"affected":[]}`,
		"wrong type":            head + `"aliases":"A"}`,
		"unterminated":          head + `"summary":"s`,
		"deep struct":           head + `"database_specific":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100) + `}`,
		"deep list":             head + `"database_specific":{"a":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}}`,
		"whitespace":            " {\n\t\"id\" : \"X-1\" ,\r\n \"modified\":\"2024-01-01T00:00:00Z\" } ",
		"escaped key":           `{"\u0069d":"X-1","modified":"2024-01-01T00:00:00Z"}`,
	}
	for name, rec := range cases {
		t.Run(name, func(t *testing.T) { sameAsProtojson(t, name, []byte(rec)) })
	}
}

func FuzzDecode(f *testing.F) {
	for _, r := range testRecords(f) {
		f.Add(r.data)
	}
	f.Add([]byte(`{"id":"X-1","database_specific":{"a":[1,"b",{"c":null}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsProtojson(t, "input", data)
	})
}

func benchRecords(b *testing.B) [][]byte {
	var recs [][]byte
	for _, r := range testRecords(b) {
		recs = append(recs, r.data)
	}
	return recs
}

// BenchmarkParse compares Parse (fast decoder) with the protojson path.
func BenchmarkParse(b *testing.B) {
	recs := benchRecords(b)
	size := 0
	for _, r := range recs {
		size += len(r)
	}
	for _, bc := range []struct {
		name string
		fn   func([]byte) (*Vulnerability, error)
	}{{"fast", decode}, {"protojson", decodeProto}, {"matchable", ParseMatchable}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range recs {
					if _, err := bc.fn(r); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
