package osv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestParseHead(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Head
		err  bool
	}{
		{"minimal", `{"id":"A-1"}`, &Head{ID: "A-1"}, false},
		{"fields in any order, others skipped", ` {"summary":"x \"}{[","affected":[{"ranges":[{"events":[{"introduced":"0"}]}],"package":{"name":"m","ecosystem":"Go","purl":"pkg:golang/m"}},{"package":null}],"aliases":["CVE-1","GHSA-2"],"id":"A-1","database_specific":{"a":[1,2,{"b":null}],"c":true}} `,
			&Head{ID: "A-1", Aliases: []string{"CVE-1", "GHSA-2"}, Packages: [][2]string{{"Go", "m"}, {"", ""}}}, false},
		{"escapes", `{"id":"A-\u0031","aliases":["C\\D"]}`, &Head{ID: "A-1", Aliases: []string{`C\D`}}, false},
		{"escaped key", `{"\u0069d":"A-1"}`, &Head{ID: "A-1"}, false},
		{"withdrawn", `{"id":"A-1","withdrawn":"2024-01-01T00:00:00Z"}`, &Head{ID: "A-1", Withdrawn: true}, false},
		{"withdrawn null", `{"id":"A-1","withdrawn":null}`, &Head{ID: "A-1"}, false},
		{"keys are exact", `{"ID":"A-1"}`, &Head{}, false},
		{"not an object", `["A-1"]`, nil, true},
		{"truncated", `{"id":"A-1","affected":[{"package":{"name":"m"`, nil, true},
		{"unterminated string", `{"id":"A-1`, nil, true},
		{"mismatched brackets", `{"id":"A-1","x":[1}`, nil, true},
		{"trailing data", `{"id":"A-1"} {}`, nil, true},
		{"alias not a string", `{"id":"A-1","aliases":[1]}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHead([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("error %v, want error: %v", err, tt.err)
			}
			if err != nil && !errors.Is(err, ErrMalformedJSON) {
				t.Errorf("error %v does not wrap ErrMalformedJSON", err)
			}
			if err == nil && fmt.Sprint(*got) != fmt.Sprint(*tt.want) {
				t.Errorf("got %+v, want %+v", *got, *tt.want)
			}
		})
	}
}

// FuzzParseHead checks ParseHead against encoding/json on every
// valid JSON object, and that it never panics on anything else:
//
//	go test ./osv -run '^$' -fuzz FuzzParseHead -fuzztime 1m
func FuzzParseHead(f *testing.F) {
	f.Add([]byte(`{"id":"GO-1","modified":"2026-01-01T00:00:00Z","aliases":["CVE-1"],"affected":[{"package":{"ecosystem":"Go","name":"m"},"versions":["1.0.0"]},{"package":{"ecosystem":"npm","name":"@a/b"},"versions":["1.0.0"]}]}`))
	f.Add([]byte(`{"id":"A","withdrawn":"x","affected":[{"package":{"ecosystem":"E","name":"\u00e9"}}]}`))
	f.Add([]byte(`{"id":"A","x":[{"y":"]"}],"aliases":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseHead(data)
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return // not a JSON object: any error, no panic
		}
		want, ok := referenceHead(m)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("ParseHead failed on valid input: %v", err)
		}
		if fmt.Sprint(*got) != fmt.Sprint(*want) {
			t.Fatalf("got %+v, want %+v", *got, *want)
		}
	})
}

// referenceHead extracts the fields of Head with encoding/json, keys
// compared exactly; ok is false when a field has another type.
func referenceHead(m map[string]json.RawMessage) (*Head, bool) {
	h := &Head{}
	isNull := func(r json.RawMessage) bool { return string(bytes.TrimSpace(r)) == "null" }
	if r, ok := m["id"]; ok && !isNull(r) {
		if json.Unmarshal(r, &h.ID) != nil {
			return nil, false
		}
	}
	if r, ok := m["aliases"]; ok && !isNull(r) {
		if json.Unmarshal(r, &h.Aliases) != nil {
			return nil, false
		}
	}
	if r, ok := m["withdrawn"]; ok {
		h.Withdrawn = !isNull(r)
	}
	if r, ok := m["affected"]; ok && !isNull(r) {
		var affected []map[string]json.RawMessage
		if json.Unmarshal(r, &affected) != nil {
			return nil, false
		}
		for _, a := range affected {
			var p [2]string
			if pr, ok := a["package"]; ok && !isNull(pr) {
				var pm map[string]json.RawMessage
				if json.Unmarshal(pr, &pm) != nil {
					return nil, false
				}
				for i, k := range []string{"ecosystem", "name"} {
					if v, ok := pm[k]; ok && !isNull(v) && json.Unmarshal(v, &p[i]) != nil {
						return nil, false
					}
				}
			}
			h.Packages = append(h.Packages, p)
		}
	}
	return h, true
}
