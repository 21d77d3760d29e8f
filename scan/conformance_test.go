//go:build conformance

package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ossf/osv-schema/bindings/go/osvschema"
)

// TestConformance compares ferry's advisory ids on real Go programs with
// govulncheck's and osv-scanner's, all offline on the corpus's Go vulndb.
// scripts/conformance.sh builds the programs and installs the peers; the
// test skips (loudly) when run without it.
//
// The bar: ferry's ids equal govulncheck's (every level: symbol, package,
// module) on every program. osv-scanner may differ only in explained ways:
//
//   - osv-scanner ignores ecosystem_specific.imports[].goos/goarch, so it
//     reports platform-only standard-library advisories (windows, ppc64le…)
//     for a linux/amd64 binary. ferry, like govulncheck, does not: the
//     record's platform lists exclude the binary's GOOS/GOARCH.
func TestConformance(t *testing.T) {
	binDir := os.Getenv("FERRY_CONFORMANCE_BIN")
	corpus := os.Getenv("FERRY_CORPUS")
	if binDir == "" || corpus == "" {
		t.Skip("SKIPPED: conformance needs the programs and peers of scripts/conformance.sh (make conformance)")
	}
	peers := os.Getenv("FERRY_CONFORMANCE_PEERS")
	ctx := context.Background()
	db := filepath.Join(corpus, "osv", "go")
	adv, err := LoadOSV(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*osvschema.Vulnerability{}
	for _, rs := range adv.index {
		for _, r := range rs {
			v, err := r.get()
			if err != nil {
				t.Fatal(err)
			}
			byID[v.GetId()] = v
		}
	}
	progs, err := os.ReadDir(binDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(progs) < 5 {
		t.Errorf("only %d programs built; the bar is 5", len(progs))
	}
	for _, p := range progs {
		dir := filepath.Join(binDir, p.Name())
		exe := filepath.Join(dir, p.Name())
		t.Run(p.Name(), func(t *testing.T) {
			rep, err := Scan(ctx, "dir:"+dir, adv, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ours := map[string]bool{}
			for _, f := range rep.Findings {
				for _, a := range f.Advisories {
					ours[a] = true
				}
			}
			goos, goarch := "", ""
			for _, pk := range rep.Packages {
				if pk.Name == "stdlib" {
					goos, goarch = pk.GOOS, pk.GOARCH
					t.Logf("stdlib %s %s/%s", pk.Version, goos, goarch)
				}
			}
			t.Logf("ferry: %d advisories: %s", len(ours), strings.Join(keys(ours), " "))

			gv := filepath.Join(peers, "govulncheck")
			if _, err := os.Stat(gv); err != nil {
				t.Log("!!! SKIPPED govulncheck comparison: govulncheck is not installed")
			} else {
				theirs := govulncheckIDs(t, gv, db, exe)
				if d := setDiff(ours, theirs); d != "" {
					t.Errorf("ferry and govulncheck differ:\n%s", d)
				} else {
					t.Logf("govulncheck: identical (%d ids)", len(theirs))
				}
			}

			osvs := filepath.Join(peers, "osv-scanner")
			if _, err := os.Stat(osvs); err != nil {
				t.Log("!!! SKIPPED osv-scanner comparison: osv-scanner is not installed")
				return
			}
			theirs, err := osvScannerIDs(osvs, os.Getenv("FERRY_CONFORMANCE_OSVDB"), dir)
			if err != nil {
				t.Logf("!!! SKIPPED osv-scanner comparison: %v", err)
				return
			}
			for _, id := range keys(theirs) {
				if ours[id] {
					continue
				}
				r := byID[id]
				if r != nil && platformExcluded(r, goos, goarch) {
					t.Logf("osv-scanner extra %s: explained: every affected import of the record names other platforms than %s/%s (osv-scanner ignores goos/goarch)", id, goos, goarch)
					continue
				}
				t.Errorf("osv-scanner reports %s and ferry does not; unexplained", id)
			}
			for _, id := range keys(ours) {
				if !theirs[id] {
					t.Errorf("ferry reports %s and osv-scanner does not; unexplained", id)
				}
			}
		})
	}
}

// platformExcluded reports whether every affected entry of r limits its
// imports to platforms other than goos/goarch.
func platformExcluded(r *osvschema.Vulnerability, goos, goarch string) bool {
	p := Package{Ecosystem: "Go", GOOS: goos, GOARCH: goarch}
	for _, a := range r.GetAffected() {
		if platformMatches(p, a) {
			return false
		}
	}
	return true
}

func govulncheckIDs(t *testing.T, gv, db, exe string) map[string]bool {
	t.Helper()
	cmd := exec.Command(gv, "-mode=binary", "-format", "json", "-db", "file://"+db, exe)
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("govulncheck: %v\n%s", err, errb.String())
	}
	ids := map[string]bool{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var m struct {
			Finding *struct {
				OSV string `json:"osv"`
			} `json:"finding"`
		}
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("govulncheck output: %v", err)
		}
		if m.Finding != nil {
			ids[m.Finding.OSV] = true
		}
	}
	return ids
}

func osvScannerIDs(bin, db, dir string) (map[string]bool, error) {
	cmd := exec.Command(bin, "scan", "source", "--offline", "--local-db-path", db, "--experimental-plugins", "go/binary", "--format", "json", dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run() // exits 1 when it finds something
	var res struct {
		Results []struct {
			Packages []struct {
				Vulnerabilities []struct {
					ID string `json:"id"`
				} `json:"vulnerabilities"`
			} `json:"packages"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, &exec.Error{Name: "osv-scanner output: " + err.Error() + ": " + lastLine(errb.String()), Err: err}
	}
	ids := map[string]bool{}
	for _, r := range res.Results {
		for _, p := range r.Packages {
			for _, v := range p.Vulnerabilities {
				ids[v.ID] = true
			}
		}
	}
	return ids, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func setDiff(ours, theirs map[string]bool) string {
	var b strings.Builder
	for _, k := range keys(ours) {
		if !theirs[k] {
			b.WriteString("  only ferry: " + k + "\n")
		}
	}
	for _, k := range keys(theirs) {
		if !ours[k] {
			b.WriteString("  only peer:  " + k + "\n")
		}
	}
	return b.String()
}
