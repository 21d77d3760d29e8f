package vexsite

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/vex"
	"github.com/ferry-dev/ferry/vex/consensus"
	"github.com/google/go-cmp/cmp"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

// scanGoProgram builds scan's Go test program (its vendored stand-in
// module example.com/vulnmod v1.2.0) into a directory and scans it with
// evidence against scan's crafted records: GO-2099-0001 package level,
// GO-2099-0005 module level, GO-2099-0002 symbol level among others.
func scanGoProgram(t *testing.T) *scan.Report {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the test program")
	}
	src, err := filepath.Abs(filepath.Join("..", "scan", "testdata", "gosyms", "app"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "app"), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=vendor", "GOWORK=off", "GOTOOLCHAIN=local", "GOPROXY=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	adv, err := scan.LoadOSV(context.Background(), filepath.Join("..", "scan", "testdata", "gosyms", "osv"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := scan.Scan(context.Background(), "dir:"+dir, adv, scan.Options{Evidence: true})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestSymbolStatements: module and package level findings become
// not_affected by ferry:symbols (tier analysis) in the scan; symbol level
// findings stay unknown; a vendor's affected statement overrides the
// analysis; the statements and their digests are deterministic.
func TestSymbolStatements(t *testing.T) {
	rep := scanGoProgram(t)
	levels := map[string]string{}
	for _, f := range rep.Findings {
		levels[f.ID] = f.Evidence.Level
	}
	for id, want := range map[string]string{"GO-2099-0001": scan.EvidencePackage, "GO-2099-0005": scan.EvidenceModule, "GO-2099-0002": scan.EvidenceSymbol} {
		if levels[id] != want {
			t.Fatalf("%s: evidence %q, want %q (the test program changed?)", id, levels[id], want)
		}
	}

	ins := SymbolStatements(rep)
	if d := cmp.Diff(ins, SymbolStatements(rep)); d != "" {
		t.Fatalf("not deterministic:\n%s", d)
	}
	got := map[string]consensus.Input{}
	for _, in := range ins {
		got[in.Statement.Vulnerability] = in
	}
	for id, level := range levels {
		in, ok := got[id]
		if level == scan.EvidenceSymbol {
			if ok {
				t.Errorf("%s: symbol level gives a statement", id)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: %s level gives no statement", id, level)
			continue
		}
		if in.Origin != consensus.OriginAnalysis || in.Statement.Issuer != SymbolsIssuer ||
			in.Statement.Justification != openvex.VulnerableCodeNotPresent || in.Statement.DocumentDigest == "" {
			t.Errorf("%s: %+v", id, in)
		}
	}
	if s := got["GO-2099-0001"].Statement.ImpactStatement; s == "" || !containsAll(s, "example.com/vulnmod.Bad", "GO-2099-0001") {
		t.Errorf("impact statement %q does not name the symbols checked", s)
	}

	// Another location gives another digest.
	moved := *rep
	moved.Findings = append([]scan.Finding(nil), rep.Findings...)
	for i := range moved.Findings {
		moved.Findings[i].Locations = []scan.Location{{Path: "usr/bin/other"}}
	}
	if a, b := SymbolStatements(&moved)[0].Statement.DocumentDigest, ins[0].Statement.DocumentDigest; a == b {
		t.Error("the digest does not depend on the binary's path")
	}

	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	fs := &fakeStore{}
	apply := func(fs *fakeStore) map[string]scan.VEX {
		r := *rep
		r.Findings = append([]scan.Finding(nil), rep.Findings...)
		if err := ApplyToScan(context.Background(), fs, &r, Options{At: at, Analysis: SymbolStatements(&r)}); err != nil {
			t.Fatal(err)
		}
		out := map[string]scan.VEX{}
		for _, f := range r.Findings {
			out[f.ID] = *f.VEX
		}
		return out
	}
	vx := apply(fs)
	for id, level := range levels {
		v := vx[id]
		switch level {
		case scan.EvidenceSymbol:
			if v.Status != consensus.StatusUnknown {
				t.Errorf("%s (symbol): %s, want unknown", id, v.Status)
			}
		default:
			if v.Status != consensus.StatusNotAffected || v.Tier != string(consensus.TierAnalysis) || v.Issuer != SymbolsIssuer || v.Document == "" {
				t.Errorf("%s (%s): %+v, want not_affected by ferry:symbols (analysis)", id, level, v)
			}
		}
	}

	// A vendor's affected statement outranks the analysis.
	var pkgID string
	for _, f := range rep.Findings {
		if f.ID == "GO-2099-0001" {
			pkgID = componentID(f.Package)
		}
	}
	fs = &fakeStore{stmts: []store.VEXStatement{{Statement: vex.Statement{
		Vulnerability: "GO-2099-0001", Status: openvex.StatusAffected, Issuer: "Vendor", Timestamp: at.Add(-time.Hour),
		Products: []vex.Product{{ID: pkgID}}, DocumentDigest: "sha256:01",
	}, Channel: "feeds", Source: "vendor"}},
		trust: []store.TrustFile{{Channel: "feeds", Path: "trust/issuers.json", Data: []byte(`{"issuers":[{"id":"Vendor","tier":"vendor"}],"schema":"ferry.dev/issuers/v1"}`)}},
	}
	vx = apply(fs)
	if v := vx["GO-2099-0001"]; v.Status != consensus.StatusAffected || v.Tier != string(consensus.TierVendor) {
		t.Errorf("with the vendor's statement: %+v, want affected (vendor)", v)
	}
	if v := vx["GO-2099-0005"]; v.Status != consensus.StatusNotAffected || v.Tier != string(consensus.TierAnalysis) {
		t.Errorf("GO-2099-0005 beside the vendor's statement: %+v", v)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
