package scan

import (
	"bytes"
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// encoderIndent is what writeJSON wrote before it indented on its own: a
// json.Encoder with SetEscapeHTML(false) and SetIndent("", "  ").
func encoderIndent(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWriteJSONAsEncoder: writeJSON writes every format's JSON byte for
// byte as the Encoder's own indenting does, for reports and for values
// with the awkward parts (escapes, quotes and brackets in strings, empty
// and nested containers, HTML characters, non-ASCII, long strings that
// cross the flush boundary; reports with nil, empty and one-element
// lists, which writeJSON encodes an element at a time, and long ones,
// which it encodes in runs on several CPUs).
func TestWriteJSONAsEncoder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	r := testReport(t)
	sarif := sarifLog(r)
	vex, err := openVEX(r)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat(`a"b\c{d}[e],f:g `, 10000)
	values := map[string]any{
		"report":       r,
		"sarif":        sarif,
		"openvex":      vex,
		"empty report": &Report{Findings: []Finding{}, NotEvaluated: []NotEvaluated{}, Packages: []Package{}},
		"nil lists":    &Report{Tool: "t"},
		"one of each":  &Report{Findings: r.Findings[:1], NotEvaluated: []NotEvaluated{{Reason: "<a> & \"b\""}}, Packages: r.Packages[:1]},
		"three of each": &Report{Findings: slices.Repeat(r.Findings[:1], 3), NotEvaluated: slices.Repeat([]NotEvaluated{{Reason: "x"}}, 3),
			Packages: slices.Repeat(r.Packages[:1], 3)},
		// Long enough to be encoded in runs on several CPUs.
		"long lists": &Report{Findings: slices.Repeat(r.Findings, 1+300/len(r.Findings)), NotEvaluated: slices.Repeat([]NotEvaluated{{Reason: "x"}}, 129),
			Packages: slices.Repeat(r.Packages, 1+500/len(r.Packages))},
		"awkward": map[string]any{
			"s":      "quote \" backslash \\ brackets {}[] comma , colon : <html> & \u2028 é \x01",
			"empty":  map[string]any{},
			"list":   []any{},
			"nested": []any{[]any{}, map[string]any{"a": []any{map[string]any{}}}, nil, true, 1.5e-300, -0.0},
			"raw":    json.RawMessage(`{ "spaced" : [ 1 , 2 ] }`),
			"long":   long,
			"many":   strings.Split(strings.Repeat("x,", 20000), ","),
		},
		"scalar": "just a string",
		"number": 42,
		"null":   nil,
	}
	for name, v := range values {
		var got bytes.Buffer
		if err := writeJSON(&got, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := encoderIndent(t, v); !bytes.Equal(got.Bytes(), want) {
			i := 0
			for i < min(got.Len(), len(want)) && got.Bytes()[i] == want[i] {
				i++
			}
			t.Errorf("%s: writeJSON differs from the Encoder at byte %d of %d/%d: got %q, want %q", name, i, got.Len(), len(want),
				got.Bytes()[max(0, i-40):min(got.Len(), i+40)], want[max(0, i-40):min(len(want), i+40)])
		}
	}
}

// FuzzIndentJSON: on any valid JSON, compacted as encoding/json writes
// it, indentJSON and json.Indent give the same bytes.
func FuzzIndentJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,{"b":"c\"}"}],"d":{}}`, `"\\\""`, `[[[]],{},[{}]]`, `null`, `{"a" : [ 1 , "x" ] }`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			t.Fatal(err)
		}
		compact.WriteByte('\n')
		var want, got bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
			t.Fatal(err)
		}
		if err := indentJSON(&got, compact.Bytes()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("indentJSON(%q) = %q, json.Indent gives %q", compact.Bytes(), got.Bytes(), want.Bytes())
		}
	})
}
