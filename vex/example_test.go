package vex_test

import (
	"fmt"

	"github.com/ferry-dev/ferry/vex"
)

func ExampleParseOpenVEX() {
	doc, err := vex.ParseOpenVEX([]byte(`{
	  "@context": "https://openvex.dev/ns/v0.2.0",
	  "@id": "https://example.com/vex/2026-0001",
	  "author": "Example Security",
	  "timestamp": "2026-01-02T03:04:05Z",
	  "version": 1,
	  "statements": [{
	    "vulnerability": {"name": "CVE-2026-0001"},
	    "products": [{"@id": "pkg:oci/app@sha256:1111"}],
	    "status": "not_affected",
	    "justification": "component_not_present"
	  }]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range doc.Statements {
		fmt.Println(s.Vulnerability, s.Products[0].PURL, s.Status, s.Justification, s.Issuer)
	}
	// Output: CVE-2026-0001 pkg:oci/app@sha256:1111 not_affected component_not_present Example Security
}
