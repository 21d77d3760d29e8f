package vex_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/vex"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

const docA = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "Example Security <sec@example.com>",
  "timestamp": "2026-01-02T03:04:05.123456789+01:00",
  "version": 2,
  "statements": [
    {
      "vulnerability": {"name": "CVE-2026-0002", "aliases": ["GHSA-bbbb-cccc-dddd", "GO-2026-0002"]},
      "products": [
        {"@id": "pkg:oci/app@sha256:2222", "subcomponents": [{"@id": "pkg:golang/example.com/lib@v1.2.3"}, {"@id": "pkg:golang/example.com/other@v0.1.0"}]},
        {"@id": "pkg:oci/app@sha256:1111", "identifiers": {"purl": "pkg:oci/app@sha256:1111", "cpe23": "cpe:2.3:a:example:app:1:*:*:*:*:*:*:*"}, "hashes": {"sha-256": "1111", "sha-512": "2222"}}
      ],
      "status": "not_affected",
      "justification": "vulnerable_code_not_in_execute_path"
    },
    {
      "vulnerability": {"name": "CVE-2026-0001"},
      "timestamp": "2026-01-03T00:00:00Z",
      "products": [{"@id": "pkg:oci/app@sha256:1111"}],
      "status": "affected",
      "action_statement": "Upgrade to 1.2."
    }
  ]
}`

// docAReordered is docA with keys, whitespace, statements, products,
// subcomponents and aliases in another order, and times in another zone.
const docAReordered = `{"statements":[{"status":"affected","action_statement":"Upgrade to 1.2.","products":[{"@id":"pkg:oci/app@sha256:1111"}],"timestamp":"2026-01-02T19:00:00-05:00","vulnerability":{"name":"CVE-2026-0001"}},
{"justification":"vulnerable_code_not_in_execute_path","status":"not_affected","products":[{"hashes":{"sha-512":"2222","sha-256":"1111"},"identifiers":{"cpe23":"cpe:2.3:a:example:app:1:*:*:*:*:*:*:*","purl":"pkg:oci/app@sha256:1111"},"@id":"pkg:oci/app@sha256:1111"},{"subcomponents":[{"@id":"pkg:golang/example.com/other@v0.1.0"},{"@id":"pkg:golang/example.com/lib@v1.2.3"}],"@id":"pkg:oci/app@sha256:2222"}],
"vulnerability":{"aliases":["GO-2026-0002","GHSA-bbbb-cccc-dddd"],"name":"CVE-2026-0002"}}],
"version":2,"timestamp":"2026-01-02T02:04:05.123456789Z","author":"Example Security <sec@example.com>","@id":"https://example.com/vex/1","@context":"https://openvex.dev/ns/v0.2.0"}`

func TestCanonicalDigest(t *testing.T) {
	a, err := vex.ParseOpenVEX([]byte(docA))
	if err != nil {
		t.Fatal(err)
	}
	b, err := vex.ParseOpenVEX([]byte(docAReordered))
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest == b.Digest {
		t.Fatal("the two test documents have the same bytes")
	}
	if a.CanonicalDigest != b.CanonicalDigest {
		t.Errorf("canonical digests differ for documents that differ only in order, whitespace and time zone:\n%s\n%s", a.CanonicalDigest, b.CanonicalDigest)
	}
	// Stable across calls (go-vex's CanonicalHash ranges over the hashes
	// and identifiers maps).
	for range 20 {
		if d, _ := vex.CanonicalDigest(a.OpenVEX); d != a.CanonicalDigest {
			t.Fatalf("digest changed between calls: %s vs %s", d, a.CanonicalDigest)
		}
	}
	for name, change := range map[string][2]string{
		"status":          {`"status": "affected"`, `"status": "under_investigation"`},
		"sub-second time": {`05.123456789+01:00`, `05.123456788+01:00`},
		"product":         {`sha256:2222`, `sha256:3333`},
		"alias":           {`GO-2026-0002`, `GO-2026-0003`},
		"author":          {`Example Security`, `Example Sec`},
		"subcomponent":    {`lib@v1.2.3`, `lib@v1.2.4`},
	} {
		c, err := vex.ParseOpenVEX([]byte(strings.Replace(docA, change[0], change[1], 1)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.CanonicalDigest == a.CanonicalDigest {
			t.Errorf("changing the %s does not change the canonical digest", name)
		}
	}
}

func TestParseOpenVEXNormalises(t *testing.T) {
	doc, err := vex.ParseOpenVEX([]byte(docA))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Statements) != 2 || doc.Statements[0].Vulnerability != "CVE-2026-0001" {
		t.Fatalf("statements not sorted by vulnerability: %+v", doc.Statements)
	}
	s := doc.Statements[1]
	if s.Status != openvex.StatusNotAffected || s.Justification != openvex.VulnerableCodeNotInExecutePath ||
		strings.Join(s.Aliases, ",") != "GHSA-bbbb-cccc-dddd,GO-2026-0002" || s.Issuer != "Example Security <sec@example.com>" {
		t.Errorf("statement %+v", s)
	}
	if got := s.Timestamp.String(); got != "2026-01-02 02:04:05.123456789 +0000 UTC" {
		t.Errorf("statement without a timestamp got %s, want the document's, in UTC", got)
	}
	p := s.Products[0]
	if p.ID != "pkg:oci/app@sha256:1111" || p.PURL != p.ID || p.CPE == "" || strings.Join(p.Hashes, ",") != "sha-256:1111,sha-512:2222" {
		t.Errorf("product %+v", p)
	}
	if sub := s.Products[1].Subcomponents; len(sub) != 2 || sub[0].PURL != "pkg:golang/example.com/lib@v1.2.3" {
		t.Errorf("subcomponents %+v", sub)
	}
	if doc.Version != "2" || doc.ID != "https://example.com/vex/1" || s.DocumentDigest != doc.Digest {
		t.Errorf("document %+v", doc)
	}
}

func TestParseOpenVEXRefuses(t *testing.T) {
	ctx := `"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "A", "timestamp": "2026-01-01T00:00:00Z", "version": 1`
	stmt := `{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:a/b@1"}], "status": "fixed"}`
	cases := []struct {
		name, doc string
		want      error
		field     string
	}{
		{"not json", `{"@context": `, vex.ErrMalformed, ""},
		{"array", `[]`, vex.ErrMalformed, ""},
		{"duplicate key", `{` + ctx + `, "author": "B", "statements": [` + stmt + `]}`, vex.ErrMalformed, ""},
		{"header under metadata", `{"metadata": {` + ctx + `}, "statements": [` + stmt + `]}`, vex.ErrNestedHeader, "metadata"},
		{"header under document", `{"document": {` + ctx + `, "statements": [` + stmt + `]}}`, vex.ErrNestedHeader, "document"},
		{"no context", `{"author": "A", "statements": [` + stmt + `]}`, vex.ErrNotOpenVEX, "@context"},
		{"foreign context", `{"@context": "https://cyclonedx.org/", "author": "A", "statements": [` + stmt + `]}`, vex.ErrNotOpenVEX, "@context"},
		{"future version", `{"@context": "https://openvex.dev/ns/v9.0.0", "author": "A", "statements": [` + stmt + `]}`, vex.ErrUnsupportedVersion, "@context"},
		{"no author", `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "statements": [` + stmt + `]}`, vex.ErrMissingField, "author"},
		{"empty author", `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": " ", "statements": [` + stmt + `]}`, vex.ErrMissingField, "author"},
		{"no statements", `{` + ctx + `}`, vex.ErrMissingField, "statements"},
		{"empty statements", `{` + ctx + `, "statements": []}`, vex.ErrMissingField, "statements"},
		{"no vulnerability", `{` + ctx + `, "statements": [{"products": [{"@id": "p"}], "status": "fixed"}]}`, vex.ErrMissingField, "statements[0].vulnerability"},
		{"bad status", `{` + ctx + `, "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "maybe"}]}`, vex.ErrInvalidField, "statements[0].status"},
		{"bad justification", `{` + ctx + `, "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "not_affected", "justification": "trust_me"}]}`, vex.ErrInvalidField, "statements[0].justification"},
		{"anonymous product", `{` + ctx + `, "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [{"purl": "pkg:a/b@1"}], "status": "fixed"}]}`, vex.ErrMissingField, "statements[0].products[0]"},
		{"string version in v0.2.0", `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "A", "version": "1", "statements": [` + stmt + `]}`, vex.ErrMalformed, ""},
		{"bad time", `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "A", "timestamp": "2015-06-01 19:59:00 UTC", "statements": [` + stmt + `]}`, vex.ErrMalformed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := vex.ParseOpenVEX([]byte(c.doc))
			var de *vex.DocumentError
			if !errors.Is(err, c.want) || !errors.As(err, &de) || de.Field != c.field {
				t.Fatalf("got %v, want %v on field %q", err, c.want, c.field)
			}
		})
	}
}

func TestParseUnknownFormat(t *testing.T) {
	if _, err := vex.Parse("cyclonedx", []byte(docA)); !errors.Is(err, vex.ErrUnknownFormat) {
		t.Errorf("got %v", err)
	}
	if d, err := vex.Parse(vex.FormatOpenVEX, []byte(docA)); err != nil || d.Format != vex.FormatOpenVEX {
		t.Errorf("got %v %v", d, err)
	}
}
