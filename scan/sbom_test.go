package scan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSBOMNothingEvaluatedFailsClosed: an SBOM whose components scan
// cannot map (pkg:generic, pkg:oci) is not reported clean: every component
// is listed as not evaluated, the report says nothing was evaluated, and
// --fail-on fails on it whatever the threshold.
func TestSBOMNothingEvaluatedFailsClosed(t *testing.T) {
	dir := t.TempDir()
	bom := `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
	 {"type":"container","bom-ref":"img","name":"app","purl":"pkg:oci/app@sha256%3A` + strings.Repeat("ab", 32) + `"},
	 {"type":"file","bom-ref":"f1","name":"tool","version":"1.0","purl":"pkg:generic/tool@1.0"}]}`
	name := filepath.Join(dir, "generic.cdx.json")
	if err := os.WriteFile(name, []byte(bom), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Scan(context.Background(), "sbom:"+name, testAdvisories(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Summary.NothingEvaluated {
		t.Error("Summary.NothingEvaluated is false")
	}
	if len(rep.NotEvaluated) != 2 {
		t.Errorf("not evaluated: %+v, want both components", rep.NotEvaluated)
	}
	why := rep.Fails(RatingLow)
	if len(why) != 1 || !strings.Contains(why[0], StatusNothingEvaluated) {
		t.Errorf("Fails(LOW) = %q, want %s", why, StatusNothingEvaluated)
	}
	var out bytes.Buffer
	if err := Write(&out, rep, "table"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "No findings.") || !strings.Contains(out.String(), StatusNothingEvaluated) {
		t.Errorf("table:\n%s", out.String())
	}
}

// TestSBOMGoStdlib: the Go standard library as SBOM tools name it
// (cyclonedx-gomod pkg:golang/std@go1.22.0, syft pkg:golang/stdlib@1.22.0)
// matches the vulndb's stdlib records; a version scan cannot read is not
// evaluated.
func TestSBOMGoStdlib(t *testing.T) {
	for _, c := range []struct {
		purl string
		ok   bool
	}{
		{"pkg:golang/std@go1.22.0", true},
		{"pkg:golang/std@1.22.0", true},
		{"pkg:golang/stdlib@go1.22.0", true},
		{"pkg:golang/stdlib@v1.22.0", true},
		{"pkg:golang/std@devel", false},
	} {
		t.Run(c.purl, func(t *testing.T) {
			p, ok, why := fromPURL(c.purl)
			if ok != c.ok {
				t.Fatalf("ok = %v (%s), want %v", ok, why, c.ok)
			}
			if !ok {
				return
			}
			if p.Ecosystem != "Go" || p.Name != "stdlib" || p.Version != "1.22.0" {
				t.Errorf("got %s %s %s, want Go stdlib 1.22.0", p.Ecosystem, p.Name, p.Version)
			}
			rep, err := MatchInventory(context.Background(), &InventoryResult{Packages: []Package{p}}, testAdvisories(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if ids := ids(rep.Findings); len(ids) == 0 {
				t.Error("no finding for stdlib 1.22.0")
			}
		})
	}
}

// TestCanonicalGoPURL: packages carry the canonical purl, whatever
// spelling the SBOM used, and scan's own extractors write it.
func TestCanonicalGoPURL(t *testing.T) {
	const want = "pkg:golang/golang.org/x/text@v0.3.5"
	for _, in := range []string{want, "pkg:golang/golang.org%2Fx%2Ftext@v0.3.5"} {
		p, ok, why := fromPURL(in)
		if !ok || p.PURL != want || p.Name != "golang.org/x/text" {
			t.Errorf("fromPURL(%q) = %+v %v %s", in, p, ok, why)
		}
	}
	if got := purl("golang", "", "golang.org/x/text", "v0.3.5", nil); got != want {
		t.Errorf("purl = %q, want %q", got, want)
	}
}
