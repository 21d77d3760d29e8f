package vex_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/vex"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

const csafHead = `"document": {"category": "csaf_vex", "csaf_version": "2.0",
  "publisher": {"category": "vendor", "name": "Example PSIRT", "namespace": "https://psirt.example.com"},
  "title": "t", "tracking": {"id": "EX-2026-1", "current_release_date": "2026-02-01T10:00:00.000Z", "initial_release_date": "2026-01-01T00:00:00Z",
  "revision_history": [{"date": "2026-01-01T00:00:00Z", "number": "2", "summary": "s"}], "status": "final", "version": "2"}}`

const csafTree = `"product_tree": {
  "branches": [{"category": "vendor", "name": "Example", "branches": [
    {"category": "product_version", "name": "1.0", "product": {"name": "App 1.0", "product_id": "APP-1", "product_identification_helper": {"purl": "pkg:generic/app@1.0"}}},
    {"category": "product_version", "name": "2.0", "product": {"name": "App 2.0", "product_id": "APP-2"}}]}],
  "full_product_names": [{"name": "Platform X", "product_id": "PLAT", "product_identification_helper": {"cpe": "cpe:/o:example:x:9"}},
    {"name": "Lib 3", "product_id": "LIB-3", "product_identification_helper": {"purl": "pkg:golang/example.com/lib@v3.0.0", "hashes": [{"filename": "lib", "file_hashes": [{"algorithm": "sha256", "value": "abcdef0123456789abcdef0123456789"}]}]}}],
  "relationships": [{"category": "installed_on", "full_product_name": {"name": "App 2.0 on Platform X", "product_id": "APP-2:PLAT"}, "product_reference": "APP-2", "relates_to_product_reference": "PLAT"}],
  "product_groups": [{"group_id": "G-OLD", "product_ids": ["APP-1", "LIB-3"]}]}`

func csafDoc(vulns string) []byte {
	return []byte("{" + csafHead + ",\n" + csafTree + `, "vulnerabilities": [` + vulns + "]}")
}

func TestParseCSAFMapping(t *testing.T) {
	doc, err := vex.ParseCSAF(csafDoc(`{
	  "cve": "CVE-2026-1111", "ids": [{"system_name": "GHSA", "text": "GHSA-aaaa-bbbb-cccc"}],
	  "product_status": {"first_affected": ["APP-2:PLAT"], "known_not_affected": ["APP-1", "LIB-3"], "first_fixed": ["PLAT"], "recommended": ["PLAT"]},
	  "flags": [{"label": "vulnerable_code_not_in_execute_path", "group_ids": ["G-OLD"]}],
	  "threats": [{"category": "impact", "details": "The parser is never called.", "product_ids": ["LIB-3"]}, {"category": "impact", "details": "Important"}],
	  "remediations": [{"category": "vendor_fix", "details": "Upgrade to 2.1.", "url": "https://example.com/2.1", "product_ids": ["APP-2:PLAT"]}]
	}, {
	  "ids": [{"system_name": "Example", "text": "EX-VULN-7"}],
	  "product_status": {"under_investigation": ["APP-1"], "last_affected": ["APP-2"], "known_affected": ["APP-2"]}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		vuln     string
		status   openvex.Status
		products string
		just     openvex.Justification
		impact   string
		action   string
	}
	var got []row
	for _, s := range doc.Statements {
		var ids []string
		for _, p := range s.Products {
			ids = append(ids, p.ID)
		}
		got = append(got, row{s.Vulnerability, s.Status, strings.Join(ids, ","), s.Justification, s.ImpactStatement, s.ActionStatement})
	}
	want := []row{
		{"CVE-2026-1111", openvex.StatusAffected, "APP-2:PLAT", "", "", "vendor_fix: Upgrade to 2.1. (https://example.com/2.1)"},
		{"CVE-2026-1111", openvex.StatusFixed, "PLAT", "", "", ""},
		{"CVE-2026-1111", openvex.StatusNotAffected, "APP-1", openvex.VulnerableCodeNotInExecutePath, "", ""},
		{"CVE-2026-1111", openvex.StatusNotAffected, "LIB-3", openvex.VulnerableCodeNotInExecutePath, "The parser is never called.", ""},
		{"EX-VULN-7", openvex.StatusAffected, "APP-2", "", "", ""},
		{"EX-VULN-7", openvex.StatusUnderInvestigation, "APP-1", "", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("statements:\n%+v\nwant\n%+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("statement %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	s := doc.Statements[0]
	if strings.Join(s.Aliases, ",") != "GHSA-aaaa-bbbb-cccc" || s.Issuer != "Example PSIRT" || s.IssuerNamespace != "https://psirt.example.com" ||
		s.Timestamp.Format("2006-01-02T15:04:05Z07:00") != "2026-02-01T10:00:00Z" || s.DocumentID != "EX-2026-1" || s.DocumentDigest != doc.Digest {
		t.Errorf("statement metadata %+v", s)
	}
	p := s.Products[0]
	if p.Name != "App 2.0 on Platform X" || p.Relationship == nil || p.Relationship.Category != "installed_on" ||
		p.Relationship.Component.Name != "App 2.0" || p.Relationship.Platform.CPE != "cpe:/o:example:x:9" {
		t.Errorf("relationship product %+v", p)
	}
	lib := doc.Statements[3].Products[0]
	if lib.PURL != "pkg:golang/example.com/lib@v3.0.0" || len(lib.Hashes) != 1 || lib.Hashes[0] != "sha256:abcdef0123456789abcdef0123456789" {
		t.Errorf("helper not carried: %+v", lib)
	}
}

func TestParseCSAFRefuses(t *testing.T) {
	vuln := `{"cve": "CVE-2026-1", "product_status": {"fixed": ["APP-1"]}}`
	cases := []struct {
		name  string
		doc   string
		want  error
		field string
	}{
		{"openvex", docA, vex.ErrNotCSAF, "document.csaf_version"},
		{"csaf 2.1", strings.Replace(string(csafDoc(vuln)), `"csaf_version": "2.0"`, `"csaf_version": "2.1"`, 1), vex.ErrNotCSAF, "document.csaf_version"},
		{"informational", strings.Replace(string(csafDoc(vuln)), `"csaf_vex"`, `"csaf_informational_advisory"`, 1), vex.ErrCSAFCategory, "document.category"},
		{"no vulnerabilities", string(csafDoc("")), vex.ErrMissingField, "vulnerabilities"},
		{"only recommended", string(csafDoc(`{"cve": "CVE-2026-1", "product_status": {"recommended": ["APP-1"]}}`)), vex.ErrMissingField, "vulnerabilities[].product_status"},
		{"no publisher name", strings.Replace(string(csafDoc(vuln)), `"name": "Example PSIRT"`, `"name": ""`, 1), vex.ErrMissingField, "document.publisher.name"},
		{"bad release date", strings.Replace(string(csafDoc(vuln)), `2026-02-01T10:00:00.000Z`, `yesterday`, 1), vex.ErrInvalidField, "document.tracking.current_release_date"},
		{"undefined product", string(csafDoc(`{"cve": "CVE-2026-1", "product_status": {"fixed": ["APP-9"]}}`)), vex.ErrUnknownProduct, "vulnerabilities[0].product_status.fixed[0]"},
		{"undefined group", string(csafDoc(`{"cve": "CVE-2026-1", "product_status": {"known_not_affected": ["APP-1"]}, "flags": [{"label": "component_not_present", "group_ids": ["G-NONE"]}]}`)), vex.ErrUnknownProduct, "vulnerabilities[0].flags[0].group_ids[0]"},
		{"two statuses", string(csafDoc(`{"cve": "CVE-2026-1", "product_status": {"fixed": ["APP-1"], "known_affected": ["APP-1"]}}`)), vex.ErrContradiction, "vulnerabilities[0].product_status.fixed[0]"},
		{"two flags", string(csafDoc(`{"cve": "CVE-2026-1", "product_status": {"known_not_affected": ["APP-1"]}, "flags": [{"label": "component_not_present", "product_ids": ["APP-1"]}, {"label": "vulnerable_code_not_present", "group_ids": ["G-OLD"]}]}`)), vex.ErrContradiction, "vulnerabilities[0].flags[1]"},
		{"bad flag", string(csafDoc(`{"cve": "CVE-2026-1", "product_status": {"known_not_affected": ["APP-1"]}, "flags": [{"label": "not_my_problem", "product_ids": ["APP-1"]}]}`)), vex.ErrInvalidField, "vulnerabilities[0].flags[0].label"},
		{"no vulnerability id", string(csafDoc(`{"product_status": {"fixed": ["APP-1"]}}`)), vex.ErrMissingField, "vulnerabilities[0].cve"},
		{"product defined twice", strings.Replace(string(csafDoc(vuln)), `"product_id": "LIB-3"`, `"product_id": "APP-1"`, 1), vex.ErrContradiction, "product_tree.full_product_names[1].product_id"},
		{"relationship to nothing", strings.Replace(string(csafDoc(vuln)), `"relates_to_product_reference": "PLAT"`, `"relates_to_product_reference": "Example"`, 1), vex.ErrUnknownProduct, "product_tree.relationships[0].relates_to_product_reference"},
		{"wrong type", strings.Replace(string(csafDoc(vuln)), `"fixed": ["APP-1"]`, `"fixed": "APP-1"`, 1), vex.ErrMalformed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := vex.ParseCSAF([]byte(c.doc))
			var de *vex.DocumentError
			if !errors.Is(err, c.want) || !errors.As(err, &de) || de.Field != c.field {
				t.Fatalf("got %v, want %v on field %q", err, c.want, c.field)
			}
		})
	}
}

func TestParseCSAFRelationshipCycle(t *testing.T) {
	tree := `"product_tree": {"full_product_names": [{"name": "P", "product_id": "P"}], "relationships": [
	  {"category": "default_component_of", "full_product_name": {"name": "A", "product_id": "A"}, "product_reference": "B", "relates_to_product_reference": "P"},
	  {"category": "default_component_of", "full_product_name": {"name": "B", "product_id": "B"}, "product_reference": "A", "relates_to_product_reference": "P"}]}`
	doc := "{" + csafHead + "," + tree + `, "vulnerabilities": [{"cve": "CVE-2026-1", "product_status": {"fixed": ["A"]}}]}`
	if _, err := vex.ParseCSAF([]byte(doc)); !errors.Is(err, vex.ErrInvalidField) || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("got %v, want a cycle error", err)
	}
}

// TestParseCSAFVersionRange: a product under a product_version_range
// branch carries its vers range, so that the consensus matches versions
// against it instead of treating the product as every version.
func TestParseCSAFVersionRange(t *testing.T) {
	doc, err := vex.ParseCSAF([]byte("{" + csafHead + `,
	  "product_tree": {"branches": [{"category": "vendor", "name": "Example", "branches": [{"category": "product_name", "name": "lib", "branches": [
	    {"category": "product_version_range", "name": "vers:npm/>=1.0.0|<2.0.0", "product": {"name": "lib 1.x", "product_id": "LIB-1X", "product_identification_helper": {"purl": "pkg:npm/lib"}}},
	    {"category": "product_version", "name": "2.0.0", "product": {"name": "lib 2.0.0", "product_id": "LIB-2", "product_identification_helper": {"purl": "pkg:npm/lib@2.0.0"}}}]}]}]},
	  "vulnerabilities": [{"cve": "CVE-2026-2222", "product_status": {"known_affected": ["LIB-1X"], "fixed": ["LIB-2"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ranges := map[string]string{}
	for _, s := range doc.Statements {
		for _, p := range s.Products {
			ranges[p.ID] = p.VersionRange
		}
	}
	if ranges["LIB-1X"] != "vers:npm/>=1.0.0|<2.0.0" || ranges["LIB-2"] != "" {
		t.Fatalf("version ranges %v", ranges)
	}
}
