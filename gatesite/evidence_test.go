package gatesite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/gate"
	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/vexsite"
)

// noVEX is a store with advisories' aliases and no VEX statements.
type noVEX struct{}

func (noVEX) VEXStatements(...string) ([]store.VEXStatement, error)    { return nil, nil }
func (noVEX) ForEachVEXStatement(func(store.VEXStatement) error) error { return nil }
func (noVEX) VEXDocuments() ([]store.VEXDocument, error)               { return nil, nil }
func (noVEX) TrustFiles() ([]store.TrustFile, error)                   { return nil, nil }
func (noVEX) Advisory(string) ([]store.Advisory, error)                { return nil, nil }

// TestGateAnalysis: the Go test program's package- and module-level
// findings are not_affected by ferry:symbols; the gate with vex.analysis
// false counts them unknown (and blocks), with true passes them. The
// findings carry their evidence level into the record.
func TestGateAnalysis(t *testing.T) {
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
	ctx := context.Background()
	adv, err := scan.LoadOSV(ctx, filepath.Join("..", "scan", "testdata", "gosyms", "osv"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rep, err := scan.Scan(ctx, "dir:"+dir, adv, scan.Options{Evidence: true, Time: at})
	if err != nil {
		t.Fatal(err)
	}
	if err := vexsite.ApplyToScan(ctx, noVEX{}, rep, vexsite.Options{At: at, Analysis: vexsite.SymbolStatements(rep)}); err != nil {
		t.Fatal(err)
	}
	var keep []gate.Finding
	for _, f := range findings(rep) {
		if f.Evidence == scan.EvidenceModule || f.Evidence == scan.EvidencePackage {
			keep = append(keep, f)
		}
	}
	if len(keep) < 2 {
		t.Fatalf("%d module or package findings, want several", len(keep))
	}
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprint("analysis=", allow), func(t *testing.T) {
			pol, err := gate.ParsePolicy("policy.yaml", fmt.Appendf(nil, "apiVersion: ferry.dev/policy/v1\ndefault: {block: {severity: low}, vex: {analysis: %v}}\n", allow))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := gate.Evaluate(gate.Input{
				Subject: gate.Subject{Ref: "dir:app", Kind: "directory"}, Policy: pol, At: at, FerryVersion: "test",
				Consensus: "consensus/v1", Findings: keep,
			})
			if err != nil {
				t.Fatal(err)
			}
			want := gate.VerdictBlock
			if allow {
				want = gate.VerdictPass
			}
			if rec.Verdict != want {
				t.Errorf("verdict %s, want %s", rec.Verdict, want)
			}
			for _, f := range rec.Findings {
				if f.Consensus.Tier != gate.TierAnalysis || f.Evidence == "" {
					t.Errorf("%s: consensus %+v, evidence %q", f.ID, f.Consensus, f.Evidence)
				}
				if wantEff := map[bool]string{false: gate.StatusUnknown, true: gate.StatusNotAffected}[allow]; f.Effective != wantEff {
					t.Errorf("%s: effective %s, want %s", f.ID, f.Effective, wantEff)
				}
			}
		})
	}
}
