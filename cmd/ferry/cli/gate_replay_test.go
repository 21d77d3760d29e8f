package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/fixtures"
)

// A decision replays identical at the kit version it recorded after newer
// kits were imported (the store keeps the replaced kits), and says so;
// once store gc --keep drops that version, replay says it is gone.
func TestGateReplayAfterNewerImport(t *testing.T) {
	dir := t.TempDir()
	c := fixtures.NewChannel("feeds")
	adv := func(id, cve, sev string) string {
		return `{"id":"` + id + `","modified":"2026-11-01T00:00:00Z","aliases":["` + cve + `"],"database_specific":{"severity":"` + sev +
			`"},"affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}` + "\n"
	}
	st := filepath.Join(dir, "store")
	write(t, filepath.Join(dir, "root.json"), string(c.Root()))
	write(t, filepath.Join(dir, "app.cdx.json"), gateSBOM)
	policy := filepath.Join(dir, "policy.yaml")
	write(t, policy, gatePolicy)
	importVersion := func(v int64, advisories string) {
		t.Helper()
		kit := filepath.Join(dir, "feeds.kit.tar.zst")
		write(t, kit, string(fixtures.Kit(c, map[string][]byte{"advisories/govulndb/osv.jsonl": []byte(advisories)}, fixtures.KitOptions{Version: v})))
		if out, errOut, code := runFerry(t, "import", kit, "--store", st, "--root", filepath.Join(dir, "root.json"), "--at=2026-11-28T01:00:00Z", "--reason", "test clock"); code != cli.ExitOK {
			t.Fatalf("import v%d: exit %d\n%s%s", v, code, out, errOut)
		}
	}
	importVersion(1, adv("GO-2026-1003", "CVE-2026-1003", "LOW"))
	rec := filepath.Join(dir, "d.json")
	if out, errOut, code := runFerry(t, "gate", "sbom:"+filepath.Join(dir, "app.cdx.json"), "--store", st, "--policy", policy,
		"--at=2026-12-01T00:00:00Z", "-o", rec); code != cli.ExitOK {
		t.Fatalf("gate at v1: exit %d\n%s%s", code, out, errOut)
	}
	// v2 and v3 carry a HIGH advisory: a gate now would block.
	importVersion(2, adv("GO-2026-1001", "CVE-2026-1001", "HIGH"))
	importVersion(3, adv("GO-2026-1001", "CVE-2026-1001", "HIGH")+adv("GO-2026-1003", "CVE-2026-1003", "LOW"))

	out, errOut, code := runFerry(t, "gate", "replay", rec, "--store", st)
	if code != cli.ExitOK || !strings.HasPrefix(out, "identical: sha256:") || !strings.Contains(out, "inputs changed: channel feeds v1 → v3") {
		t.Fatalf("replay after newer imports: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runFerry(t, "gate", "replay", rec, "--store", st, "--json")
	var js struct {
		Identical bool     `json:"identical"`
		Since     []string `json:"since"`
	}
	if err := json.Unmarshal([]byte(out), &js); code != cli.ExitOK || err != nil || !js.Identical || len(js.Since) != 1 {
		t.Errorf("replay --json: exit %d %v\n%s", code, err, out)
	}

	// gc --keep 1 keeps v2 and drops v1: the record's version is gone.
	out = mustFerry(t, dir, "store", "gc", "--store", st, "--keep", "1").stdout
	if !strings.Contains(out, "dropped 1 old kit version(s), keeping the newest 1 per channel: feeds v1") || !strings.Contains(out, "rewrote ferry.db") {
		t.Errorf("gc --keep 1:\n%s", out)
	}
	out, errOut, code = runFerry(t, "gate", "replay", rec, "--store", st)
	if code != cli.ExitBlocked || !strings.Contains(out, "channel feeds v1 is no longer in the store") || !strings.Contains(out, "inputs changed") {
		t.Errorf("replay after gc --keep 1: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if _, errOut, code := runFerry(t, "store", "gc", "--store", st, "--keep", "-2"); code != cli.ExitUsage {
		t.Errorf("gc --keep -2: exit %d %s", code, errOut)
	}
}
