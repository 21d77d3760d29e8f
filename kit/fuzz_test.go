package kit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ferry-dev/ferry/kit"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParseSpec feeds arbitrary kit.yaml text to the spec parser. It must
// not panic; what it refuses it refuses with SpecErrors that name the file
// and carry a stable code; and it is a function of its input: parsing the
// same bytes twice gives the same spec or the same errors.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(`name: acme
channel: acme-feeds
version: 1
created: 2026-11-28T00:00:00Z
expires: 30d
files:
  - src: ./docs
    dest: docs/
`))
	f.Add([]byte("name: acme\nchannel: acme-feeds\nversion: 2\nexpires: 2027-01-01T00:00:00Z\nissuers:\n  file: issuers.yaml\n"))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("name: a\nchannel: b\nversion: 0\nunknown: 1\nvex:\n  - {name: v, openvex: {url: http://x}}\n"))
	path := filepath.Join(f.TempDir(), "kit.yaml") // no sources exist next to it
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := kit.ParseSpec(path, data)
		again, err2 := kit.ParseSpec(path, bytes.Clone(data))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("parsing twice: %v, then %v", err, err2)
		}
		if err != nil {
			var es kit.SpecErrors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("refused with %T %v, want SpecErrors", err, err)
			}
			for _, e := range es {
				if e.File != path || e.Code == "" || e.Line < 0 {
					t.Fatalf("an error without its file or code: %+v", e)
				}
			}
			if err.Error() != err2.Error() {
				t.Fatalf("parsing twice gives other errors:\n%v\n%v", err, err2)
			}
			return
		}
		if spec.Name == "" || spec.Channel == "" || spec.Version < 1 {
			t.Fatalf("accepted a spec without name, channel or version: %+v", spec)
		}
		var names []string
		for _, s := range spec.Sources {
			names = append(names, s.Kind()+"/"+s.Name())
		}
		var names2 []string
		for _, s := range again.Sources {
			names2 = append(names2, s.Kind()+"/"+s.Name())
		}
		if !slices.Equal(names, names2) || spec.Name != again.Name || spec.Version != again.Version ||
			!spec.Created.Equal(again.Created) || spec.ExpiresIn != again.ExpiresIn {
			t.Fatalf("parsing twice gives other specs: %+v, %+v", spec, again)
		}
	})
}

// FuzzParseIssuers feeds arbitrary text to the issuers file parser, whose
// output a kit carries as trust/issuers.json. Whatever it accepts must
// round-trip: the canonical JSON decodes to the returned list, and that
// list written back as an issuers file is accepted and gives the very same
// bytes — trust/issuers.json is canonical, so one set of issuers has one
// digest.
func FuzzParseIssuers(f *testing.F) {
	f.Add([]byte(issuersYAML))
	f.Add([]byte("issuers:\n  - {id: a, tier: self}\n  - {id: a, tier: bogus}\n"))
	f.Add([]byte("issuers:\n  - id: x\n    tier: community\n    identities: [{issuer: 'https://i', subjectRegexp: '('}]\n"))
	f.Add([]byte("issuers: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, list, errs := kit.ParseIssuers(data)
		if len(errs) > 0 {
			if out != nil || list != nil {
				t.Fatal("refused, but returned output")
			}
			return
		}
		var decoded kit.IssuerList
		if err := json.Unmarshal(out, &decoded); err != nil {
			t.Fatalf("canonical output is not JSON: %v\n%s", err, out)
		}
		// An empty list and none are one thing in the JSON (omitempty).
		if d := cmp.Diff(list, &decoded, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("canonical JSON and list differ (-list +json):\n%s", d)
		}
		type ident struct {
			Issuer        string `json:"issuer"`
			Subject       string `json:"subject,omitempty"`
			SubjectRegexp string `json:"subjectRegexp,omitempty"`
		}
		type issuer struct {
			ID         string   `json:"id"`
			Name       string   `json:"name,omitempty"`
			Tier       string   `json:"tier"`
			Keys       []string `json:"keys,omitempty"`
			Identities []ident  `json:"identities,omitempty"`
		}
		var back struct {
			Issuers []issuer `json:"issuers"`
		}
		for _, is := range list.Issuers {
			b := issuer{ID: is.ID, Name: is.Name, Tier: is.Tier, Keys: is.Keys}
			for _, id := range is.Identities {
				b.Identities = append(b.Identities, ident(id))
			}
			back.Issuers = append(back.Issuers, b)
		}
		yml, err := json.Marshal(back) // JSON is YAML
		if err != nil {
			t.Fatal(err)
		}
		out2, _, errs := kit.ParseIssuers(yml)
		if len(errs) > 0 {
			t.Fatalf("the accepted issuers, written back, are refused: %v\n%s", errs, yml)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("not canonical: writing the issuers back changes the bytes:\n%s\n%s", out, out2)
		}
	})
}
