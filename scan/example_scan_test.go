package scan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferry-dev/ferry/osv"
	"github.com/ferry-dev/ferry/scan"
)

// Scan an SBOM against advisories held in memory (a site reads them from
// its store). Records about one vulnerability join into one finding that
// carries every id; a component without a package URL cannot be matched
// and is reported as not evaluated, not dropped.
func ExampleScan() {
	dir, err := os.MkdirTemp("", "ferry-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	sbom := filepath.Join(dir, "app.cdx.json")
	err = os.WriteFile(sbom, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
	  {"type":"library","bom-ref":"text","name":"golang.org/x/text","version":"v0.3.5","purl":"pkg:golang/golang.org/x/text@v0.3.5"},
	  {"type":"library","bom-ref":"vendored","name":"vendored-lib","version":"2.0"}]}`), 0o644)
	if err != nil {
		fmt.Println(err)
		return
	}
	var records []*osv.Vulnerability
	for _, r := range []string{
		`{"id":"GO-2021-0113","modified":"2021-10-01T00:00:00Z","aliases":["CVE-2021-38561"],"affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]}]}`,
		`{"id":"GHSA-ppp9-7jff-5vj2","modified":"2021-10-01T00:00:00Z","aliases":["CVE-2021-38561"],"affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]}]}`,
	} {
		v, err := osv.Parse([]byte(r))
		if err != nil {
			fmt.Println(err)
			return
		}
		records = append(records, v)
	}

	rep, err := scan.Scan(context.Background(), "sbom:"+sbom, scan.NewMemory(records...), scan.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rep.Findings {
		fmt.Printf("%s %s@%s: %s %v, fixed in %s\n", f.Package.Ecosystem, f.Package.Name, f.Package.Version, f.ID, f.IDs, f.Fixed)
	}
	for _, n := range rep.NotEvaluated {
		fmt.Printf("not evaluated: %s (%s)\n", n.Location.SBOMRef, n.Reason)
	}
	// Output:
	// Go golang.org/x/text@0.3.5: CVE-2021-38561 [CVE-2021-38561 GHSA-ppp9-7jff-5vj2 GO-2021-0113], fixed in 0.3.7
	// not evaluated: vendored (no package URL: cannot be matched)
}
