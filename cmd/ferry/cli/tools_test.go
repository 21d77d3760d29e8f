package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// toolsRequired reports whether a test against a real external tool must
// fail instead of skipping when the tool is missing: in CI (CI=true) and
// with FERRY_REQUIRE_TOOLS=1.
func toolsRequired() bool {
	return os.Getenv("FERRY_REQUIRE_TOOLS") == "1" || os.Getenv("CI") == "true"
}

// toolsCache is where scripts/install-tools.sh installs the tools.
func toolsCache() string {
	if d := os.Getenv("FERRY_TOOLS_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "ferry", "bin")
}

// needTool returns the path of a real external tool, from the tools cache
// or PATH (the distribution registry also under Debian's name,
// docker-registry). Missing, it skips the test saying loudly how to install
// it, or fails it in CI and under FERRY_REQUIRE_TOOLS=1.
func needTool(t *testing.T, tool string) string {
	t.Helper()
	names := []string{tool}
	if tool == "registry" {
		names = append(names, "docker-registry")
	}
	if c := toolsCache(); c != "" {
		if p := filepath.Join(c, tool); isExecutable(p) {
			return p
		}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := "%q is neither in %s nor on PATH, so this test against the real tool did not run. Install it with: bash scripts/install-tools.sh %s"
	if toolsRequired() {
		t.Fatalf(msg+" (CI=true or FERRY_REQUIRE_TOOLS=1: real-tool tests must run)", tool, toolsCache(), tool)
	}
	t.Skipf("SKIPPED: "+msg, tool, toolsCache(), tool)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
