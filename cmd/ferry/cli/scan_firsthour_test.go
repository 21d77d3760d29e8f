package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// scanFixture writes a directory of one OSV record and an SBOM of
// golang.org/x/text 0.3.5, and returns their paths.
func scanFixture(t *testing.T) (adv, sbom string) {
	t.Helper()
	dir := t.TempDir()
	adv = filepath.Join(dir, "osv.json")
	rec := `{"id":"GO-2021-0113","modified":"2021-01-01T00:00:00Z","aliases":["CVE-2021-38561"],"summary":"x/text",
 "affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]}]}`
	sbom = filepath.Join(dir, "app.cdx.json")
	bom := `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
	 {"type":"library","bom-ref":"c1","name":"golang.org/x/text","version":"v0.3.5","purl":"pkg:golang/golang.org%2Fx%2Ftext@v0.3.5"}]}`
	for name, data := range map[string]string{adv: rec, sbom: bom} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return adv, sbom
}

// TestScanOutputDates: without --at or SOURCE_DATE_EPOCH the OpenVEX,
// CycloneDX and SARIF outputs carry the evaluation time (now), never
// 1970-01-01; --at pins it.
func TestScanOutputDates(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	adv, sbom := scanFixture(t)
	before := time.Now().UTC().Add(-time.Second)
	for _, format := range []string{"openvex", "cyclonedx", "sarif", "json"} {
		out, errOut, code := runFerry(t, "scan", sbom, "--advisories", adv, "--format", format)
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		if strings.Contains(out, "1970-01-01") {
			t.Errorf("%s: output dated 1970:\n%s", format, out)
		}
		if !strings.Contains(out, before.Format("2006-01-02")) && !strings.Contains(out, time.Now().UTC().Format("2006-01-02")) {
			t.Errorf("%s: output not dated today:\n%s", format, out)
		}
		out, _, _ = runFerry(t, "scan", sbom, "--advisories", adv, "--format", format, "--at", "2026-01-02T03:04:05Z")
		if !strings.Contains(out, "2026-01-02T03:04:05Z") {
			t.Errorf("%s --at: time not pinned:\n%s", format, out)
		}
	}
}

// TestScanBareFileAndCanonicalPURL: a bare path is scanned, and the
// package's purl is reported in its canonical spelling.
func TestScanBareFileAndCanonicalPURL(t *testing.T) {
	adv, sbom := scanFixture(t)
	out, errOut, code := runFerry(t, "scan", sbom, "--advisories", adv, "--format", "json", "--at", "2026-01-01T00:00:00Z")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Findings []struct {
			Package struct{ PURL string } `json:"package"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Package.PURL != "pkg:golang/golang.org/x/text@v0.3.5" {
		t.Errorf("findings: %+v", rep.Findings)
	}
	if _, errOut, code := runFerry(t, "scan", filepath.Join(t.TempDir(), "missing"), "--advisories", adv); code != ExitUsage || !strings.Contains(errOut, "missing") {
		t.Errorf("missing file: exit %d: %s", code, errOut)
	}
}

// TestScanNothingEvaluated: an SBOM of pkg:generic components fails
// --fail-on low with NOTHING_EVALUATED instead of passing clean.
func TestScanNothingEvaluated(t *testing.T) {
	adv, _ := scanFixture(t)
	sbom := filepath.Join(t.TempDir(), "generic.cdx.json")
	bom := `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"file","name":"tool","version":"1","purl":"pkg:generic/tool@1"}]}`
	if err := os.WriteFile(sbom, []byte(bom), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runFerry(t, "scan", "sbom:"+sbom, "--advisories", adv, "--fail-on", "low")
	if code != ExitBlocked || !strings.Contains(out, "NOTHING_EVALUATED") || !strings.Contains(errOut, "NOTHING_EVALUATED") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
