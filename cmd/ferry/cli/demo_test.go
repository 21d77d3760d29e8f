package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo plays the whole demo: every step must end with the exit code it
// expects (the refusals included).
func TestDemo(t *testing.T) {
	out, errOut, code := runFerry(t, "demo", "--dir", filepath.Join(t.TempDir(), "demo"))
	if code != ExitOK || !strings.Contains(out, "demo complete") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"KIT_DIGEST_MISMATCH", "KIT_EXPIRED", "KIT_ROLLBACK", "identical:", "CVE-2026-99001", "NO_ADVISORY_DATA"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
