package scan

import (
	"context"
	"fmt"
	"testing"

	"github.com/ossf/osv-schema/bindings/go/osvschema"
)

// benchData makes nRecs OSV records over nPkgs packages (Go, npm, PyPI,
// Debian:12 in turn; several records per package, ranges with
// introduced/fixed and last_affected, some versions lists, aliases) and
// the nPkgs packages of an inventory, about a third of them affected.
func benchData(nPkgs, nRecs int) ([]Package, *Memory) {
	ecos := []string{"Go", "npm", "PyPI", "Debian:12"}
	name := func(i int) string { return fmt.Sprintf("example.com/pkg%05d", i) }
	ver := func(eco string, major, minor int) string {
		if eco == "Debian:12" {
			return fmt.Sprintf("%d.%d-1", major, minor)
		}
		return fmt.Sprintf("%d.%d.0", major, minor)
	}
	recs := make([]*osvschema.Vulnerability, 0, nRecs)
	for r := 0; r < nRecs; r++ {
		p := r % nPkgs
		eco := ecos[p%len(ecos)]
		rt := osvschema.Range_ECOSYSTEM
		if eco == "Go" || eco == "npm" {
			rt = osvschema.Range_SEMVER
		}
		k := r / nPkgs
		a := &osvschema.Affected{
			Package: &osvschema.Package{Ecosystem: eco, Name: name(p)},
			Ranges: []*osvschema.Range{{Type: rt, Events: []*osvschema.Event{
				{Introduced: ver(eco, k, 0)}, {Fixed: ver(eco, k, 5)},
				{Introduced: ver(eco, k+10, 0)}, {LastAffected: ver(eco, k+10, 3)},
			}}},
		}
		if r%7 == 0 {
			a.Versions = []string{ver(eco, k, 1), ver(eco, k, 2)}
		}
		recs = append(recs, &osvschema.Vulnerability{
			Id: fmt.Sprintf("OSV-%06d", r), Aliases: []string{fmt.Sprintf("CVE-2099-%06d", r)},
			Summary: "synthetic", Affected: []*osvschema.Affected{a},
		})
	}
	pkgs := make([]Package, nPkgs)
	for i := range pkgs {
		eco := ecos[i%len(ecos)]
		pkgs[i] = Package{Ecosystem: eco, Name: name(i), Version: ver(eco, i%6, i%9), Location: Location{Path: "x"}}
	}
	return pkgs, NewMemory(recs...)
}

// BenchmarkMatch10kPackages50kRecords is the matching target ferry holds
// itself to:
// 10,000 packages against 50,000 OSV records in at most one second.
func BenchmarkMatch10kPackages50kRecords(b *testing.B) {
	pkgs, adv := benchData(10000, 50000)
	inv := &InventoryResult{Packages: pkgs}
	b.ResetTimer()
	var n int
	for b.Loop() {
		rep, err := MatchInventory(context.Background(), inv, adv, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n = len(rep.Findings)
	}
	b.ReportMetric(float64(n), "findings")
}
