package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/vex/consensus"
)

const vendorVEX = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://vendor.example/vex/1",
  "author": "https://vendor.example",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2026-0001"},
    "products": [{"@id": "pkg:golang/example.com/lib"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}`

const communityVEX = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://someone.example/vex/1",
  "author": "Someone",
  "timestamp": "2026-11-02T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "GO-2026-0001"},
    "products": [{"@id": "pkg:golang/example.com/lib@v1.0.0"}],
    "status": "affected",
    "action_statement": "upgrade"
  }, {
    "vulnerability": {"name": "CVE-2026-0002"},
    "products": [{"@id": "pkg:golang/example.com/other"}],
    "status": "under_investigation"
  }]
}`

const issuersJSON = `{"issuers":[{"id":"https://vendor.example","name":"Vendor","rank":1,"tier":"vendor"}],"schema":"ferry.dev/issuers/v1"}`

const localVEX = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://site.example/vex/1",
  "author": "Site",
  "timestamp": "2026-11-03T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2026-0002"},
    "products": [{"@id": "pkg:golang/example.com/other"}],
    "status": "maybe"
  }]
}`

// vexStore imports a kit with advisories, two VEX documents and an issuer
// list into a new store.
func vexStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	c := fixtures.NewChannel("feeds")
	files := map[string][]byte{
		"advisories/govulndb/osv.jsonl": []byte(
			`{"id":"GO-2026-0001","modified":"2026-11-01T00:00:00Z","aliases":["CVE-2026-0001"],"affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}` + "\n"),
		"vex/vendor/" + hexSHA256([]byte(vendorVEX)) + ".json":       []byte(vendorVEX),
		"vex/community/" + hexSHA256([]byte(communityVEX)) + ".json": []byte(communityVEX),
		"trust/issuers.json": []byte(issuersJSON),
	}
	kitPath := filepath.Join(dir, "feeds.kit.tar.zst")
	if err := os.WriteFile(kitPath, fixtures.Kit(c, files, fixtures.KitOptions{}), 0o644); err != nil {
		t.Fatal(err)
	}
	rootPath := filepath.Join(dir, "root.json")
	if err := os.WriteFile(rootPath, c.Root(), 0o644); err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, "store")
	if out, errOut, code := runFerry(t, "import", kitPath, "--store", st, "--root", rootPath, "--at=2026-11-28T01:00:00Z", "--reason", "test clock"); code != ExitOK {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	return st
}

func TestVEXCommands(t *testing.T) {
	st := vexStore(t)
	local := t.TempDir()
	if err := os.WriteFile(filepath.Join(local, "site.json"), []byte(localVEX), 0o644); err != nil {
		t.Fatal(err)
	}
	at := "--at=2026-12-01T00:00:00Z"

	out, errOut, code := runFerry(t, "vex", "consensus", "--store", st, at)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, w := range []string{"CVE-2026-0001", "not_affected*", "vendor/vendor.example", "under_investigation"} {
		if !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}

	// The vendor's version-less statement decides for v1.0.0 over the
	// community's, joined through the advisory's alias.
	out, _, code = runFerry(t, "vex", "consensus", "--store", st, at, "--vuln", "GO-2026-0001", "--product", "pkg:golang/example.com/lib@v1.0.0", "--json")
	var rep consensus.Report
	if code != ExitOK || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Results) != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if r := rep.Results[0]; r.Status != consensus.StatusNotAffected || r.Issuer != "https://vendor.example" || r.Dissent != 1 || rep.Schema != consensus.Schema {
		t.Errorf("got %+v", r)
	}

	// The site's statement with an unknown status is dropped, not fatal.
	out, errOut, code = runFerry(t, "vex", "explain", "--store", st, at, "--vex", local, "--vuln", "CVE-2026-0002", "--product", "pkg:golang/example.com/other")
	if code != ExitOK || !strings.Contains(out, "DROPPED UNKNOWN_STATUS") || !strings.Contains(out, "status:   under_investigation") {
		t.Errorf("explain: exit %d\n%s%s", code, out, errOut)
	}
	if _, _, code := runFerry(t, "vex", "explain", "--store", st, "--vuln", "X"); code != ExitUsage {
		t.Errorf("explain without --product: exit %d", code)
	}

	// Export: the same bytes twice, whatever --at.
	o1, o2 := filepath.Join(t.TempDir(), "a.json"), filepath.Join(t.TempDir(), "b.json")
	if out, errOut, code := runFerry(t, "vex", "export", "--store", st, "-o", o1); code != ExitOK {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	if _, _, code := runFerry(t, "vex", "export", "--store", st, at, "-o", o2); code != ExitOK {
		t.Fatal("second export")
	}
	a, _ := os.ReadFile(o1)
	b, _ := os.ReadFile(o2)
	if string(a) != string(b) || !strings.Contains(string(a), `"status": "not_affected"`) {
		t.Errorf("exports differ or lack the consensus:\n%s\n%s", a, b)
	}

	// A local issuers file overrides the kit's tier: the vendor becomes
	// community, and disagrees with Someone in the same tier.
	over := filepath.Join(t.TempDir(), "issuers.yaml")
	os.WriteFile(over, []byte("issuers:\n  - id: https://vendor.example\n    tier: community\n"), 0o644)
	out, _, _ = runFerry(t, "vex", "consensus", "--store", st, at, "--issuers", over, "--vuln", "CVE-2026-0001", "--product", "pkg:golang/example.com/lib@v1.0.0", "--json")
	if json.Unmarshal([]byte(out), &rep) != nil || rep.Results[0].Status != consensus.StatusConflict || rep.Results[0].Resolution != consensus.StatusAffected {
		t.Errorf("with --issuers: %s", out)
	}
}

const vexSBOM = `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[
 {"type":"library","bom-ref":"lib","name":"example.com/lib","version":"v1.0.0","purl":"pkg:golang/example.com/lib@v1.0.0"}]}`

func TestScanVEXConsensus(t *testing.T) {
	st := vexStore(t)
	sbom := filepath.Join(t.TempDir(), "app.cdx.json")
	if err := os.WriteFile(sbom, []byte(vexSBOM), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runFerry(t, "scan", "sbom:"+sbom, "--store", st, "--fail-on", "low")
	if code != ExitOK {
		t.Fatalf("the vendor says not_affected: --fail-on must pass, exit %d\n%s%s", code, out, errOut)
	}
	for _, w := range []string{"GO-2026-0001", "not_affected vulnerable_code_not_in_execute_path (vendor https://vendor.example)", "VEX consensus: 0 affected"} {
		if !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}
	for _, format := range []string{"json", "sarif", "cyclonedx", "openvex"} {
		out, _, code := runFerry(t, "scan", "sbom:"+sbom, "--store", st, "--format", format)
		if code != ExitOK || !strings.Contains(out, "not_affected") {
			t.Errorf("--format %s: exit %d, lacks the consensus:\n%s", format, code, out)
		}
	}
	// The site's own statement (tier self) says affected: it decides.
	local := t.TempDir()
	os.WriteFile(filepath.Join(local, "ours.json"), []byte(strings.ReplaceAll(strings.ReplaceAll(vendorVEX, `"not_affected"`, `"affected"`),
		`"justification": "vulnerable_code_not_in_execute_path"`, `"action_statement": "upgrade"`)), 0o644)
	out, _, code = runFerry(t, "scan", "sbom:"+sbom, "--store", st, "--vex", local, "--fail-on", "low")
	if code != ExitBlocked || !strings.Contains(out, "affected (self local)") {
		t.Errorf("with the site's affected: exit %d\n%s", code, out)
	}
	if _, _, code := runFerry(t, "scan", "sbom:"+sbom, "--advisories", sbom, "--vex", local); code != ExitUsage {
		t.Errorf("--vex without --store: exit %d", code)
	}
}
