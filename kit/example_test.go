package kit_test

import (
	"errors"
	"fmt"

	"github.com/ferry-dev/ferry/kit"
)

// ParseSpec checks a kit.yaml without fetching anything: a URL source is
// only checked to be an https URL.
func ExampleParseSpec() {
	spec, err := kit.ParseSpec("/srv/kits/kit.yaml", []byte(`name: acme
channel: acme-feeds
version: 12
created: 2026-11-28T00:00:00Z
expires: 14d
advisories:
  - name: govulndb
    osv: {url: https://vuln.go.dev/all.zip}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(spec.Name, spec.Channel, spec.Version, spec.ExpiryFor(spec.Created).Format("2006-01-02"))
	for _, s := range spec.Sources {
		fmt.Println(s.Kind(), s.Name())
	}
	// Output:
	// acme acme-feeds 12 2026-12-12
	// advisories govulndb
}

// Every problem of a spec comes back at once, each with its line, field
// and stable code.
func ExampleParseSpec_errors() {
	_, err := kit.ParseSpec("kit.yaml", []byte(`name: acme
channel: acme-feeds
version: 1
expires: soon
advisories:
  - name: govulndb
    osv: {url: http://vuln.go.dev/all.zip}
`))
	var errs kit.SpecErrors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Printf("line %d %s: %s\n", e.Line, e.Field, e.Code)
		}
	}
	// Output:
	// line 4 expires: SPEC_INVALID_EXPIRES
	// line 7 advisories[0].osv.url: SPEC_INSECURE_URL
}
