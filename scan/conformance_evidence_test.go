//go:build conformance

package scan

import (
	"bytes"
	"context"
	"debug/elf"
	"debug/gosym"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConformanceEvidence compares ferry's evidence levels on the
// programs of scripts/conformance.sh (which also builds a stripped one,
// NAME-stripped) with govulncheck -mode=binary's: the advisories whose
// evidence is "symbol" must equal govulncheck's findings whose trace
// reaches a function, and the others its package- and module-level ones.
// Explained differences, and only those, are allowed:
//
//   - stripped binaries: govulncheck reads symbols only through the symbol
//     table, which -s removes, and then reports every record that names
//     packages at symbol level. ferry reads the line table, which stays:
//     its levels on NAME-stripped must equal its levels on NAME.
//   - generics: govulncheck keeps type arguments in symbol names
//     ("Map[go.shape.int]") and never matches a generic symbol; ferry
//     drops them. A record ferry finds at symbol level only through a
//     generic function is package level for govulncheck.
func TestConformanceEvidence(t *testing.T) {
	binDir := os.Getenv("FERRY_CONFORMANCE_BIN")
	corpus := os.Getenv("FERRY_CORPUS")
	peers := os.Getenv("FERRY_CONFORMANCE_PEERS")
	if binDir == "" || corpus == "" {
		t.Skip("SKIPPED: needs the programs and peers of scripts/conformance.sh (make conformance)")
	}
	gv := filepath.Join(peers, "govulncheck")
	if _, err := os.Stat(gv); err != nil {
		t.Skip("!!! SKIPPED: govulncheck is not installed")
	}
	ctx := context.Background()
	db := filepath.Join(corpus, "osv", "go")
	adv, err := LoadOSV(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	progs, err := os.ReadDir(binDir)
	if err != nil {
		t.Fatal(err)
	}
	levels := map[string]map[string]string{} // program -> advisory -> level
	scan := func(name string) map[string]string {
		if l, ok := levels[name]; ok {
			return l
		}
		rep, err := Scan(ctx, "dir:"+filepath.Join(binDir, name), adv, Options{Evidence: true})
		if err != nil {
			t.Fatal(err)
		}
		l := map[string]string{}
		for _, f := range rep.Findings {
			if f.Evidence == nil {
				t.Errorf("%s: %s has no evidence", name, f.ID)
				continue
			}
			for _, a := range f.Advisories {
				l[a] = f.Evidence.Level
			}
		}
		levels[name] = l
		return l
	}
	for _, p := range progs {
		name := p.Name()
		exe := filepath.Join(binDir, name, name)
		t.Run(name, func(t *testing.T) {
			ours := scan(name)
			theirs := govulncheckLevels(t, gv, db, exe)
			stripped := !hasSymtab(exe)
			if base, ok := strings.CutSuffix(name, "-stripped"); ok {
				if d := cmpLevels(scan(base), ours); d != "" {
					t.Errorf("evidence differs from the unstripped %s:\n%s", base, d)
				}
			}
			generic := genericSymbols(exe)
			nSym := 0
			for _, id := range keys(union(ours, theirs)) {
				o, g := ours[id], theirs[id]
				if o == EvidenceSymbol {
					nSym++
				}
				if (o == EvidenceSymbol) == (g == EvidenceSymbol) && (o == "") == (g == "") {
					continue
				}
				switch {
				case stripped && g == EvidenceSymbol && o != "":
					t.Logf("%s: ferry %s, govulncheck symbol: explained: stripped binary, govulncheck reads no symbols and reports every record naming packages at symbol level", id, o)
				case o == EvidenceSymbol && g == EvidencePackage && foundOnlyGeneric(rep(t, adv, binDir, name, id), generic):
					t.Logf("%s: ferry symbol, govulncheck package: explained: found only through generic functions, whose names govulncheck keeps with type arguments", id)
				default:
					t.Errorf("%s: ferry %q, govulncheck %q: unexplained", id, o, g)
				}
			}
			t.Logf("%d advisories, %d at symbol level (ferry); govulncheck %d", len(ours), nSym, len(theirs))
		})
	}
}

// govulncheckLevels runs govulncheck -mode=binary -json and returns each
// advisory's strongest level: symbol when a finding's trace reaches a
// function, package when it names a package, else module.
func govulncheckLevels(t *testing.T, gv, db, exe string) map[string]string {
	t.Helper()
	cmd := exec.Command(gv, "-mode=binary", "-format", "json", "-db", "file://"+db, exe)
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("govulncheck: %v\n%s", err, errb.String())
	}
	levels := map[string]string{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var m struct {
			Finding *struct {
				OSV   string `json:"osv"`
				Trace []struct {
					Function string `json:"function"`
					Package  string `json:"package"`
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("govulncheck output: %v", err)
		}
		f := m.Finding
		if f == nil {
			continue
		}
		l := EvidenceModule
		if len(f.Trace) > 0 && f.Trace[0].Function != "" {
			l = EvidenceSymbol
		} else if len(f.Trace) > 0 && f.Trace[0].Package != "" {
			l = EvidencePackage
		}
		if evidenceRank(l) > evidenceRank(levels[f.OSV]) {
			levels[f.OSV] = l
		}
	}
	return levels
}

func hasSymtab(exe string) bool {
	f, err := elf.Open(exe)
	if err != nil {
		return true
	}
	defer f.Close()
	return f.Section(".symtab") != nil
}

// genericSymbols returns "pkg.Sym" of the generic instantiations among
// the binary's functions (debug/gosym over .gopclntab).
func genericSymbols(exe string) map[string]bool {
	out := map[string]bool{}
	f, err := elf.Open(exe)
	if err != nil {
		return out
	}
	defer f.Close()
	s, text := f.Section(".gopclntab"), f.Section(".text")
	if s == nil || text == nil {
		return out
	}
	data, err := s.Data()
	if err != nil {
		return out
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return out
	}
	for _, fn := range tab.Funcs {
		if strings.Contains(fn.Name, "[") {
			if pkg, sym, ok := splitFuncName(fn.Name); ok {
				out[pkg+"."+sym] = true
			}
		}
	}
	return out
}

// rep returns the evidence of advisory id in program name.
func rep(t *testing.T, adv Advisories, binDir, name, id string) *Evidence {
	r, err := Scan(context.Background(), "dir:"+filepath.Join(binDir, name), adv, Options{Evidence: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		for _, a := range f.Advisories {
			if a == id {
				return f.Evidence
			}
		}
	}
	return nil
}

func foundOnlyGeneric(ev *Evidence, generic map[string]bool) bool {
	if ev == nil || len(ev.Found) == 0 {
		return false
	}
	for _, s := range ev.Found {
		if !generic[s] {
			return false
		}
	}
	return true
}

func union(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func cmpLevels(want, got map[string]string) string {
	var b strings.Builder
	for _, k := range keys(union(want, got)) {
		if want[k] != got[k] {
			b.WriteString("  " + k + ": " + want[k] + " -> " + got[k] + "\n")
		}
	}
	return b.String()
}
