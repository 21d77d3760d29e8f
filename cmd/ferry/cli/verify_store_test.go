package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
)

// TestVerifyAgainstStore checks `ferry verify --store`: trust from the
// store, rollback refused, unknown channel refused, nothing written.
func TestVerifyAgainstStore(t *testing.T) {
	dir := t.TempDir()
	c := fixtures.NewChannel("acme")
	other := fixtures.NewChannel("other")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := fixtures.SampleFiles()
	files["kit.json"] = []byte(`{"schema":"ferry.dev/kit/v1"}`)
	root := write("root.json", c.Root())
	k1 := write("acme-1.kit.tar.zst", fixtures.Kit(c, files, fixtures.KitOptions{Version: 1}))
	k2 := write("acme-2.kit.tar.zst", fixtures.Kit(c, files, fixtures.KitOptions{Version: 2}))
	ko := write("other-1.kit.tar.zst", fixtures.Kit(other, files, fixtures.KitOptions{Version: 1}))
	st := filepath.Join(dir, "store")
	at := "--at=2026-11-28T01:00:00Z"
	if _, errOut, code := runFerry(t, "import", k2, "--store", st, "--root", root, at, "--reason", "test clock"); code != ExitOK {
		t.Fatalf("import: exit %d %s", code, errOut)
	}
	before := snapshotFiles(t, st)
	if out, errOut, code := runFerry(t, "verify", k2, "--store", st, at); code != ExitOK || !strings.Contains(out, "VERIFIED") {
		t.Fatalf("same kit: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := runFerry(t, "verify", k1, "--store", st, at); code != ExitVerification || !strings.Contains(out, "KIT_ROLLBACK") {
		t.Fatalf("older kit: exit %d\n%s", code, out)
	}
	if out, _, code := runFerry(t, "verify", ko, "--store", st, at); code != ExitVerification || !strings.Contains(out, "KIT_UNKNOWN_CHANNEL") {
		t.Fatalf("unknown channel: exit %d\n%s", code, out)
	}
	if _, _, code := runFerry(t, "verify", ko, "--store", st, "--root", write("other.json", other.Root()), at); code != ExitOK {
		t.Fatalf("unknown channel with --root: exit %d", code)
	}
	if after := snapshotFiles(t, st); after != before {
		t.Error("verify --store changed the store")
	}
	if _, _, code := runFerry(t, "verify", k1); code != ExitUsage {
		t.Errorf("no trust given: exit %d, want 2", code)
	}
}

// snapshotFiles lists the store's files with their sizes and times.
func snapshotFiles(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b.WriteString(p + " " + fi.ModTime().String() + "\n")
		}
		return nil
	})
	return b.String()
}
