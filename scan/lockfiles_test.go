package scan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// nameVersions is "name@version" of each package, sorted and compacted.
func nameVersions(ps []Package) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+"@"+p.Version)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestYarnPnpmLockfiles reads the lockfiles yarn 1.22.22, yarn 4.5.3
// (berry) and pnpm 9.15.9 wrote for the project of testdata/npm: the same
// 55 packages each (yarn and pnpm resolve two ranges npm dedupes to
// http-errors@1.7.3 and inherits@2.0.4), every one of npm's 53 among them.
func TestYarnPnpmLockfiles(t *testing.T) {
	npmSet := nameVersions(inventoryOf(t, "file:testdata/npm/v3/package-lock.json").Packages)
	var first []string
	for _, target := range []string{"file:testdata/yarn/v1/yarn.lock", "file:testdata/yarn/berry/yarn.lock", "file:testdata/pnpm/pnpm-lock.yaml"} {
		inv := inventoryOf(t, target)
		if len(inv.NotEvaluated) != 0 {
			t.Errorf("%s: not evaluated %v", target, inv.NotEvaluated)
		}
		got := nameVersions(inv.Packages)
		if len(got) != len(inv.Packages) {
			t.Errorf("%s: %d packages, %d distinct", target, len(inv.Packages), len(got))
		}
		if len(got) != 55 {
			t.Errorf("%s: %d packages, want 55: %v", target, len(got), got)
		}
		for _, p := range npmSet {
			if !slices.Contains(got, p) {
				t.Errorf("%s lacks %s", target, p)
			}
		}
		if first == nil {
			first = got
		} else if d := cmp.Diff(first, got); d != "" {
			t.Errorf("%s differs from yarn v1 (-yarn v1 +got):\n%s", target, d)
		}
		for _, p := range inv.Packages {
			if p.Ecosystem != "npm" || !strings.HasPrefix(p.PURL, "pkg:npm/") {
				t.Errorf("%s: %+v", target, p)
			}
		}
	}
	// pnpm marks optional packages in its snapshots.
	inv := inventoryOf(t, "file:testdata/pnpm/pnpm-lock.yaml")
	i := slices.IndexFunc(inv.Packages, func(p Package) bool { return p.Name == "node-forge" })
	if i < 0 || !slices.Equal(inv.Packages[i].DepGroups, []string{DepGroupOptional}) {
		t.Errorf("pnpm node-forge: %+v", inv.Packages)
	}
}

func TestYarnAndPnpmKeys(t *testing.T) {
	for desc, want := range map[string]string{
		`"@babel/code-frame@^7.0.0"`: "@babel/code-frame",
		"lodash@^4.17.15":            "lodash",
		"alias@npm:lodash@^4":        "lodash",
		"@s/a@npm:1.0.0":             "@s/a",
		"resolve@patch:resolve@npm%3A1.22.8#~builtin<compat/resolve>::version=1.22.8&hash=c3c19d": "resolve",
	} {
		if got := yarnName(desc); got != want {
			t.Errorf("yarnName(%q) = %q, want %q", desc, got, want)
		}
	}
	for k, want := range map[string]string{
		"5 /lodash/4.17.21":                   "lodash 4.17.21",
		"5 /@babel/core/7.0.0_peer@1.0.0":     "@babel/core 7.0.0",
		"6 /@babel/core@7.0.0(supports@1.0)":  "@babel/core 7.0.0",
		"9 accepts@1.3.8":                     "accepts 1.3.8",
		"9 @types/node@20.1.0":                "@types/node 20.1.0",
		"9 foo@https://codeload.github.com/x": "",
	} {
		n, v, ok := pnpmKey(k[2:], k[0] == '5')
		got := ""
		if ok {
			got = n + " " + v
		}
		if got != want {
			t.Errorf("pnpmKey(%q) = %q, want %q", k, got, want)
		}
	}
}

// TestPythonLockfiles reads poetry's own test lockfile (poetry 1.5), uv's
// lockfile of its built-by-uv test package and a requirements file uv pip
// compile wrote (testdata/python-lock, SOURCES.md).
func TestPythonLockfiles(t *testing.T) {
	poetry := inventoryOf(t, "file:testdata/python-lock/poetry/poetry.lock")
	want := []string{"certifi@2020.12.5", "chardet@4.0.0", "docker@4.3.1", "idna@2.10", "pywin32@227", "requests@2.25.1", "six@1.15.0", "urllib3@1.26.3", "websocket-client@0.58.0"}
	if d := cmp.Diff(want, nameVersions(poetry.Packages)); d != "" {
		t.Errorf("poetry.lock (-want +got):\n%s", d)
	}
	uv := inventoryOf(t, "file:testdata/python-lock/uv/uv.lock")
	// built-by-uv itself (source editable) is kept: its code is at 0.1.0.
	want = []string{"anyio@4.6.2.post1", "built-by-uv@0.1.0", "colorama@0.4.6", "idna@3.15", "iniconfig@2.0.0", "packaging@24.2", "pluggy@1.5.0", "pytest@8.3.3", "sniffio@1.3.1"}
	if d := cmp.Diff(want, nameVersions(uv.Packages)); d != "" {
		t.Errorf("uv.lock (-want +got):\n%s", d)
	}
	req := inventoryOf(t, "file:testdata/python-lock/requirements/requirements.txt")
	got := nameVersions(req.Packages)
	if len(got) != 93 || !slices.Contains(got, "anyio@4.2.0") || !slices.Contains(got, "attrs@23.2.0") {
		t.Errorf("requirements.txt: %d packages: %v", len(got), got)
	}
	for _, inv := range []*InventoryResult{poetry, uv, req} {
		for _, p := range inv.Packages {
			if p.Ecosystem != "PyPI" || p.Version == "" || !strings.HasPrefix(p.PURL, "pkg:pypi/") {
				t.Errorf("%+v", p)
			}
		}
	}
}

func TestRequirementsLines(t *testing.T) {
	dir := t.TempDir()
	body := "# comment\n-r base.txt\n--index-url https://example.com/simple\n-e .\n" +
		"Django==3.2.1 ; python_version >= '3.8' # pinned\n" +
		"requests[socks]==2.25.1 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n" +
		"flask>=2.0\nzope.interface===5.4.0\nurllib3==1.26.*\n" +
		"pkg @ https://example.com/pkg.whl\n"
	if err := os.WriteFile(filepath.Join(dir, "requirements-dev.txt"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	inv := inventoryOf(t, "file:"+filepath.Join(dir, "requirements-dev.txt"))
	want := []string{"Django@3.2.1", "flask@", "requests@2.25.1", "urllib3@", "zope.interface@5.4.0"}
	if d := cmp.Diff(want, nameVersions(inv.Packages)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestCargoLock reads ripgrep's Cargo.lock (v4): 52 crates from crates.io
// and ripgrep's own 11 workspace crates (no source), which it publishes.
func TestCargoLock(t *testing.T) {
	inv := inventoryOf(t, "file:testdata/cargo/Cargo.lock")
	got := nameVersions(inv.Packages)
	if len(got) != 63 || !slices.Contains(got, "regex@1.13.1") || !slices.Contains(got, "syn@2.0.119") || !slices.Contains(got, "syn@3.0.3") || !slices.Contains(got, "grep-cli@0.1.12") {
		t.Errorf("%d crates: %v", len(got), got)
	}
	for _, p := range inv.Packages {
		if p.Ecosystem != "crates.io" || !strings.HasPrefix(p.PURL, "pkg:cargo/") {
			t.Errorf("%+v", p)
		}
	}
}

// TestGoMod reads a copy of this module's go.mod, and applies replace
// directives as the go command does.
func TestGoMod(t *testing.T) {
	inv := inventoryOf(t, "file:testdata/gomod/go.mod")
	got := nameVersions(inv.Packages)
	if len(got) < 100 || !slices.Contains(got, "github.com/spf13/cobra@1.10.2") || !slices.Contains(got, "golang.org/x/text@0.43.0") {
		t.Errorf("%d modules: %v", len(got), got)
	}
	dir := t.TempDir()
	mod := "module example.com/m\n\ngo 1.22\n\nrequire (\n\tgolang.org/x/text v0.3.5\n\texample.com/local v1.0.0\n\tgolang.org/x/net v0.1.0\n)\n\n" +
		"replace golang.org/x/text => golang.org/x/text v0.3.8\n\nreplace example.com/local => ../local\n\nreplace golang.org/x/net v0.0.1 => golang.org/x/net v0.2.0\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := inventoryOf(t, "file:"+filepath.Join(dir, "go.mod"))
	if d := cmp.Diff([]string{"example.com/local@", "golang.org/x/net@0.1.0", "golang.org/x/text@0.3.8"}, nameVersions(rep.Packages)); d != "" {
		t.Errorf("replace (-want +got):\n%s", d)
	}
}

// TestLockfilesUnreadable: a lockfile of each kind that does not parse
// is UNREADABLE, naming the reader.
func TestLockfilesUnreadable(t *testing.T) {
	for name, body := range map[string]string{
		"yarn.lock":      "a@^1:\n  version \"1.0.0\"\nnot a header\n",
		"pnpm-lock.yaml": "lockfileVersion: '3.0'\npackages: {}\n",
		"poetry.lock":    "[[package]]\nname = \"a\"\nversion = \n",
		"uv.lock":        "[[package]]\nname = \"a\"\n",
		"Cargo.lock":     "[[package]]\nname = \"a\"\n",
		"go.mod":         "module m\nrequire x\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			inv := inventoryOf(t, "dir:"+dir)
			if len(inv.NotEvaluated) != 1 || !inv.NotEvaluated[0].Unreadable || !strings.Contains(inv.NotEvaluated[0].Reason, "could not read the file") {
				t.Errorf("%+v / %+v", inv.NotEvaluated, inv.Packages)
			}
		})
	}
}

// TestLockfilesInVendoredTrees: lockfiles inside installed packages and
// module caches are their authors', not what was installed.
func TestLockfilesInVendoredTrees(t *testing.T) {
	info := fakeRegular{}
	for p, want := range map[string]bool{
		"app/yarn.lock":                                     true,
		"app/node_modules/x/yarn.lock":                      false,
		"usr/lib/python3/dist-packages/x/requirements.txt":  false,
		"usr/lib/python3.11/site-packages/x/poetry.lock":    false,
		"root/.cargo/registry/src/index/x-1.0.0/Cargo.lock": false,
		"usr/share/gocode/src/example.com/x/go.mod":         false,
		"root/go/pkg/mod/example.com/x@v1.0.0/go.mod":       false,
		"src/app/go.mod":                                    true,
		"usr/share/doc/x/requirements.txt":                  false,
		"srv/app/requirements/prod.txt":                     true,
	} {
		var got bool
		for _, e := range []extractor{yarnLock{}, poetryLock{}, cargoLock{}, goMod{}, requirements{}} {
			got = got || e.Required(p, info)
		}
		if got != want {
			t.Errorf("%s: required %v, want %v", p, got, want)
		}
	}
}

type fakeRegular struct{ os.FileInfo }

func (fakeRegular) Mode() os.FileMode { return 0o644 }
