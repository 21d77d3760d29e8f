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
		// The gate story: blocked by two advisories, the vendor's VEX removes
		// one, a waiver passes, its expiry blocks, an unsigned image is
		// blocked; an older decision replays at its kit version.
		"BLOCK GATE_SEVERITY          2 findings", `consensus "unknown" → "not_affected"`, "rule GATE_SEVERITY: block → block (2 → 1)",
		"Verdict: PASS", "expired 2026-12-15T00:00:00Z", "the record file is not the record that was signed",
		"BLOCK GATE_SIGNATURE", "inputs changed: channel acme-feeds v2 → v3 (replayed at the recorded versions)",
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

// absArgs makes the demo's relative paths absolute under its directory and
// leaves absolute paths, flags and plain words alone.
func TestDemoAbsArgs(t *testing.T) {
	got := absArgs("/d", []string{"gate", "verify", "s.intoto.jsonl", "--key", "keys/gate.pub", "--record=s.json", "/abs/x.json",
		"oci:image", "sbom:sbom/a.cdx.json", "--at", "2026-12-01T00:00:00Z", "store"})
	want := []string{"gate", "verify", "/d/s.intoto.jsonl", "--key", "/d/keys/gate.pub", "--record=/d/s.json", "/abs/x.json",
		"oci:/d/image", "sbom:/d/sbom/a.cdx.json", "--at", "2026-12-01T00:00:00Z", "/d/store"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("absArgs:\n got %q\nwant %q", got, want)
	}
}
