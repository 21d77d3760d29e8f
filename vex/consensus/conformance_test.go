package consensus_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/vex"
	"github.com/ferry-dev/ferry/vex/consensus"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// realInputs parses the real documents of testdata; the site's own file
// is local (tier self).
func realInputs(t testing.TB) []consensus.Input {
	t.Helper()
	var out []consensus.Input
	for _, f := range []string{
		"aquasecurity__trivy__trivy.openvex.json",
		"k3s-io__kine__scan.openvex.json",
		"inspektor-gadget__inspektor-gadget__golang.vex.json",
		"inspektor-gadget__inspektor-gadget__v0.42.0.vex.json",
		"rhsa-2021_5186.json",
		"site-affected.openvex.json",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		format := vex.FormatOpenVEX
		if strings.HasPrefix(f, "rhsa") {
			format = vex.FormatCSAF
		}
		doc, err := vex.Parse(format, data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		origin := consensus.OriginStore
		if strings.HasPrefix(f, "site-") {
			origin = consensus.OriginLocal
		}
		for _, s := range doc.Statements {
			out = append(out, consensus.Input{Statement: s, Origin: origin, DocumentVersion: doc.Version, Source: f})
		}
	}
	return out
}

func realIssuers(t testing.TB) *consensus.Issuers {
	is, err := consensus.NewIssuers([]consensus.Issuer{
		{ID: "Aqua Security", Tier: consensus.TierVendor},
		{ID: "https://www.redhat.com", Name: "Red Hat Product Security", Tier: consensus.TierVendor},
		{ID: "Inspektor Gadget Security Team <security@inspektor-gadget.io>", Tier: consensus.TierVendor},
	})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// realAliases are alias groups as the store's advisories give them
// (GHSA-hcg3-q754-cr77 is CVE-2025-22869's GitHub advisory; kine's
// statement does not name it).
var realAliases = [][]string{{"GO-2025-3487", "CVE-2025-22869", "GHSA-hcg3-q754-cr77"}}

var realAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	trivy = "pkg:golang/github.com/aquasecurity/trivy"
	kine  = "pkg:golang/github.com/k3s-io/kine"
	hive  = "8Base-RHOSE-4.6:openshift4/ose-metering-hive:v4.6.0-202112160147.p0.gf139e12.assembly.stream"
	opera = "8Base-RHOSE-4.6:openshift4/ose-metering-ansible-operator:v4.6.0-202112161349.p0.gd74112d.assembly.art3595"
)

func TestConformanceRealDocuments(t *testing.T) {
	inputs := realInputs(t)
	tests := []struct {
		name     string
		q        consensus.Query
		local    bool // with the site's own statement
		status   string
		issuer   string
		just     string
		dropped  string // a reason code some statement must carry
		resolved string
	}{
		{"trivy: Aqua (vendor) says helm inside trivy is not reachable: not_affected",
			consensus.Query{IDs: []string{"GO-2024-2575"}, Product: "pkg:golang/helm.sh/helm/v3@v3.14.0", Within: trivy}, false,
			consensus.StatusNotAffected, "Aqua Security", "vulnerable_code_not_in_execute_path", "", ""},
		{"alias join: the CVE the statement lists as an alias finds the GO statement",
			consensus.Query{IDs: []string{"CVE-2024-26147"}, Product: "pkg:golang/helm.sh/helm/v3", Within: trivy}, false,
			consensus.StatusNotAffected, "Aqua Security", "vulnerable_code_not_in_execute_path", "", ""},
		{"alias join through the advisories: a GHSA id the statement does not name finds kine's GO-2025-3487",
			consensus.Query{IDs: []string{"GHSA-hcg3-q754-cr77"}, Product: "pkg:golang/golang.org/x/crypto@v0.31.0", Within: kine}, false,
			consensus.StatusNotAffected, "Rancher Security team", "vulnerable_code_not_present", "", ""},
		{"subcomponent scope: Aqua's statement about helm does not cover circl, another package of trivy",
			consensus.Query{IDs: []string{"GO-2024-2575"}, Product: "pkg:golang/github.com/cloudflare/circl@v1.3.7", Within: trivy}, false,
			consensus.StatusUnknown, "", "", "", ""},
		{"subcomponent scope: the statement about helm inside trivy says nothing about helm elsewhere",
			consensus.Query{IDs: []string{"GO-2024-2575"}, Product: "pkg:golang/helm.sh/helm/v3@v3.14.0"}, false,
			consensus.StatusUnknown, "", "", "", ""},
		{"kine names x/crypto v0.27.0 for GO-2024-3321: v0.28.0 is not covered",
			consensus.Query{IDs: []string{"GO-2024-3321"}, Product: "pkg:golang/golang.org/x/crypto@v0.28.0", Within: kine}, false,
			consensus.StatusUnknown, "", "", "", ""},
		{"kine's unlisted issuer (community) decides x/crypto v0.27.0 for GO-2024-3321",
			consensus.Query{IDs: []string{"CVE-2024-45337"}, Product: "pkg:golang/golang.org/x/crypto@v0.27.0", Within: kine}, false,
			consensus.StatusNotAffected, "Rancher Security team", "vulnerable_code_not_present", "", ""},
		{"inspektor-gadget: the newer of two documents of one issuer decides, the older is superseded",
			consensus.Query{IDs: []string{"CVE-2025-54388"}, Product: "pkg:golang/github.com/inspektor-gadget/inspektor-gadget@v0.42.0"}, false,
			consensus.StatusNotAffected, "Inspektor Gadget Security Team <security@inspektor-gadget.io>", "vulnerable_code_not_in_execute_path", consensus.ReasonSuperseded, ""},
		{"inspektor-gadget: v0.42.0 is not among the versions named for CVE-2025-52881",
			consensus.Query{IDs: []string{"CVE-2025-52881"}, Product: "pkg:golang/github.com/inspektor-gadget/inspektor-gadget@v0.42.0"}, false,
			consensus.StatusUnknown, "", "", "", ""},
		{"Red Hat CSAF: the hive image is fixed",
			consensus.Query{IDs: []string{"CVE-2021-4104"}, Product: hive}, false,
			consensus.StatusFixed, "https://www.redhat.com", "", "", ""},
		{"Red Hat CSAF: found by the relationship's component too",
			consensus.Query{IDs: []string{"CVE-2021-4125"}, Product: "openshift4/ose-metering-hive:v4.6.0-202112160147.p0.gf139e12.assembly.stream"}, false,
			consensus.StatusFixed, "https://www.redhat.com", "", "", ""},
		{"Red Hat CSAF known_not_affected with a vendor_fix remediation but no flag or impact: dropped, unknown",
			consensus.Query{IDs: []string{"CVE-2021-4104"}, Product: opera}, false,
			consensus.StatusUnknown, "", "", consensus.ReasonUnjustified, ""},
		{"two tiers disagree: the site (self) says affected, Aqua (vendor) dissents",
			consensus.Query{IDs: []string{"GO-2024-2575"}, Product: "pkg:golang/helm.sh/helm/v3@v3.14.0", Within: trivy}, true,
			consensus.StatusAffected, consensus.LocalIssuer, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := inputs
			if !tc.local {
				in = nil
				for _, x := range inputs {
					if x.Origin != consensus.OriginLocal {
						in = append(in, x)
					}
				}
			}
			rep := consensus.Evaluate(in, realIssuers(t), consensus.Options{At: realAt, Aliases: realAliases, Queries: []consensus.Query{tc.q}})
			r := rep.Results[0]
			if r.Status != tc.status || r.Issuer != tc.issuer || r.Justification != tc.just {
				var buf bytes.Buffer
				rep.WriteExplain(&buf)
				t.Fatalf("got %s by %q (%s), want %s by %q (%s)\n%s", r.Status, r.Issuer, r.Justification, tc.status, tc.issuer, tc.just, buf.String())
			}
			if tc.local && r.Dissent != 1 {
				t.Errorf("dissent = %d, want 1 (Aqua)", r.Dissent)
			}
			if tc.dropped != "" {
				found := false
				for _, c := range r.Statements {
					found = found || c.Reason == tc.dropped
				}
				if !found {
					t.Errorf("no statement dropped with %s", tc.dropped)
				}
			}
		})
	}
}

// TestExportValidatesAgainstSchema checks the export of the real
// documents against the OpenVEX JSON schema, and that it is the same
// bytes whatever the order of the input.
func TestExportValidatesAgainstSchema(t *testing.T) {
	inputs := realInputs(t)
	rep := consensus.Evaluate(inputs, realIssuers(t), consensus.Options{At: realAt, Aliases: realAliases})
	doc, err := rep.OpenVEX()
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	f, err := os.Open(filepath.Join("testdata", "openvex_json_schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schema, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	const id = "https://github.com/openvex/spec/openvex_json_schema_0.2.0.json"
	if err := c.AddResource(id, schema); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("the export is not valid OpenVEX: %v\n%s", err, doc)
	}
	// The export parses back, and says what the consensus says.
	back, err := vex.ParseOpenVEX(doc)
	if err != nil {
		t.Fatal(err)
	}
	decided := 0
	for _, r := range rep.Results {
		if r.Status != consensus.StatusUnknown && !strings.Contains(r.Product, " vers:") {
			decided++
		}
	}
	if len(back.Statements) != decided {
		t.Errorf("%d statements exported, %d decided", len(back.Statements), decided)
	}
	// An invalid document fails the schema: the check can fail.
	bad := bytes.Replace(doc, []byte(`"status": "not_affected"`), []byte(`"status": "unaffected"`), 1)
	if v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bad)); sch.Validate(v) == nil {
		t.Error("the schema accepts an unknown status")
	}
	// Shuffled input, same bytes.
	for i := range 20 {
		sh := append([]consensus.Input(nil), inputs...)
		for j := range sh {
			k := (j*7 + i*13) % len(sh)
			sh[j], sh[k] = sh[k], sh[j]
		}
		again, err := consensus.Evaluate(sh, realIssuers(t), consensus.Options{At: realAt.Add(time.Hour), Aliases: realAliases}).OpenVEX()
		if err != nil || !bytes.Equal(doc, again) {
			t.Fatalf("shuffle %d: another export (%v)", i, err)
		}
	}
}

func TestNothingToExport(t *testing.T) {
	if _, err := consensus.Evaluate(nil, nil, consensus.Options{}).OpenVEX(); err != consensus.ErrNothingToExport {
		t.Fatalf("err = %v", err)
	}
}

// TestCSAFVersionRange: a CSAF product under a product_version_range
// branch is matched against the range, not read as every version.
func TestCSAFVersionRange(t *testing.T) {
	doc, err := vex.ParseCSAF([]byte(`{"document": {"category": "csaf_vex", "csaf_version": "2.0",
	  "publisher": {"category": "vendor", "name": "Example PSIRT", "namespace": "https://psirt.example.com"},
	  "title": "t", "tracking": {"id": "EX-1", "current_release_date": "2026-02-01T10:00:00Z", "version": "1"}},
	  "product_tree": {"branches": [{"category": "vendor", "name": "Example", "branches": [{"category": "product_name", "name": "lib", "branches": [
	    {"category": "product_version_range", "name": "vers:npm/>=1.0.0|<2.0.0", "product": {"name": "lib 1.x", "product_id": "LIB-1X", "product_identification_helper": {"purl": "pkg:npm/lib"}}},
	    {"category": "product_version", "name": "2.0.0", "product": {"name": "lib 2.0.0", "product_id": "LIB-2", "product_identification_helper": {"purl": "pkg:npm/lib@2.0.0"}}}]}]}]},
	  "vulnerabilities": [{"cve": "CVE-2026-2222", "product_status": {"known_affected": ["LIB-1X"], "fixed": ["LIB-2"]},
	    "remediations": [{"category": "vendor_fix", "details": "Upgrade to 2.0.0.", "product_ids": ["LIB-1X"]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var inputs []consensus.Input
	for _, s := range doc.Statements {
		inputs = append(inputs, consensus.Input{Statement: s})
	}
	for version, want := range map[string]string{"1.5.0": consensus.StatusAffected, "2.0.0": consensus.StatusFixed, "2.5.0": consensus.StatusUnknown, "0.9.0": consensus.StatusUnknown} {
		rep := consensus.Evaluate(inputs, nil, consensus.Options{Queries: []consensus.Query{{IDs: []string{"CVE-2026-2222"}, Product: "pkg:npm/lib@" + version}}})
		if got := rep.Results[0].Status; got != want {
			t.Errorf("lib@%s: %s, want %s", version, got, want)
		}
	}
}
