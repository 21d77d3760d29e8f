package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
)

// offlineGateEnv carries the gate's arguments to the copy of this test binary
// that runs without a network namespace.
const offlineGateEnv = "FERRY_TEST_OFFLINE_GATE"

// TestGateOfflineChild is the half of TestGateOffline that runs inside
// `unshare -rn`; on its own it does nothing.
func TestGateOfflineChild(t *testing.T) {
	dir := os.Getenv(offlineGateEnv)
	if dir == "" {
		return // runs only as the child of TestGateOffline
	}
	offlineGate(t, dir, filepath.Join(dir, "inside.json"))
}

func offlineGate(t *testing.T, dir, out string) {
	t.Helper()
	sbom := "sbom:" + filepath.Join(dir, "app.cdx.json")
	if o, e, code := runFerry(t, "gate", sbom, "--store", filepath.Join(dir, "store"), "--policy", filepath.Join(dir, "policy.yaml"),
		"--at=2026-12-01T00:00:00Z", "-o", out); code != cli.ExitBlocked {
		t.Fatalf("gate: exit %d, want %d\n%s%s", code, cli.ExitBlocked, o, e)
	}
}

// A gate needs no network: the record made inside a namespace without one
// (unshare -rn) has the same bytes as the record made outside.
func TestGateOffline(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err == nil {
		err = exec.Command(unshare, "-rn", "true").Run()
	}
	if err != nil {
		if toolsRequired() {
			t.Fatalf("unshare -rn is not permitted (CI=true or FERRY_REQUIRE_TOOLS=1): %v", err)
		}
		t.Skipf("unshare -rn is not permitted here: %v", err)
	}
	src, st := gateStore(t, true)
	dir := filepath.Dir(st)
	if dir != src {
		t.Fatalf("store %s is not in %s", st, src)
	}
	write(t, filepath.Join(dir, "policy.yaml"), gatePolicy)

	outside := filepath.Join(dir, "outside.json")
	offlineGate(t, dir, outside)

	cmd := exec.Command(unshare, "-rn", os.Args[0], "-test.run=^TestGateOfflineChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), offlineGateEnv+"="+dir)
	combined, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gate inside unshare -rn: %v\n%s", err, combined)
	}
	if !bytes.Contains(combined, []byte("--- PASS: TestGateOfflineChild")) {
		t.Fatalf("the child did not run the gate:\n%s", combined)
	}
	want, err := os.ReadFile(outside)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "inside.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the record made offline differs from the one made online:\noffline: %s\nonline:  %s", got, want)
	}
}
