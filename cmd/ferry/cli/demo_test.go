package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo plays the whole demo: every step must end with the exit code it
// expects (the refusals included). --keep DIR keeps the files there and
// the last line says so.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	out, errOut, code := runFerry(t, "demo", "--keep", dir)
	if code != ExitOK || !strings.Contains(out, "demo complete") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"KIT_DIGEST_MISMATCH", "KIT_EXPIRED", "KIT_ROLLBACK", "identical:", "CVE-2026-99001", "NO_ADVISORY_DATA",
		"The demo's files are in " + dir + " (kept)."} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "trust", "root.json")); err != nil {
		t.Errorf("--keep DIR: %v", err)
	}
}

// TestDemoArgs: the demo takes no argument but the DIR of --keep, and
// never plays in a directory that is not empty.
func TestDemoArgs(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"demo", "extra"}, {"demo", "--keep", full}, {"demo", "--dir", full}, {"demo", "--keep", "a", "b"}} {
		if _, errOut, code := runFerry(t, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, ExitUsage, errOut)
		}
	}
}
