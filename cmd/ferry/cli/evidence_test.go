package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
)

// TestSymbolEvidenceVEX: a store carrying a package-level and a
// module-level record of scan's Go test program. ferry scan --evidence
// makes both not_affected by ferry:symbols (tier analysis); ferry vex
// explain --evidence shows the statement; ferry gate counts them unknown
// under vex.analysis: false (blocked) and passes them under true.
func TestSymbolEvidenceVEX(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the test program")
	}
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("..", "..", "..", "scan", "testdata", "gosyms"))
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "root")
	cmd := exec.Command("go", "build", "-o", filepath.Join(target, "bin", "app"), ".")
	cmd.Dir = filepath.Join(src, "app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=vendor", "GOWORK=off", "GOTOOLCHAIN=local", "GOPROXY=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	var jsonl bytes.Buffer
	for _, id := range []string{"GO-2099-0001", "GO-2099-0005"} {
		b, err := os.ReadFile(filepath.Join(src, "osv", id+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&jsonl, b); err != nil {
			t.Fatal(err)
		}
		jsonl.WriteByte('\n')
	}
	c := fixtures.NewChannel("feeds")
	kitPath := filepath.Join(dir, "feeds.kit.tar.zst")
	if err := os.WriteFile(kitPath, fixtures.Kit(c, map[string][]byte{"advisories/govulndb/osv.jsonl": jsonl.Bytes()}, fixtures.KitOptions{}), 0o644); err != nil {
		t.Fatal(err)
	}
	rootPath := filepath.Join(dir, "root.json")
	if err := os.WriteFile(rootPath, c.Root(), 0o644); err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, "store")
	if out, errOut, code := runFerry(t, "import", kitPath, "--store", st, "--root", rootPath, "--at=2026-11-28T01:00:00Z", "--reason", "test clock"); code != ExitOK {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	at := "--at=2026-12-01T00:00:00Z"

	out, errOut, code := runFerry(t, "scan", "dir:"+target, "--store", st, "--evidence", "--format", "json", "--fail-on", "low", at)
	if code != ExitOK {
		t.Fatalf("scan --evidence: exit %d (the analysis must suppress for --fail-on)\n%s%s", code, out, errOut)
	}
	var rep struct {
		Findings []struct {
			ID       string
			Evidence struct{ Level string }
			VEX      struct{ Status, Tier, Issuer, Document string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 2 {
		t.Fatalf("%d findings, want 2:\n%s", len(rep.Findings), out)
	}
	for _, f := range rep.Findings {
		if f.VEX.Status != "not_affected" || f.VEX.Tier != "analysis" || f.VEX.Issuer != "ferry:symbols" || !strings.HasPrefix(f.VEX.Document, "sha256:") {
			t.Errorf("%s (%s): VEX %+v, want not_affected by ferry:symbols (analysis)", f.ID, f.Evidence.Level, f.VEX)
		}
	}
	if _, _, code := runFerry(t, "scan", "dir:"+target, "--store", st, "--fail-on", "low", at); code != ExitBlocked {
		t.Errorf("scan without --evidence: exit %d, want %d (no analysis statements)", code, ExitBlocked)
	}

	out, errOut, code = runFerry(t, "vex", "explain", "--store", st, "--vuln", "GO-2099-0001", "--product", "pkg:golang/example.com/vulnmod@v1.2.0", "--evidence", "dir:"+target, at)
	if code != ExitOK || !strings.Contains(out, "ferry:symbols") || !strings.Contains(out, "analysis") {
		t.Errorf("vex explain --evidence: exit %d\n%s%s", code, out, errOut)
	}

	for _, allow := range []bool{false, true} {
		policy := filepath.Join(dir, "policy.yaml")
		src := "apiVersion: ferry.dev/policy/v1\ndefault: {block: {severity: low}, vex: {analysis: false}}\n"
		want := ExitBlocked
		if allow {
			src = strings.Replace(src, "analysis: false", "analysis: true", 1)
			want = ExitOK
		}
		os.WriteFile(policy, []byte(src), 0o644)
		out, errOut, code := runFerry(t, "gate", "dir:"+target, "--store", st, "--policy", policy, at)
		if code != want {
			t.Errorf("gate with vex.analysis %v: exit %d, want %d\n%s%s", allow, code, want, out, errOut)
		}
	}
}
