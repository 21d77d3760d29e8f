//go:build conformance

// Tests against the real-data corpus kept beside the repository (set
// FERRY_CORPUS, or it is looked for at ../../shared/corpus); make
// conformance runs them.

package vex_test

import (
	"encoding/json"
	"testing"

	"github.com/ferry-dev/ferry/vex"
	"github.com/gocsaf/csaf/v3/csaf"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

// TestCSAFAgainstGocsaf reads every carried corpus CSAF document a second
// time with github.com/gocsaf/csaf/v3's model and checks that each product
// gets the status of the list the library sees it in, and the name, purl
// and cpe the library resolves for it. The library is the reference here;
// it is not used in the parser itself (see csaf.go for why).
func TestCSAFAgainstGocsaf(t *testing.T) {
	statusOf := map[string]openvex.Status{
		"known_affected": openvex.StatusAffected, "first_affected": openvex.StatusAffected, "last_affected": openvex.StatusAffected,
		"known_not_affected": openvex.StatusNotAffected, "fixed": openvex.StatusFixed, "first_fixed": openvex.StatusFixed,
		"under_investigation": openvex.StatusUnderInvestigation,
	}
	checked := 0
	for _, rel := range corpusFiles(t, "csaf") {
		if _, skip := notCSAF[rel]; skip {
			continue
		}
		if _, refused := csafRefused[rel]; refused {
			continue
		}
		data := readCorpus(t, rel)
		var adv csaf.Advisory
		// Not csaf.LoadAdvisory: its strict decoding refuses the schema's
		// own spelling "acknowledgments" (v3.7.0 expects
		// "acknowledgements"), which real Red Hat and BSI documents use.
		if err := json.Unmarshal(data, &adv); err != nil {
			t.Fatalf("%s: gocsaf: %v", rel, err)
		}
		if err := adv.Validate(); err != nil {
			t.Fatalf("%s: gocsaf Validate: %v", rel, err)
		}
		type ref struct{ name, purl, cpe string }
		products := map[string]ref{}
		add := func(f *csaf.FullProductName) {
			r := ref{name: deref(f.Name)}
			if h := f.ProductIdentificationHelper; h != nil {
				if h.PURL != nil {
					r.purl = string(*h.PURL)
				}
				if h.CPE != nil {
					r.cpe = string(*h.CPE)
				}
			}
			products[string(*f.ProductID)] = r
		}
		var walk func(csaf.Branches)
		walk = func(bs csaf.Branches) {
			for _, b := range bs {
				if b.Product != nil {
					add(b.Product)
				}
				walk(b.Branches)
			}
		}
		if pt := adv.ProductTree; pt != nil {
			walk(pt.Branches)
			if pt.FullProductNames != nil {
				for _, f := range *pt.FullProductNames {
					add(f)
				}
			}
			if pt.RelationShips != nil {
				for _, r := range *pt.RelationShips {
					add(r.FullProductName)
				}
			}
		}
		want := map[[2]string]openvex.Status{} // (cve, product id) → status
		for _, v := range adv.Vulnerabilities {
			ps := v.ProductStatus
			if ps == nil || v.CVE == nil {
				continue
			}
			for name, list := range map[string]*csaf.Products{
				"known_affected": ps.KnownAffected, "first_affected": ps.FirstAffected, "last_affected": ps.LastAffected,
				"known_not_affected": ps.KnownNotAffected, "fixed": ps.Fixed, "first_fixed": ps.FirstFixed,
				"under_investigation": ps.UnderInvestigation,
			} {
				if list == nil {
					continue
				}
				for _, id := range *list {
					want[[2]string{string(*v.CVE), string(*id)}] = statusOf[name]
				}
			}
		}
		doc, err := vex.ParseCSAF(data)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		got := 0
		for _, s := range doc.Statements {
			for _, p := range s.Products {
				got++
				k := [2]string{s.Vulnerability, p.ID}
				if w, ok := want[k]; !ok || w != s.Status {
					t.Errorf("%s: %v is %s, gocsaf says %q", rel, k, s.Status, w)
				}
				if r := products[p.ID]; r != (ref{p.Name, p.PURL, p.CPE}) {
					t.Errorf("%s: product %s resolves to %+v, gocsaf to %+v", rel, p.ID, ref{p.Name, p.PURL, p.CPE}, r)
				}
			}
		}
		if got != len(want) {
			t.Errorf("%s: %d (vulnerability, product) statuses, gocsaf %d", rel, got, len(want))
		}
		checked++
	}
	if checked < 15 {
		t.Errorf("checked %d documents, expected at least 15", checked)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
