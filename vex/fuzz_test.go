package vex_test

import (
	"slices"
	"testing"

	"github.com/ferry-dev/ferry/vex"
)

// corpusSeeds adds the documents of the corpus under dir as seeds; it
// does nothing unless the conformance build tag brings the corpus in
// (corpus_test.go).
var corpusSeeds = func(f *testing.F, dir string) {}

// addCorpusSeeds adds the corpus files under dir (with the conformance
// tag) and extra.
func addCorpusSeeds(f *testing.F, dir string, extra ...[]byte) {
	corpusSeeds(f, dir)
	for _, b := range extra {
		f.Add(b)
	}
}

// checkParsed holds for every document a parser accepts.
func checkParsed(t *testing.T, data []byte, doc *vex.Document, parse func([]byte) (*vex.Document, error)) {
	if len(doc.Statements) == 0 || doc.Issuer == "" {
		t.Fatalf("accepted a document with %d statements and issuer %q", len(doc.Statements), doc.Issuer)
	}
	again, err := parse(slices.Clone(data))
	if err != nil || again.CanonicalDigest != doc.CanonicalDigest || len(again.Statements) != len(doc.Statements) {
		t.Fatalf("parsing twice differs: %v", err)
	}
	sorted := slices.Clone(doc.Statements)
	vex.SortStatements(sorted)
	for i := range sorted {
		if sorted[i].Vulnerability != doc.Statements[i].Vulnerability || !sorted[i].Timestamp.Equal(doc.Statements[i].Timestamp) {
			t.Fatal("statements are not in SortStatements order")
		}
		if doc.Statements[i].DocumentDigest != doc.Digest || !doc.Statements[i].Status.Valid() {
			t.Fatalf("statement %d: %+v", i, doc.Statements[i])
		}
	}
}

func FuzzParseOpenVEX(f *testing.F) {
	addCorpusSeeds(f, "openvex", []byte(docA), []byte(docAReordered))
	addCorpusSeeds(f, "openvex-variant")
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := vex.ParseOpenVEX(data)
		if err != nil {
			return
		}
		checkParsed(t, data, doc, vex.ParseOpenVEX)
	})
}

func FuzzParseCSAF(f *testing.F) {
	addCorpusSeeds(f, "csaf", csafDoc(`{"cve": "CVE-2026-1", "product_status": {"fixed": ["APP-2:PLAT"], "known_not_affected": ["APP-1"]}, "flags": [{"label": "component_not_present", "group_ids": ["G-OLD"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := vex.ParseCSAF(data)
		if err != nil {
			return
		}
		checkParsed(t, data, doc, vex.ParseCSAF)
		for _, s := range doc.Statements {
			if len(s.Products) == 0 {
				t.Fatalf("CSAF statement without products: %+v", s)
			}
		}
	})
}
