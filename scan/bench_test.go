package scan

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

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

// BenchmarkGoBinaryEvidence measures the evidence cost (bar: 1.5×): scanning a
// directory holding ferry's own stripped binary (≈29 MB; built once into
// a temp dir) with Options.Evidence costs at most 1.5× the scan without.
// Each iteration loads the advisories (as --advisories does) and scans
// twice, once each way; "ratio" is the sum of the evidence scans over the
// sum of the plain ones. The records are made from the binary's build
// info: 270 standard-library records (as many as the Go vulndb has for a
// go1.22 binary), each listing a package of the binary with three
// symbols, and one record without imports per dependency.
//
//	go test ./scan -run '^$' -bench GoBinaryEvidence -benchtime 10x
//
// With FERRY_CORPUS set (the corpus directory), the records are
// the real Go vulndb (corpus/osv/go), loaded each iteration as
// --advisories does.
//
// Without it, this is the worst case: nothing else in the target, tiny
// records, a ≈ 17 ms scan, to which reading the binary's 35,000 names adds
// ≈ 10 ms of CPU: a ratio of about 1.6 measured on 2 shared cores. With
// the Go vulndb: see docs/scan.md.
func BenchmarkGoBinaryEvidence(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "root", "usr", "local", "bin", "ferry")
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, "../cmd/ferry")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building ferry: %v\n%s", err, out)
	}
	f, err := os.Open(bin)
	if err != nil {
		b.Fatal(err)
	}
	bi, err := buildinfo.Read(f)
	if err != nil {
		b.Fatal(err)
	}
	g, err := readGoSymbols(f, bi.Path, nil)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	var stdPkgs []string
	for p := range g.pkgs {
		if moduleOf(p, nil) == "stdlib" {
			stdPkgs = append(stdPkgs, p)
		}
	}
	slices.Sort(stdPkgs)
	osvDir := filepath.Join(dir, "osv")
	if c := os.Getenv("FERRY_CORPUS"); c != "" {
		// the real Go vulndb instead ($FERRY_CORPUS/osv/go)
		stdPkgs, osvDir = nil, filepath.Join(c, "osv", "go")
		bi.Deps = nil
	} else {
		os.MkdirAll(osvDir, 0o755)
	}
	write := func(id, mod, imports string) {
		rec := fmt.Sprintf(`{"schema_version":"1.6.0","id":%q,"modified":"2024-01-01T00:00:00Z","summary":"synthetic",
"affected":[{"package":{"ecosystem":"Go","name":%q},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"999.0.0"}]}]%s}]}`, id, mod, imports)
		if err := os.WriteFile(filepath.Join(osvDir, id+".json"), []byte(rec), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 270 * min(len(stdPkgs), 1) {
		p := stdPkgs[i%len(stdPkgs)]
		write(fmt.Sprintf("GO-2099-%04d", i), "stdlib",
			fmt.Sprintf(`,"ecosystem_specific":{"imports":[{"path":%q,"symbols":["Sym%d","T.M%d","New"]}]}`, p, i, i))
	}
	for i, d := range bi.Deps {
		write(fmt.Sprintf("GO-2098-%04d", i), d.Path, "")
	}
	ctx := context.Background()
	target := "dir:" + filepath.Join(dir, "root")
	var off, on time.Duration
	var n int
	b.ResetTimer()
	for b.Loop() {
		for _, ev := range []bool{false, true} {
			start := time.Now()
			adv, err := LoadOSV(ctx, osvDir)
			if err != nil {
				b.Fatal(err)
			}
			rep, err := Scan(ctx, target, adv, Options{Evidence: ev})
			if err != nil {
				b.Fatal(err)
			}
			if ev {
				on += time.Since(start)
				n = 0
				for _, f := range rep.Findings {
					if f.Evidence != nil {
						n++
					}
				}
			} else {
				off += time.Since(start)
			}
		}
	}
	b.ReportMetric(float64(on)/float64(off), "ratio")
	b.ReportMetric(float64(off.Milliseconds())/float64(b.N), "ms/scan")
	b.ReportMetric(float64(on.Milliseconds())/float64(b.N), "ms/scan-evidence")
	b.ReportMetric(float64(n), "findings-with-evidence")
}
