package scan

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/osv"
	"github.com/google/go-cmp/cmp"
	"github.com/ossf/osv-schema/bindings/go/osvschema"
)

func rec(t testing.TB, js string) *osvschema.Vulnerability {
	t.Helper()
	v, err := osv.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	goRec = `{"id":"GO-2021-0113","modified":"2021-01-01T00:00:00Z","aliases":["CVE-2021-38561","GHSA-ppp9-7jff-5vj2"],"summary":"x/text",
 "affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]}]}`
	ghsaRec = `{"id":"GHSA-ppp9-7jff-5vj2","modified":"2021-01-01T00:00:00Z","aliases":["CVE-2021-38561"],"summary":"ghsa",
 "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
 "affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]}]}`
	winRec = `{"id":"GO-2099-0001","modified":"2021-01-01T00:00:00Z","summary":"windows only",
 "affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.22.5"}]}],
 "ecosystem_specific":{"imports":[{"path":"os","goos":["windows"]}]}}]}`
	anyRec = `{"id":"GO-2099-0002","modified":"2021-01-01T00:00:00Z","summary":"all platforms",
 "affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"1.22.0"},{"fixed":"1.22.5"}]}],
 "ecosystem_specific":{"imports":[{"path":"net/http"},{"path":"os","goos":["windows"]}]}}]}`
	withdrawnRec = `{"id":"GO-2099-0003","modified":"2021-01-01T00:00:00Z","withdrawn":"2021-02-01T00:00:00Z","summary":"gone",
 "affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`
	debRec = `{"id":"DSA-0001-1","modified":"2021-01-01T00:00:00Z","summary":"openssl","severity":[{"type":"Ubuntu","score":"high"}],
 "affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1~deb12u2"}]}]}]}`
	lastRec = `{"id":"PYSEC-1","modified":"2021-01-01T00:00:00Z","summary":"py",
 "affected":[{"package":{"ecosystem":"PyPI","name":"Some_Pkg"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"last_affected":"1.4"}]}],"versions":["0.9"]}]}`
	gitRec = `{"id":"OSV-1","modified":"2021-01-01T00:00:00Z","summary":"git",
 "affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"ranges":[{"type":"GIT","repo":"https://example.com/r","events":[{"introduced":"abc"}]}]}]}`
	// The shape of PYSEC records with both kinds of range: the ECOSYSTEM
	// range decides, the GIT range is not noise.
	gitEcoRec = `{"id":"PYSEC-2","modified":"2021-01-01T00:00:00Z","summary":"git and ecosystem",
 "affected":[{"package":{"ecosystem":"PyPI","name":"both"},"ranges":[{"type":"GIT","repo":"https://example.com/r","events":[{"introduced":"0"},{"fixed":"abc"}]},
  {"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]},
  {"package":{"ecosystem":"PyPI","name":"listed"},"ranges":[{"type":"GIT","repo":"https://example.com/r","events":[{"introduced":"0"},{"fixed":"abc"}]}],"versions":["1.0"]}]}`
)

func testAdvisories(t testing.TB) *Memory {
	return NewMemory(rec(t, goRec), rec(t, ghsaRec), rec(t, winRec), rec(t, anyRec), rec(t, withdrawnRec), rec(t, debRec), rec(t, lastRec), rec(t, gitRec), rec(t, gitEcoRec))
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+"="+strings.Join(f.Advisories, "+"))
	}
	return out
}

func TestMatchPackage(t *testing.T) {
	m := NewMatcher(testAdvisories(t), time.Time{})
	linux := func(name, ver string) Package {
		return Package{Ecosystem: "Go", Name: name, Version: ver, GOOS: "linux", GOARCH: "amd64"}
	}
	tests := []struct {
		name    string
		pkg     Package
		want    []string
		notEval int
	}{
		{"aliases join GO and GHSA into one finding", linux("golang.org/x/text", "0.3.5"), []string{"CVE-2021-38561=GHSA-ppp9-7jff-5vj2+GO-2021-0113"}, 0},
		{"fixed version is not affected", linux("golang.org/x/text", "0.3.7"), nil, 0},
		{"pseudo-version before the fix", linux("golang.org/x/text", "0.0.0-20170915032832-14c0d48ead0c"), []string{"CVE-2021-38561=GHSA-ppp9-7jff-5vj2+GO-2021-0113"}, 0},
		{"windows-only stdlib advisory skips linux", linux("stdlib", "1.22.0"), []string{"GO-2099-0002=GO-2099-0002"}, 0},
		{"windows binary gets both", Package{Ecosystem: "Go", Name: "stdlib", Version: "1.22.0", GOOS: "windows", GOARCH: "amd64"}, []string{"GO-2099-0001=GO-2099-0001", "GO-2099-0002=GO-2099-0002"}, 0},
		{"unknown platform (SBOM) gets both", Package{Ecosystem: "Go", Name: "stdlib", Version: "1.22.0"}, []string{"GO-2099-0001=GO-2099-0001", "GO-2099-0002=GO-2099-0002"}, 0},
		{"withdrawn record skipped", linux("stdlib", "1.23.0"), nil, 0},
		{"debian source package and release", Package{Ecosystem: "Debian:12", Name: "libssl3", SourceName: "openssl", Version: "3.0.11-1~deb12u1"}, []string{"DSA-0001-1=DSA-0001-1"}, 0},
		{"debian fixed", Package{Ecosystem: "Debian:12", Name: "openssl", Version: "3.0.11-1~deb12u2"}, nil, 0},
		{"PyPI name normalisation and last_affected", Package{Ecosystem: "PyPI", Name: "some-pkg", Version: "1.4"}, []string{"PYSEC-1=PYSEC-1"}, 0},
		{"after last_affected", Package{Ecosystem: "PyPI", Name: "some-pkg", Version: "1.4.1"}, nil, 0},
		{"versions list", Package{Ecosystem: "PyPI", Name: "some_pkg", Version: "0.9"}, []string{"PYSEC-1=PYSEC-1"}, 0},
		{"GIT range not evaluated", Package{Ecosystem: "npm", Name: "left-pad", Version: "1.0.0"}, nil, 1},
		{"GIT and ECOSYSTEM ranges: affected by the latter", Package{Ecosystem: "PyPI", Name: "both", Version: "1.0"}, []string{"PYSEC-2=PYSEC-2"}, 0},
		{"GIT and ECOSYSTEM ranges: fixed by the latter, no GIT noise", Package{Ecosystem: "PyPI", Name: "both", Version: "2.0"}, nil, 0},
		{"GIT range and versions list: not listed, no GIT noise", Package{Ecosystem: "PyPI", Name: "listed", Version: "1.1"}, nil, 0},
		{"devel version not evaluated", linux("golang.org/x/text", "(devel)"), nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, ne, err := m.MatchPackage(tt.pkg)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, ids(fs)); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
			if len(ne) != tt.notEval {
				t.Errorf("not evaluated: got %v, want %d", ne, tt.notEval)
			}
		})
	}
}

func TestFindingEvidence(t *testing.T) {
	m := NewMatcher(testAdvisories(t), time.Time{})
	fs, _, err := m.MatchPackage(Package{Ecosystem: "Go", Name: "golang.org/x/text", Version: "0.3.5", Location: Location{Layer: "sha256:aa", Path: "app"}})
	if err != nil || len(fs) != 1 {
		t.Fatalf("got %v, %v", fs, err)
	}
	f := fs[0]
	want := []string{"CVE-2021-38561", "GHSA-ppp9-7jff-5vj2", "GO-2021-0113"}
	if d := cmp.Diff(want, f.IDs); d != "" {
		t.Errorf("ids: %s", d)
	}
	if f.Fixed != "0.3.7" || f.Severity.Rating != RatingHigh || f.Severity.Score != 7.5 {
		t.Errorf("fixed %q severity %+v", f.Fixed, f.Severity)
	}
	if f.Matches[0].Range != "SEMVER introduced=0 fixed=0.3.7" || f.Locations[0].Layer != "sha256:aa" {
		t.Errorf("evidence: %+v %+v", f.Matches, f.Locations)
	}
}

func TestEvalRangeUnsortedEcosystemEvents(t *testing.T) {
	r := rec(t, `{"id":"X-1","modified":"2021-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"p"},
	 "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.0"},{"fixed":"2.5"},{"introduced":"0"},{"fixed":"1.5"}]}]}]}`)
	for ver, want := range map[string]bool{"1.0": true, "1.5": false, "1.9": false, "2.0": true, "2.4": true, "2.5": false, "3": false} {
		got, _, _, err := evalRange(r.GetAffected()[0].GetRanges()[0], "Debian:12", ver)
		if err != nil || got != want {
			t.Errorf("%s: got %v (%v), want %v", ver, got, err, want)
		}
	}
}

func TestNoAdvisoryDataFailsClosed(t *testing.T) {
	inv := &InventoryResult{Packages: []Package{
		{Ecosystem: "Go", Name: "golang.org/x/text", Version: "0.3.7"},
		{Ecosystem: "Alpine:v3.18", Name: "musl", Version: "1.2.4-r0"},
	}}
	rep, err := MatchInventory(context.Background(), inv, testAdvisories(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"Alpine:v3.18"}, rep.Summary.NoAdvisoryData); d != "" {
		t.Fatal(d)
	}
	if why := rep.Fails(RatingCritical); len(why) != 1 || !strings.Contains(why[0], StatusNoAdvisoryData) {
		t.Errorf("Fails: %v", why)
	}
	// An empty database fails closed too (the peers say "no vulnerabilities").
	rep, _ = MatchInventory(context.Background(), inv, NewMemory(), Options{})
	if len(rep.Summary.NoAdvisoryData) != 2 {
		t.Errorf("empty database: %v", rep.Summary.NoAdvisoryData)
	}
}

func TestGoTagToSemver(t *testing.T) {
	for in, want := range map[string]string{"go1.22.0": "1.22.0", "go1.20": "1.20.0", "go1.21rc2": "1.21.0-rc.2", "go1.18beta1": "1.18.0-beta.1",
		"go1.22.1 X:boringcrypto": "1.22.1", "devel +abc": "", "go1.23.4-X:nocoverageredesign": "1.23.4"} {
		if got := goTagToSemver(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	h := "sha256:" + strings.Repeat("ab", 32)
	good := map[string]Target{
		h:                      {Ref: h, Kind: KindStoreImage, Digest: h},
		"oci:./l":              {Ref: "oci:./l", Kind: KindOCI, Path: "./l"},
		"oci:./l@x@" + h:       {Ref: "oci:./l@x@" + h, Kind: KindOCI, Path: "./l@x", Digest: h},
		"docker-archive:a.tar": {Ref: "docker-archive:a.tar", Kind: KindDockerArchive, Path: "a.tar"},
		"sbom:a.json":          {Ref: "sbom:a.json", Kind: KindSBOM, Path: "a.json"},
		"dir:/":                {Ref: "dir:/", Kind: KindDir, Path: "/"},
	}
	for in, want := range good {
		got, err := ParseTarget(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "sha256:zz", "http://x", "oci:", "oci:x@sha256:12", "registry:foo"} {
		if _, err := ParseTarget(in); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

// TestCompareConcat: compareConcat orders as comparing the joined strings
// does, separators inside fields included.
func TestCompareConcat(t *testing.T) {
	parts := []string{"", "a", "ab", "a/b", "a-", "b", "\x00", "/", "linux", "linux-x"}
	for _, a1 := range parts {
		for _, a2 := range parts {
			for _, b1 := range parts {
				for _, b2 := range parts {
					a, b := []string{a1, "/", a2}, []string{b1, "/", b2}
					want := strings.Compare(strings.Join(a, ""), strings.Join(b, ""))
					if got := compareConcat(a, b); got != want {
						t.Fatalf("compareConcat(%q, %q) = %d, want %d", a, b, got, want)
					}
				}
			}
		}
	}
}

// countingAdvisories counts the ForPackage calls per (ecosystem, name).
type countingAdvisories struct {
	Advisories
	mu    sync.Mutex
	calls map[[2]string]int
}

func (c *countingAdvisories) ForPackage(ecosystem, name string) ([]*osvschema.Vulnerability, error) {
	c.mu.Lock()
	c.calls[[2]string{ecosystem, name}]++
	c.mu.Unlock()
	return c.Advisories.ForPackage(ecosystem, name)
}

// TestMatchInventoryAsksOncePerName: the binary packages of one source
// package ask the advisories for the source's records once, and every
// package gets the findings it gets matched alone.
func TestMatchInventoryAsksOncePerName(t *testing.T) {
	adv := &countingAdvisories{Advisories: NewMemory(rec(t, debRec)), calls: map[[2]string]int{}}
	inv := &InventoryResult{Target: TargetInfo{Ref: "dir:ROOT", Kind: KindDir}}
	for _, n := range []string{"libssl3", "openssl", "libssl-dev", "openssl-provider-legacy"} {
		inv.Packages = append(inv.Packages, Package{Ecosystem: "Debian:12", Name: n, SourceName: "openssl", Version: "3.0.11-1~deb12u1",
			Location: Location{Path: "var/lib/dpkg/status"}})
	}
	rep, err := MatchInventory(context.Background(), inv, adv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range adv.calls {
		if n != 1 {
			t.Errorf("ForPackage%v asked %d times, want once", k, n)
		}
	}
	var want []Finding
	for _, p := range inv.Packages {
		fs, _, err := NewMatcher(NewMemory(rec(t, debRec)), time.Time{}).MatchPackage(p)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fs...)
	}
	sortFindings(want)
	if len(rep.Findings) != 4 {
		t.Fatalf("%d findings, want 4: %+v", len(rep.Findings), rep.Findings)
	}
	if d := cmp.Diff(want, rep.Findings); d != "" {
		t.Errorf("findings differ from each package matched alone (-alone +inventory):\n%s", d)
	}
}

// TestMatchInventoryParallelAsSerial: packages matched on several CPUs give
// the report of one CPU, byte for byte, and each (ecosystem, name) is
// still asked once although workers want it at the same time.
func TestMatchInventoryParallelAsSerial(t *testing.T) {
	pkgs, mem := benchData(600, 3000)
	for i := range pkgs {
		pkgs[i].SourceName = pkgs[i%40].Name // many packages ask for the same source
	}
	run := func(procs int) ([]byte, map[[2]string]int) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		adv := &countingAdvisories{Advisories: mem, calls: map[[2]string]int{}}
		rep, err := MatchInventory(context.Background(), &InventoryResult{Packages: pkgs}, adv, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Findings) == 0 {
			t.Fatal("no findings: the test data matches nothing")
		}
		var buf bytes.Buffer
		if err := Write(&buf, rep, "json"); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), adv.calls
	}
	serial, _ := run(1)
	for range 5 {
		got, calls := run(4)
		if !bytes.Equal(got, serial) {
			t.Fatal("the report matched on 4 CPUs differs from the one matched on 1")
		}
		for k, n := range calls {
			if n != 1 {
				t.Fatalf("ForPackage%v asked %d times, want once", k, n)
			}
		}
	}
}
