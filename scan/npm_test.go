package scan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// npmSet is "name@version [groups]" of each package, sorted.
func npmSet(ps []Package) []string {
	var out []string
	for _, p := range ps {
		s := p.Name + "@" + p.Version
		if len(p.DepGroups) > 0 {
			s += " " + strings.Join(p.DepGroups, ",")
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func inventoryOf(t *testing.T, target string) *InventoryResult {
	t.Helper()
	tg, err := ParseTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Inventory(context.Background(), tg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestNPMLockfileVersions reads the lockfiles npm 11 wrote for one project
// (testdata/npm, README.md there) with --lockfile-version 1, 2 and 3, and
// the hidden lockfile of its node_modules: all four list the same 53
// packages with the same flags — v1's nested "dependencies" objects, v2/v3's
// "packages" map whose "dependencies" map names to version strings.
func TestNPMLockfileVersions(t *testing.T) {
	v3 := inventoryOf(t, "file:testdata/npm/v3/package-lock.json")
	if len(v3.NotEvaluated) != 0 {
		t.Fatalf("not evaluated: %v", v3.NotEvaluated)
	}
	want := npmSet(v3.Packages)
	if len(want) != 53 {
		t.Errorf("v3: %d packages, want 53: %v", len(want), want)
	}
	for _, must := range []string{
		"express@4.17.1", "lodash@4.17.15", "minimist@1.2.0 dev", "node-forge@0.10.0 optional",
		"ms@2.0.0", "ms@2.1.1", // node_modules/ms and node_modules/send/node_modules/ms
		"qs@6.7.0", "path-to-regexp@0.1.7",
	} {
		if !slices.Contains(want, must) {
			t.Errorf("v3 lacks %s", must)
		}
	}
	for _, target := range []string{
		"file:testdata/npm/v2/package-lock.json",
		"file:testdata/npm/v1/package-lock.json",
		"dir:testdata/npm/v3",
	} {
		inv := inventoryOf(t, target)
		if len(inv.NotEvaluated) != 0 {
			t.Errorf("%s: not evaluated: %v", target, inv.NotEvaluated)
		}
		ps := inv.Packages
		if strings.HasPrefix(target, "dir:") {
			// the hidden lockfile's packages; the directory's package-lock.json gives the same again
			ps = slices.DeleteFunc(slices.Clone(ps), func(p Package) bool { return p.Location.Path != "node_modules/.package-lock.json" })
		}
		if d := cmp.Diff(want, npmSet(ps)); d != "" {
			t.Errorf("%s differs from v3 (-v3 +got):\n%s", target, d)
		}
	}
}

// TestNPMShrinkwrapAndPeer: npm-shrinkwrap.json is read like a
// package-lock.json; peer, devOptional, links and workspace folders are
// read as npm writes them; v1 aliases name the real package.
func TestNPMShrinkwrapAndPeer(t *testing.T) {
	dir := t.TempDir()
	lock := `{"name":"w","lockfileVersion":3,"requires":true,"packages":{
 "":{"name":"w","workspaces":["packages/a"]},
 "packages/a":{"name":"a","version":"0.0.1","dependencies":{"react":"^18"}},
 "node_modules/a":{"resolved":"packages/a","link":true},
 "node_modules/react":{"version":"18.2.0","peer":true,"dependencies":{"loose-envify":"^1.1.0"}},
 "node_modules/loose-envify":{"version":"1.4.0","devOptional":true},
 "node_modules/local":{"version":"file:../local"},
 "node_modules/alias":{"name":"lodash","version":"4.17.20"}}}`
	if err := os.WriteFile(filepath.Join(dir, "npm-shrinkwrap.json"), []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	inv := inventoryOf(t, "file:"+filepath.Join(dir, "npm-shrinkwrap.json"))
	want := []string{"lodash@4.17.20", "loose-envify@1.4.0 dev,optional", "react@18.2.0 peer"}
	if d := cmp.Diff(want, npmSet(inv.Packages)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	v1 := `{"lockfileVersion":1,"dependencies":{"alias":{"version":"npm:lodash@4.17.20"},"git":{"version":"github:a/b#abc"}}}`
	ps, err := readNPMLock([]byte(v1))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"lodash@4.17.20"}, npmSet(ps)); d != "" {
		t.Errorf("v1 alias (-want +got):\n%s", d)
	}
}

// TestNPMUnreadableLockfileFails: a lockfile that cannot be read is an
// UNREADABLE entry naming the file and the reason, in JSON and in the
// table, and it fails --fail-on at every threshold — never "No findings".
func TestNPMUnreadableLockfileFails(t *testing.T) {
	for name, body := range map[string]string{
		"truncated":       `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1.0.0"`,
		"wrong shape":     `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":["1.0.0"]}}}`,
		"unknown version": `{"lockfileVersion":4,"packages":{}}`,
		"no version":      `{"packages":{"node_modules/a":{"version":"1.0.0"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			// a readable package beside it: the target is not empty
			if err := os.MkdirAll(filepath.Join(dir, "ok"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "ok", "package-lock.json"), []byte(`{"lockfileVersion":3,"packages":{"node_modules/ok":{"version":"1.0.0"}}}`), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := Scan(context.Background(), "dir:"+dir, NewMemory(rec(t, ghsaRec)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Summary.Unreadable != 1 || len(rep.NotEvaluated) != 1 || !rep.NotEvaluated[0].Unreadable || rep.NotEvaluated[0].Location.Path != "package-lock.json" {
				t.Fatalf("summary %+v, not evaluated %+v", rep.Summary, rep.NotEvaluated)
			}
			why := rep.Fails(RatingCritical)
			if len(why) == 0 || !slices.ContainsFunc(why, func(s string) bool {
				return strings.HasPrefix(s, StatusUnreadable+": package-lock.json: javascript/npm could not read the file: ")
			}) {
				t.Errorf("--fail-on critical: %q", why)
			}
			var b bytes.Buffer
			if err := Write(&b, rep, "table"); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if strings.Contains(out, "No findings.") || !strings.Contains(out, "UNREADABLE: package-lock.json: javascript/npm could not read the file: ") {
				t.Errorf("table:\n%s", out)
			}
		})
	}
}

// TestUnreadableNotCounted: a clean report has no unreadable count and
// passes --fail-on.
func TestUnreadableNotCounted(t *testing.T) {
	rep, err := Scan(context.Background(), "file:testdata/npm/v3/package-lock.json", NewMemory(rec(t, ghsaRec)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Unreadable != 0 {
		t.Errorf("unreadable %d", rep.Summary.Unreadable)
	}
	if why := rep.Fails(RatingLow); slices.ContainsFunc(why, func(s string) bool { return strings.HasPrefix(s, StatusUnreadable) }) {
		t.Errorf("fails: %q", why)
	}
}
