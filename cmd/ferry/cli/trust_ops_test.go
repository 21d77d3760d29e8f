package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/store"
)

// TestImportAtNeedsReasonAndIsLogged: import --at is a pinned verification
// clock: refused without --reason; with it, the receipt and the log record
// the real time of the import, the clock, the reason and the operator, and
// store log and store info show them.
func TestImportAtNeedsReasonAndIsLogged(t *testing.T) {
	dir := t.TempDir()
	c := fixtures.NewChannel("acme")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := write("root.json", c.Root())
	k1 := write("acme-1.kit.tar.zst", fixtures.Kit(c, fixtures.SampleFiles(), fixtures.KitOptions{Version: 1}))
	st := filepath.Join(dir, "store")
	at := "--at=2026-11-28T01:00:00Z"

	if _, errOut, code := runFerry(t, "import", k1, "--store", st, "--root", root, at); code != ExitUsage || !strings.Contains(errOut, "--reason") {
		t.Fatalf("--at without --reason: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(st); err == nil {
		t.Fatal("a refused import created the store")
	}
	if _, errOut, code := runFerry(t, "import", k1, "--store", st, "--root", root, at, "--dry-run"); code != ExitOK {
		t.Fatalf("--at --dry-run needs no reason: exit %d, %s", code, errOut)
	}
	if _, errOut, code := runFerry(t, "import", k1, "--store", st, "--root", root, "--reason", "why"); code != ExitUsage || !strings.Contains(errOut, "--reason is only for") {
		t.Fatalf("--reason alone: exit %d, %s", code, errOut)
	}
	before := time.Now().UTC().Truncate(time.Second)
	out, errOut, code := runFerry(t, "import", k1, "--store", st, "--root", root, at, "--reason", "kit delayed in transit, INC-9", "--operator", "carol")
	if code != ExitOK || !strings.Contains(out, "clock pinned: verified as of 2026-11-28T01:00:00Z") {
		t.Fatalf("import --at --reason: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runFerry(t, "store", "log", "--store", st, "--json")
	var log []store.Receipt
	if code != ExitOK || json.Unmarshal([]byte(out), &log) != nil || len(log) != 1 {
		t.Fatalf("log: exit %d\n%s", code, out)
	}
	r := log[0]
	if r.Time.Before(before) || !r.VerifiedAt.Equal(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)) || r.Reason != "kit delayed in transit, INC-9" || r.Operator != "carol" {
		t.Errorf("receipt: time %s (want the real time, from %s on), verifiedAt %s, reason %q, operator %q", r.Time, before, r.VerifiedAt, r.Reason, r.Operator)
	}
	if out, _, _ := runFerry(t, "store", "log", "--store", st); !strings.Contains(out, "2026-11-28T01:00:00Z (pinned)") || !strings.Contains(out, "INC-9") {
		t.Errorf("store log does not show the pinned clock and the reason:\n%s", out)
	}
	if out, _, _ := runFerry(t, "store", "info", "--store", st, at); !strings.Contains(out, "verified at") || !strings.Contains(out, "clock pinned by carol: kit delayed in transit, INC-9") {
		t.Errorf("store info does not show the pinned clock:\n%s", out)
	}
}

// TestRootDisagreeingWithStoreIsRefused: a --root that is not the store's
// root for a channel the store knows is refused by import and by verify
// --store (exit 3), naming the disagreement; the store's own root is
// accepted.
func TestRootDisagreeingWithStoreIsRefused(t *testing.T) {
	dir := t.TempDir()
	c := fixtures.NewChannel("acme")
	impostor := fixtures.NewChannelN("acme", 2, 1, 1, 1)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := write("root.json", c.Root())
	other := write("impostor.json", impostor.Root())
	k1 := write("acme-1.kit.tar.zst", fixtures.Kit(c, fixtures.SampleFiles(), fixtures.KitOptions{Version: 1}))
	files := fixtures.SampleFiles()
	files["docs/README.md"] = []byte("v2\n")
	k2 := write("acme-2.kit.tar.zst", fixtures.Kit(c, files, fixtures.KitOptions{Version: 2}))
	st := filepath.Join(dir, "store")
	at := "--at=2026-11-28T01:00:00Z"
	if _, errOut, code := runFerry(t, "import", k1, "--store", st, "--root", root, at, "--reason", "test clock"); code != ExitOK {
		t.Fatalf("first import: exit %d %s", code, errOut)
	}
	for _, args := range [][]string{
		{"verify", k2, "--store", st, "--root", other, at},
		{"import", k2, "--store", st, "--root", other, at, "--reason", "test clock"},
	} {
		_, errOut, code := runFerry(t, args...)
		if code != ExitVerification || !strings.Contains(errOut, "impostor.json") || !strings.Contains(errOut, "disagrees with the store's trusted root") {
			t.Errorf("%s with a disagreeing --root: exit %d, %s", args[0], code, errOut)
		}
	}
	if v := storeVersion(t, st); v != 1 {
		t.Errorf("a refused import changed the active version to %d", v)
	}
	if _, errOut, code := runFerry(t, "import", k2, "--store", st, "--root", root, at, "--reason", "test clock"); code != ExitOK {
		t.Errorf("the store's own root as --root: exit %d %s", code, errOut)
	}
}

func storeVersion(t *testing.T, st string) int64 {
	t.Helper()
	out, _, code := runFerry(t, "store", "info", "--store", st, "--json")
	var in store.Info
	if code != ExitOK || json.Unmarshal([]byte(out), &in) != nil || len(in.Channels) != 1 {
		t.Fatalf("store info: exit %d\n%s", code, out)
	}
	return in.Channels[0].Version
}
