package scan

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The test program (testdata/gosyms/app) and its vendored fake modules
// are built once per test binary, offline (-mod=vendor: the build info
// then names example.com/vulnmod v1.2.0). The variants:
//
//	plain     this platform, with the symbol table
//	stripped  -ldflags=-s -w (no .symtab: govulncheck reads no symbols there)
//	pie       -buildmode=pie, stripped (ELF: .data.rel.ro.gopclntab)
//	windows   windows/amd64 PE, stripped (no section for the line table)
//	darwin    darwin/arm64 Mach-O, stripped
//	s390x     linux/s390x: big-endian, stripped
//	386       linux/386: 4-byte pointers, stripped
//
// The cross-built variants cost a compile of the runtime each on a cold
// build cache (minutes on a small machine): they are built only with
// FERRY_TEST_CROSS=1. -short builds only plain and stripped.
type goVariant struct {
	name, goos, goarch string
	flags              []string
	short              bool
}

func (v goVariant) wanted() bool {
	if v.goos != runtime.GOOS || v.goarch != runtime.GOARCH {
		return os.Getenv("FERRY_TEST_CROSS") == "1"
	}
	return v.short || !testing.Short()
}

var goVariants = []goVariant{
	{"plain", runtime.GOOS, runtime.GOARCH, nil, true},
	{"stripped", runtime.GOOS, runtime.GOARCH, []string{"-ldflags=-s -w"}, true},
	{"pie", runtime.GOOS, runtime.GOARCH, []string{"-buildmode=pie", "-ldflags=-s -w"}, false},
	{"windows", "windows", "amd64", []string{"-ldflags=-s -w"}, false},
	{"darwin", "darwin", "arm64", []string{"-ldflags=-s -w"}, false},
	{"s390x", "linux", "s390x", []string{"-ldflags=-s -w"}, false},
	{"386", "linux", "386", []string{"-ldflags=-s -w"}, false},
}

var testPrograms struct {
	once sync.Once
	dir  string
	bins map[string]string
	err  error
}

// goPrograms returns the built variants by name, building them on first
// use; the directory is removed by TestMain.
func goPrograms(t testing.TB) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the test programs")
	}
	testPrograms.once.Do(func() {
		dir, err := os.MkdirTemp("", "ferry-gosyms-")
		if err != nil {
			testPrograms.err = err
			return
		}
		testPrograms.dir = dir
		testPrograms.bins = map[string]string{}
		src, err := filepath.Abs(filepath.Join("testdata", "gosyms", "app"))
		if err != nil {
			testPrograms.err = err
			return
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		sem := make(chan struct{}, runtime.GOMAXPROCS(0))
		for _, v := range goVariants {
			if !v.wanted() {
				continue
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				out := filepath.Join(dir, v.name, "app")
				args := append([]string{"build", "-o", out}, v.flags...)
				cmd := exec.Command("go", append(args, ".")...)
				cmd.Dir = src
				cmd.Env = append(os.Environ(), "GOOS="+v.goos, "GOARCH="+v.goarch, "CGO_ENABLED=0",
					"GOFLAGS=-mod=vendor", "GOWORK=off", "GOTOOLCHAIN=local", "GOPROXY=off")
				b, err := cmd.CombinedOutput()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					testPrograms.err = &exec.Error{Name: "go build " + v.name + ": " + string(b), Err: err}
					return
				}
				testPrograms.bins[v.name] = out
			})
		}
		wg.Wait()
	})
	if testPrograms.err != nil {
		t.Fatal(testPrograms.err)
	}
	return testPrograms.bins
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testPrograms.dir != "" {
		os.RemoveAll(testPrograms.dir)
	}
	os.Exit(code)
}

// TestGoSymbolsRead reads the function names of every variant: the same
// set whatever the format, stripped or not, and every function the ELF
// symbol table's line table lists (debug/gosym) is there.
func TestGoSymbolsRead(t *testing.T) {
	bins := goPrograms(t)
	want := []string{
		"example.com/app main",
		"example.com/vulnmod Good",
		"example.com/vulnmod T.Method", // (*T).Method
		"example.com/vulnmod T.Value",
		"example.com/vulnmod Map",     // Map[go.shape.int,go.shape.string]
		"example.com/vulnmod Box.Get", // (*Box[go.shape.string]).Get
		"example.com/vulnmod Tiny",    // inlined everywhere: only the inline tree names it
		"example.com/vulnmod/whole Do",
	}
	absent := []string{"example.com/vulnmod Bad", "example.com/other Answer"}
	for _, v := range goVariants {
		path, ok := bins[v.name]
		if !ok {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			g := readTestSymbols(t, path)
			for _, k := range want {
				pkg, sym, _ := strings.Cut(k, " ")
				if !g.has(pkg, sym) {
					t.Errorf("%s not found", k)
				}
			}
			for _, k := range absent {
				pkg, sym, _ := strings.Cut(k, " ")
				if g.has(pkg, sym) {
					t.Errorf("%s found; it is not linked", k)
				}
			}
			if !g.hasPackage("example.com/vulnmod/whole") || g.hasPackage("example.com/other") || g.hasPackage("example.com/vulnmod/unused") {
				t.Errorf("packages: whole %v, other %v, unused %v; want true, false, false",
					g.hasPackage("example.com/vulnmod/whole"), g.hasPackage("example.com/other"), g.hasPackage("example.com/vulnmod/unused"))
			}
			if d := cmp.Diff([]string{"example.com/app", "example.com/vulnmod", "stdlib"}, g.modules); d != "" {
				t.Errorf("linked modules (-want +got):\n%s", d)
			}
		})
	}
	t.Run("gosym", func(t *testing.T) {
		// Every function of the line table as debug/gosym lists it (the
		// plain binary, located through .gopclntab) is found.
		if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
			t.Skip("the plain binary is not ELF here")
		}
		f, err := elf.Open(bins["plain"])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		data, err := f.Section(".gopclntab").Data()
		if err != nil {
			t.Fatal(err)
		}
		tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, f.Section(".text").Addr))
		if err != nil {
			t.Fatal(err)
		}
		g := readTestSymbols(t, bins["plain"])
		for _, fn := range tab.Funcs {
			pkg, sym, ok := splitFuncName(fn.Name)
			if !ok {
				continue
			}
			if pkg == "main" {
				pkg = "example.com/app"
			}
			if !g.has(pkg, sym) {
				t.Errorf("%s (%s %s) not found", fn.Name, pkg, sym)
			}
		}
		if g.len() < len(tab.Funcs)/2 {
			t.Errorf("%d symbols for %d functions", g.len(), len(tab.Funcs))
		}
	})
}

func readTestSymbols(t *testing.T, path string) *goSymbols {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bi, err := buildinfo.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	mods := []string{bi.Main.Path}
	for _, d := range bi.Deps {
		mods = append(mods, d.Path)
	}
	g, err := readGoSymbols(f, bi.Path, mods)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGoSymbolsNotGo: files that are no Go binary give an error, never
// a table.
func TestGoSymbolsNotGo(t *testing.T) {
	for name, data := range map[string]string{
		"empty":   "",
		"text":    "#!/bin/sh\necho hi\n",
		"elfhead": "\x7fELF\x02\x01\x01" + strings.Repeat("\x00", 57),
	} {
		if _, err := readGoSymbols(strings.NewReader(data), "", nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestSplitFuncName names symbols as govulncheck does, without type
// arguments.
func TestSplitFuncName(t *testing.T) {
	for in, want := range map[string]string{
		"net/http.(*Server).Serve":                        "net/http Server.Serve",
		"net/http.Header.Get":                             "net/http Header.Get",
		"net/http.ListenAndServe":                         "net/http ListenAndServe",
		"gopkg.in/yaml%2ev2.Unmarshal":                    "gopkg.in/yaml.v2 Unmarshal",
		"go.etcd.io/bbolt.Open":                           "go.etcd.io/bbolt Open",
		"example.com/m.Map[go.shape.int,go.shape.string]": "example.com/m Map",
		"example.com/m.Map[...]":                          "example.com/m Map",
		"example.com/m.(*Box[go.shape.string]).Get":       "example.com/m Box.Get",
		"example.com/m.Box[example.com/x.T].Get":          "example.com/m Box.Get",
		"example.com/m.F.func1":                           "example.com/m F.func1",
		"main.main":                                       "main main",
		"runtime.gcWriteBarrier":                          "runtime gcWriteBarrier",
		"type:.eq.example.com/m.T":                        "",
		"go:buildid":                                      "",
		"go.buildid":                                      "",
		"nodot":                                           "",
	} {
		pkg, sym, ok := splitFuncName(in)
		got := ""
		if ok {
			got = pkg + " " + sym
		}
		if got != want {
			t.Errorf("splitFuncName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEvidenceLevels scans each variant with the crafted records of
// testdata/gosyms/osv: every level, methods, generics, an inlined
// function, whole packages and modules, and platform-limited imports.
// govulncheck v1.9.0 -mode=binary agrees on the plain binary except for
// GO-2099-0004 (generics: it keeps the type arguments in the names and
// finds only the package); on stripped binaries it reads no symbols and
// reports every record that lists packages at symbol level.
func TestEvidenceLevels(t *testing.T) {
	bins := goPrograms(t)
	adv, err := LoadOSV(context.Background(), filepath.Join("testdata", "gosyms", "osv"))
	if err != nil {
		t.Fatal(err)
	}
	linux := map[string]string{
		"GO-2099-0001": "package [example.com/vulnmod.Bad] []",
		"GO-2099-0002": "symbol [example.com/vulnmod.Bad example.com/vulnmod.Good] [example.com/vulnmod.Good]",
		"GO-2099-0003": "symbol [example.com/vulnmod.T.Method example.com/vulnmod.T.Value] [example.com/vulnmod.T.Method example.com/vulnmod.T.Value]",
		"GO-2099-0004": "symbol [example.com/vulnmod.Box.Get example.com/vulnmod.Map] [example.com/vulnmod.Box.Get example.com/vulnmod.Map]",
		"GO-2099-0005": "module [example.com/vulnmod/unused.X] []",
		"GO-2099-0006": "symbol [] []",
		"GO-2099-0007": "symbol [] []",
		"GO-2099-0008": "symbol [example.com/vulnmod.Tiny] [example.com/vulnmod.Tiny]",
		"GO-2099-0009": "module [example.com/vulnmod/unused.X] []",
		"GO-2099-0010": "module [] []",
	}
	for _, v := range goVariants {
		path, ok := bins[v.name]
		if !ok {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			want := maps.Clone(linux)
			if v.goos == "windows" {
				// the import limited to windows applies
				want["GO-2099-0009"] = "symbol [example.com/vulnmod.Good example.com/vulnmod/unused.X] [example.com/vulnmod.Good]"
			}
			dir := t.TempDir()
			copyFile(t, path, filepath.Join(dir, "bin", "app"))
			rep, err := Scan(context.Background(), "dir:"+dir, adv, Options{Evidence: true})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, f := range rep.Findings {
				if f.Evidence == nil {
					t.Errorf("%s: no evidence", f.ID)
					continue
				}
				got[f.ID] = f.Evidence.Level + " " + brackets(f.Evidence.Symbols) + " " + brackets(f.Evidence.Found)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("evidence (-want +got):\n%s", d)
			}

			// Without the option: the same findings, no evidence.
			rep, err = Scan(context.Background(), "dir:"+dir, adv, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Findings) != len(want) {
				t.Errorf("%d findings without evidence, want %d", len(rep.Findings), len(want))
			}
			for _, f := range rep.Findings {
				if f.Evidence != nil {
					t.Errorf("%s: evidence %+v without Options.Evidence", f.ID, f.Evidence)
				}
			}
		})
	}
}

// TestEvidenceNone: findings through an SBOM, and in a binary whose line
// table cannot be read, carry no evidence; the latter is said.
func TestEvidenceNone(t *testing.T) {
	bins := goPrograms(t)
	adv, err := LoadOSV(context.Background(), filepath.Join("testdata", "gosyms", "osv"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sbom := filepath.Join(dir, "a.cdx.json")
	os.WriteFile(sbom, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
	 {"type":"library","bom-ref":"c1","name":"example.com/vulnmod","version":"v1.2.0","purl":"pkg:golang/example.com/vulnmod@v1.2.0"}]}`), 0o644)
	rep, err := Scan(context.Background(), "sbom:"+sbom, adv, Options{Evidence: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 {
		t.Fatal("no findings through the SBOM")
	}
	for _, f := range rep.Findings {
		if f.Evidence != nil {
			t.Errorf("SBOM finding %s has evidence %+v", f.ID, f.Evidence)
		}
	}

	// A binary whose line table is damaged: its magic overwritten.
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return
	}
	b, err := os.ReadFile(bins["plain"])
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bins["plain"])
	if err != nil {
		t.Fatal(err)
	}
	off := f.Section(".gopclntab").Offset
	f.Close()
	copy(b[off:], "\x00\x00\x00\x00")
	root := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	if err := os.WriteFile(filepath.Join(root, "bin", "app"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	rep, err = Scan(context.Background(), "dir:"+root, adv, Options{Evidence: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 {
		t.Fatal("no findings in the damaged binary")
	}
	for _, f := range rep.Findings {
		if f.Evidence != nil {
			t.Errorf("%s has evidence %+v from a damaged line table", f.ID, f.Evidence)
		}
	}
	said := false
	for _, ne := range rep.NotEvaluated {
		said = said || strings.Contains(ne.Reason, "Go symbols not read")
	}
	if !said {
		t.Errorf("not_evaluated does not say the symbols were not read: %+v", rep.NotEvaluated)
	}
}

// TestEvidenceTable: the table gets an EVIDENCE column when findings have
// evidence.
func TestEvidenceTable(t *testing.T) {
	rep := &Report{Findings: []Finding{
		{ID: "GO-1", Package: PackageRef{Ecosystem: "Go", Name: "m"}, Evidence: &Evidence{Level: EvidencePackage}},
		{ID: "GO-2", Package: PackageRef{Ecosystem: "Go", Name: "n"}},
	}}
	var b strings.Builder
	if err := Write(&b, rep, "table"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "EVIDENCE") || !strings.Contains(out, " package ") {
		t.Errorf("no EVIDENCE column:\n%s", out)
	}
	rep.Findings[0].Evidence = nil
	b.Reset()
	Write(&b, rep, "table")
	if strings.Contains(b.String(), "EVIDENCE") {
		t.Errorf("EVIDENCE column without evidence:\n%s", b.String())
	}
}

func TestMergeEvidence(t *testing.T) {
	a := &Evidence{Level: EvidencePackage, Symbols: []string{"p.A", "p.B"}}
	b := &Evidence{Level: EvidenceSymbol, Symbols: []string{"p.B", "p.C"}, Found: []string{"p.C"}}
	got := mergeEvidence(a, b)
	want := &Evidence{Level: EvidenceSymbol, Symbols: []string{"p.A", "p.B", "p.C"}, Found: []string{"p.C"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if mergeEvidence(a, nil) != nil || mergeEvidence(nil, b) != nil {
		t.Error("merging with unknown evidence is not unknown")
	}
}

func brackets(s []string) string { return "[" + strings.Join(s, " ") + "]" }

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// FuzzGoSymbols: any bytes give a table or an error, never a panic. The
// seeds put a line table header (each magic, both byte orders) into a
// minimal ELF file's .gopclntab.
func FuzzGoSymbols(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	for _, magic := range []uint32{pclnGo12, pclnGo116, pclnGo118, pclnGo120} {
		hdr := make([]byte, 8+8*8)
		binary.LittleEndian.PutUint32(hdr, magic)
		hdr[6], hdr[7] = 1, 8
		binary.LittleEndian.PutUint64(hdr[8:], 2)
		for i, off := range []uint64{72, 100, 104, 108, 112} {
			binary.LittleEndian.PutUint64(hdr[8+(3+i)*8:], off)
		}
		names := "main.main\x00example.com/m.(*T[go.shape.int]).M\x00"
		f.Add(append(append(hdr, names...), make([]byte, 64)...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		readGoSymbols(bytes.NewReader(data), "example.com/app", []string{"example.com/m"})
		if tab, ok := parsePCLNHeader(io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))), 0); ok && tab.magic != pclnGo12 {
			g := &goSymbols{pkgs: map[string]struct{}{}}
			if err := g.build(io.NewSectionReader(tab.r, tab.funcnameOff, tab.funcnameLen), "example.com/app"); err == nil {
				g.finish([]string{"example.com/m"})
				g.has("example.com/m", "T.M")
				g.hasPackage("example.com/m")
			}
		}
	})
}

// TestEvidenceInOutputs: SARIF (result properties), CycloneDX (analysis
// detail) and OpenVEX (status_notes) carry the evidence level and the
// symbols checked or found.
func TestEvidenceInOutputs(t *testing.T) {
	bins := goPrograms(t)
	adv, err := LoadOSV(context.Background(), filepath.Join("testdata", "gosyms", "osv"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyFile(t, bins["plain"], filepath.Join(dir, "bin", "app"))
	rep, err := Scan(context.Background(), "dir:"+dir, adv, Options{Evidence: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"sarif":     {`"evidence":{"level":"package","symbols":["example.com/vulnmod.Bad"]}`, `"evidence":{"level":"module"`},
		"cyclonedx": {"Go symbol evidence: package (none of the vulnerable symbols example.com/vulnmod.Bad is in the binary)", "Go symbol evidence: symbol (vulnerable symbols in the binary: example.com/vulnmod.Good)"},
		"openvex":   {"Go symbol evidence: module", "Go symbol evidence: package (none of the vulnerable symbols example.com/vulnmod.Bad is in the binary)"},
	}
	for format, subs := range want {
		var b strings.Builder
		if err := Write(&b, rep, format); err != nil {
			t.Fatal(err)
		}
		compact := strings.Join(strings.Fields(b.String()), "")
		for _, s := range subs {
			if !strings.Contains(b.String(), s) && !strings.Contains(compact, strings.Join(strings.Fields(s), "")) {
				t.Errorf("%s output lacks %q", format, s)
			}
		}
		if strings.Contains(b.String(), "reachability was not analysed") {
			t.Errorf("%s output says reachability was not analysed for findings with evidence", format)
		}
	}
}

// TestSortHashes: the radix sort of symbol hashes sorts as slices.Sort
// does, duplicates, extremes and short slices included.
func TestSortHashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 1023, 1024, 1025, 5000, 40000} {
		hs := make([]uint64, n)
		for i := range hs {
			switch i % 7 {
			case 0:
				hs[i] = 0
			case 1:
				hs[i] = ^uint64(0)
			case 2:
				hs[i] = uint64(i % 13) // many duplicates, high bytes zero
			default:
				hs[i] = rng.Uint64()
			}
		}
		want := slices.Clone(hs)
		slices.Sort(want)
		sortHashes(hs)
		if !slices.Equal(hs, want) {
			t.Errorf("n=%d: not sorted as slices.Sort sorts", n)
		}
	}
}
