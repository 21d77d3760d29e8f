package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/store"
)

// runFerry runs the ferry command tree in process and returns stdout,
// stderr and the exit code.
func runFerry(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := New()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	code := ExitCode(root, root.Execute())
	return out.String(), errOut.String(), code
}

func TestImportAndStoreCommands(t *testing.T) {
	dir := t.TempDir()
	c := fixtures.NewChannel("acme")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := fixtures.SampleFiles()
	files["kit.json"] = []byte(`{"schema":"ferry.dev/kit/v1","freshness":{"advisories":"7d"}}`)
	root := write("root.json", c.Root())
	k1 := write("acme-1.kit.tar.zst", fixtures.Kit(c, files, fixtures.KitOptions{Version: 1}))
	files["docs/README.md"] = []byte("v2\n")
	k2 := write("acme-2.kit.tar.zst", fixtures.Kit(c, files, fixtures.KitOptions{Version: 2}))
	st := filepath.Join(dir, "store")
	at := "--at=2026-11-28T01:00:00Z"

	if _, errOut, code := runFerry(t, "import", k1, "--store", st, at, "--reason", "test clock"); code != ExitVerification || !strings.Contains(errOut, "KIT_UNKNOWN_CHANNEL") || !strings.Contains(errOut, "with --root FILE") {
		t.Fatalf("no root: exit %d, %s", code, errOut)
	}
	if out, errOut, code := runFerry(t, "import", k1, "--store", st, "--root", root, at, "--reason", "test clock", "--operator", "alice"); code != ExitOK || !strings.Contains(out, "activated channel acme: new channel -> version 1") {
		t.Fatalf("first import: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := runFerry(t, "import", k2, "--store", st, at, "--dry-run"); code != ExitOK || !strings.Contains(out, "dry run, nothing written") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if _, _, code := runFerry(t, "import", k2, "--store", st, at, "--reason", "test clock"); code != ExitOK {
		t.Fatalf("second import: exit %d", code)
	}
	if _, errOut, code := runFerry(t, "import", k1, "--store", st, at, "--reason", "test clock"); code != ExitVerification || !strings.Contains(errOut, "KIT_ROLLBACK") || !strings.Contains(errOut, "use --force-activate --reason TEXT") {
		t.Fatalf("rollback: exit %d, %s", code, errOut)
	}
	if _, _, code := runFerry(t, "import", k1, "--store", st, at, "--force-activate"); code != ExitUsage {
		t.Fatalf("--force-activate without --reason: exit %d", code)
	}
	if _, _, code := runFerry(t, "import", k1, "--store", st, at, "--force-activate", "--reason", "INC-7"); code != ExitOK {
		t.Fatalf("force: exit %d", code)
	}
	out, _, code := runFerry(t, "store", "log", "--store", st, "--json")
	var log []store.Receipt
	if code != ExitOK || json.Unmarshal([]byte(out), &log) != nil || len(log) != 3 || log[0].Operator != "alice" || log[2].Reason != "INC-7" {
		t.Fatalf("log: exit %d\n%s", code, out)
	}
	if out, _, code := runFerry(t, "store", "info", "--store", st, "--at=2026-12-10T00:00:00Z"); code != ExitOK || !strings.Contains(out, "STALE") {
		t.Fatalf("info: exit %d\n%s", code, out)
	}
	have := filepath.Join(dir, "have.json")
	if _, _, code := runFerry(t, "store", "inventory", "--store", st, "-o", have); code != ExitOK {
		t.Fatalf("inventory: exit %d", code)
	}
	var inv store.Inventory
	if data, err := os.ReadFile(have); err != nil || json.Unmarshal(data, &inv) != nil || inv.Channels[0].Version != 1 {
		t.Fatalf("have.json: %v %+v", err, inv)
	}
	// gc keeps the replaced kit (for gate replay); --keep 0 drops it and
	// then its blob.
	if out, _, code := runFerry(t, "store", "gc", "--store", st); code != ExitOK || !strings.Contains(out, "removed 0 unreferenced blob") {
		t.Fatalf("gc: exit %d\n%s", code, out)
	}
	if out, _, code := runFerry(t, "store", "gc", "--store", st, "--keep", "0"); code != ExitOK || !strings.Contains(out, "removed 1 unreferenced blob") {
		t.Fatalf("gc --keep 0: exit %d\n%s", code, out)
	}

	// A kit that fails is quarantined with its report.
	q := filepath.Join(dir, "quarantine")
	if _, errOut, code := runFerry(t, "import", k2, "--store", st, "--at=2027-06-01T00:00:00Z", "--reason", "test clock", "--quarantine", q); code != ExitVerification || !strings.Contains(errOut, "quarantined") {
		t.Fatalf("quarantine: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(q, "acme-2.kit.tar.zst.report.json")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(k2); !os.IsNotExist(err) {
		t.Error("the failed kit was not moved")
	}
}
