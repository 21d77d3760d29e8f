package consensus_test

import (
	"fmt"
	"time"

	"github.com/ferry-dev/ferry/vex"
	"github.com/ferry-dev/ferry/vex/consensus"
)

// A vendor says not_affected, a community issuer says affected: the
// vendor's tier decides, the other is dissent.
func ExampleEvaluate() {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	product := []vex.Product{{ID: "pkg:golang/example.com/lib", PURL: "pkg:golang/example.com/lib"}}
	inputs := []consensus.Input{
		{Statement: vex.Statement{Vulnerability: "CVE-2026-0001", Status: "not_affected", Justification: "vulnerable_code_not_present",
			Issuer: "https://vendor.example", Products: product, Timestamp: at.Add(-time.Hour)}},
		{Statement: vex.Statement{Vulnerability: "GHSA-aaaa-bbbb-cccc", Status: "affected",
			Issuer: "someone", Products: product, Timestamp: at.Add(-time.Hour)}},
	}
	issuers, _ := consensus.NewIssuers([]consensus.Issuer{{ID: "https://vendor.example", Tier: consensus.TierVendor}})
	rep := consensus.Evaluate(inputs, issuers, consensus.Options{
		At:      at,
		Aliases: [][]string{{"CVE-2026-0001", "GHSA-aaaa-bbbb-cccc", "GO-2026-0001"}},
		Queries: []consensus.Query{{IDs: []string{"GO-2026-0001"}, Product: "pkg:golang/example.com/lib@v1.2.3"}},
	})
	r := rep.Results[0]
	fmt.Println(r.Vulnerability, r.Status, r.Justification, r.Issuer, r.Tier, "dissent:", r.Dissent)
	// Output: CVE-2026-0001 not_affected vulnerable_code_not_present https://vendor.example vendor dissent: 1
}
