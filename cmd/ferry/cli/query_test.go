package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/store"
)

const queryOpenVEX = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "Example Security",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2026-0001"},
    "products": [{"@id": "pkg:golang/example.com/app@v1.2.0"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}`

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestStoreQuery(t *testing.T) {
	dir := t.TempDir()
	c := fixtures.NewChannel("feeds")
	files := map[string][]byte{
		"advisories/govulndb/osv.jsonl": []byte(
			`{"id":"GO-2026-0001","modified":"2026-11-01T00:00:00Z","aliases":["CVE-2026-0001"],"affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}` + "\n" +
				`{"id":"GO-2026-0002","modified":"2026-11-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},"versions":["0.9.0"]}]}` + "\n"),
		"enrich/kev/kev.json": []byte(`{"catalogVersion":"2026.11.27","count":1,"vulnerabilities":[{"cveID":"CVE-2026-0001","dateAdded":"2026-11-20"}]}`),
		"vex/vendor/" + hexSHA256([]byte(queryOpenVEX)) + ".json": []byte(queryOpenVEX),
	}
	kitPath := filepath.Join(dir, "feeds.kit.tar.zst")
	if err := os.WriteFile(kitPath, fixtures.Kit(c, files, fixtures.KitOptions{}), 0o644); err != nil {
		t.Fatal(err)
	}
	rootPath := filepath.Join(dir, "root.json")
	os.WriteFile(rootPath, c.Root(), 0o644)
	st := filepath.Join(dir, "store")
	if out, errOut, code := runFerry(t, "import", kitPath, "--store", st, "--root", rootPath, "--at=2026-11-28T01:00:00Z", "--reason", "test clock"); code != ExitOK {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}

	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"advisory by alias", []string{"--advisory", "CVE-2026-0001"}, ExitOK, []string{"# GO-2026-0001 (channel feeds, source govulndb)", `"id": "GO-2026-0001"`, "KEV: CVE-2026-0001 listed since 2026-11-20"}},
		{"unknown advisory", []string{"--advisory", "GO-1999-0001"}, ExitOK, []string{"advisory GO-1999-0001: not found"}},
		{"package", []string{"--package", "Go/example.com/lib"}, ExitOK, []string{"GO-2026-0001\nGO-2026-0002\n"}},
		{"package of an ecosystem without data", []string{"--package", "npm/left-pad"}, ExitOK, []string{"no advisories", "NO_ADVISORY_DATA"}},
		{"vex by advisory id", []string{"--vuln", "GO-2026-0001"}, ExitOK, []string{"CVE-2026-0001", "not_affected", "vulnerable_code_not_in_execute_path", "Example Security", "feeds/vendor"}},
		{"vex by versionless purl", []string{"--product", "pkg:golang/example.com/app"}, ExitOK, []string{"not_affected"}},
		{"no question", nil, ExitUsage, nil},
		{"two questions", []string{"--vuln", "X", "--advisory", "Y"}, ExitUsage, nil},
		{"malformed package", []string{"--package", "left-pad"}, ExitUsage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runFerry(t, append([]string{"store", "query", "--store", st}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}

	out, _, code := runFerry(t, "store", "query", "--store", st, "--advisory", "CVE-2026-0001", "--json")
	var res store.QueryResult
	if code != ExitOK || json.Unmarshal([]byte(out), &res) != nil || res.Schema != store.QuerySchema || !res.Found || len(res.Advisories) != 1 || res.KEV == nil {
		t.Fatalf("--json: exit %d\n%s", code, out)
	}
	out, _, _ = runFerry(t, "store", "query", "--store", st, "--advisory", "nope", "--json")
	if json.Unmarshal([]byte(out), &res) != nil || res.Found {
		t.Errorf("--json not found:\n%s", out)
	}
	if _, _, code := runFerry(t, "store", "query", "--store", filepath.Join(dir, "missing"), "--advisory", "X"); code != ExitOther {
		t.Errorf("a missing store: exit %d, want %d", code, ExitOther)
	}
}
