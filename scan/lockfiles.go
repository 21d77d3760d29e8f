package scan

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"
)

// The lockfiles of other package managers users scan in CI: yarn (v1 and
// berry), pnpm, poetry, uv, pip requirements, Cargo and Go modules. Each
// reads the packages the lockfile pins; what it cannot read whole is an
// error (UNREADABLE), never an empty list.

// readLockfile reads the whole of a lockfile, up to maxLockfile bytes.
func readLockfile(in *input) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(in.f, maxLockfile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxLockfile {
		return nil, fmt.Errorf("larger than %d bytes", maxLockfile)
	}
	return b, nil
}

// vendoredTrees are directories where packages keep their authors'
// lockfiles and manifests as files: installed npm and Python packages,
// the Cargo and Go module caches, Debian's packaged crate and Go sources.
// What those files pin was not installed; what was is read from the
// package metadata beside them.
var vendoredTrees = []string{"/node_modules/", "/site-packages/", "/dist-packages/", "/.cargo/registry/", "/.cargo/git/",
	"/usr/share/cargo/registry/", "/usr/share/gocode/", "/pkg/mod/"}

// inVendoredTree reports whether the slash-separated path p lies in one of
// vendoredTrees.
func inVendoredTree(p string) bool {
	q := "/" + p
	return slices.ContainsFunc(vendoredTrees, func(t string) bool { return strings.Contains(q, t) })
}

// lockfileRequired matches a regular file named one of names outside
// vendoredTrees.
func lockfileRequired(p string, info fs.FileInfo, names ...string) bool {
	if !info.Mode().IsRegular() {
		return false
	}
	return slices.Contains(names, path.Base(p)) && !inVendoredTree(p)
}

// ---- yarn ----

// yarnLock reads yarn.lock: the v1 format (yarn 1) and berry's YAML
// (yarn 2+, with __metadata).
type yarnLock struct{}

func (yarnLock) Name() string { return "javascript/yarnlock" }

func (yarnLock) Required(p string, info fs.FileInfo) bool {
	return lockfileRequired(p, info, "yarn.lock")
}

func (yarnLock) Extract(_ context.Context, in *input) ([]Package, error) {
	b, err := readLockfile(in)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(b, []byte("\n__metadata:")) || bytes.HasPrefix(b, []byte("__metadata:")) {
		return readYarnBerry(b)
	}
	return readYarnV1(b)
}

// yarnName returns the package name of a yarn descriptor or locator
// ("@s/a@npm:^1", "a@^1.0.0", "alias@npm:real@^1"): what precedes the
// "@" that ends the name, or the real name of an npm: alias.
func yarnName(desc string) string {
	desc = strings.Trim(strings.TrimSpace(desc), `"`)
	i := strings.IndexByte(desc[min(1, len(desc)):], '@')
	if i < 0 {
		return desc
	}
	i++
	name, rng := desc[:i], desc[i+1:]
	if real, ok := strings.CutPrefix(rng, "npm:"); ok && strings.Contains(real[min(1, len(real)):], "@") {
		return yarnName(real) // an alias: "alias@npm:real@^1"
	}
	return name
}

// yarnLocalProtocols name resolutions that are not registry releases.
var yarnLocalProtocols = []string{"@workspace:", "@link:", "@portal:", "@file:", "@exec:"}

func readYarnBerry(b []byte) ([]Package, error) {
	var m map[string]struct {
		Version      string `yaml:"version"`
		Resolution   string `yaml:"resolution"`
		LanguageName string `yaml:"languageName"`
		LinkType     string `yaml:"linkType"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Package
	for _, k := range slices.Sorted(mapsKeys(m)) {
		if k == "__metadata" {
			continue
		}
		e := m[k]
		if e.Resolution == "" || e.Version == "" {
			return nil, fmt.Errorf("entry %q: no resolution or version", k)
		}
		if e.LinkType == "soft" || slices.ContainsFunc(yarnLocalProtocols, func(p string) bool { return strings.Contains(e.Resolution, p) }) {
			continue
		}
		if e.LanguageName != "" && e.LanguageName != "node" {
			continue
		}
		name := yarnName(e.Resolution)
		if key := name + "@" + e.Version; !seen[key] {
			seen[key] = true
			out = append(out, npmPackageOf(name, e.Version, nil))
		}
	}
	return out, nil
}

// readYarnV1 reads yarn 1's own format: unindented lines list the
// descriptors an entry resolves ("a@^1", "a@~1.2":), its indented lines
// give `version "1.2.3"`.
func readYarnV1(b []byte) ([]Package, error) {
	if !bytes.Contains(b, []byte("# yarn lockfile v1")) {
		return nil, fmt.Errorf(`no "# yarn lockfile v1" header and no __metadata: not a yarn lockfile scan reads`)
	}
	seen := map[string]bool{}
	var out []Package
	var name string
	line := 0
	flush := func(version string) error {
		if name == "" {
			return fmt.Errorf("line %d: version outside an entry", line)
		}
		if key := name + "@" + version; !seen[key] && !npmLocalVersion(version) {
			seen[key] = true
			out = append(out, npmPackageOf(name, version, nil))
		}
		name = ""
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line++
		s := sc.Text()
		t := strings.TrimSpace(s)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if s[0] != ' ' {
			if !strings.HasSuffix(t, ":") {
				return nil, fmt.Errorf("line %d: an entry header must end with ':'", line)
			}
			first, _, _ := strings.Cut(strings.TrimSuffix(t, ":"), ",")
			name = yarnName(first)
			continue
		}
		if v, ok := strings.CutPrefix(t, "version "); ok && strings.HasPrefix(s, "  ") && !strings.HasPrefix(s, "   ") {
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			}
			if err := flush(v); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ---- pnpm ----

// pnpmLock reads pnpm-lock.yaml (lockfile versions 5, 6 and 9): the keys
// of "packages" ("/a/1.0.0", "/a@1.0.0", "a@1.0.0", with peer suffixes),
// with the dev and optional flags of "packages" and "snapshots".
type pnpmLock struct{}

func (pnpmLock) Name() string { return "javascript/pnpmlock" }

func (pnpmLock) Required(p string, info fs.FileInfo) bool {
	return lockfileRequired(p, info, "pnpm-lock.yaml")
}

type pnpmEntry struct {
	Name     string `yaml:"name"`
	Version  string `yaml:"version"`
	Dev      *bool  `yaml:"dev"`
	Optional bool   `yaml:"optional"`
}

func (pnpmLock) Extract(_ context.Context, in *input) ([]Package, error) {
	b, err := readLockfile(in)
	if err != nil {
		return nil, err
	}
	var lock struct {
		LockfileVersion any                   `yaml:"lockfileVersion"`
		Packages        map[string]*pnpmEntry `yaml:"packages"`
		Snapshots       map[string]*pnpmEntry `yaml:"snapshots"`
	}
	if err := yaml.Unmarshal(b, &lock); err != nil {
		return nil, err
	}
	lv := fmt.Sprint(lock.LockfileVersion)
	major, _, _ := strings.Cut(lv, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 5 || n > 9 {
		return nil, fmt.Errorf("lockfileVersion %q is not one scan reads (5 to 9)", lv)
	}
	type acc struct {
		name, version string
		dev, optional bool
	}
	found := map[string]*acc{}
	add := func(k string, e *pnpmEntry, fromSnapshot bool) {
		name, ver, ok := pnpmKey(k, n == 5)
		if e != nil && e.Name != "" && e.Version != "" {
			name, ver, ok = e.Name, e.Version, true // tarball and git entries name themselves
		}
		if !ok || npmLocalVersion(ver) {
			return
		}
		key := name + "@" + ver
		a := found[key]
		if a == nil {
			if fromSnapshot {
				return // v9 snapshots only add flags to "packages"
			}
			a = &acc{name: name, version: ver}
			found[key] = a
		}
		if e != nil {
			a.dev = a.dev || (e.Dev != nil && *e.Dev)
			a.optional = a.optional || e.Optional
		}
	}
	for _, k := range slices.Sorted(mapsKeys(lock.Packages)) {
		add(k, lock.Packages[k], false)
	}
	for _, k := range slices.Sorted(mapsKeys(lock.Snapshots)) {
		add(k, lock.Snapshots[k], true)
	}
	var out []Package
	for _, k := range slices.Sorted(mapsKeys(found)) {
		a := found[k]
		out = append(out, npmPackageOf(a.name, a.version, npmGroups(a.dev, a.optional, false, false)))
	}
	return out, nil
}

// pnpmKey splits a pnpm package key into name and version: "/a/1.0.0"
// and "/@s/a/1.0.0_peer@2" (v5, slash), "/@s/a@1.0.0(peer@2)" (v6),
// "a@1.0.0" (v9); peer suffixes (in parentheses, or after "_" in v5) are
// dropped.
func pnpmKey(k string, v5 bool) (name, version string, ok bool) {
	k = strings.TrimPrefix(k, "/")
	if v5 {
		parts := strings.SplitN(k, "/", 3)
		n := 1
		if strings.HasPrefix(k, "@") {
			n = 2
		}
		if len(parts) > n {
			name, version = strings.Join(parts[:n], "/"), strings.Join(parts[n:], "/")
			version, _, _ = strings.Cut(version, "_")
		}
	} else {
		if i := strings.IndexByte(k, '('); i >= 0 {
			k = k[:i]
		}
		if i := strings.LastIndexByte(k[min(1, len(k)):], '@'); i >= 0 {
			name, version = k[:i+1], k[i+2:]
		}
	}
	if name == "" || version == "" || strings.ContainsAny(version, "/:@") {
		return "", "", false
	}
	return name, version, true
}

// ---- Python: poetry.lock, uv.lock, requirements.txt ----

func pypiPackage(name, version string, groups []string) Package {
	return Package{Ecosystem: "PyPI", Name: name, Version: version, PURL: purl("pypi", "", normalizeName("PyPI", name), version, nil), DepGroups: groups}
}

// poetryLock reads poetry.lock ([[package]] name, version; "category" or
// "groups" of older and newer poetry kept as dependency groups when they
// say dev). Packages from local directories and files are kept, as uv's
// and Cargo's workspace members are.
type poetryLock struct{}

func (poetryLock) Name() string { return "python/poetrylock" }

func (poetryLock) Required(p string, info fs.FileInfo) bool {
	return lockfileRequired(p, info, "poetry.lock")
}

func (poetryLock) Extract(_ context.Context, in *input) ([]Package, error) {
	b, err := readLockfile(in)
	if err != nil {
		return nil, err
	}
	var lock struct {
		Package []struct {
			Name, Version, Category string
			Optional                bool
			Groups                  []string
		}
	}
	if err := toml.Unmarshal(b, &lock); err != nil {
		return nil, err
	}
	var out []Package
	for i, p := range lock.Package {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("package %d: no name or version", i+1)
		}
		var g []string
		if p.Category == "dev" || (len(p.Groups) > 0 && !slices.Contains(p.Groups, "main")) {
			g = append(g, DepGroupDev)
		}
		if p.Optional {
			g = append(g, DepGroupOptional)
		}
		out = append(out, pypiPackage(p.Name, p.Version, g))
	}
	return out, nil
}

// uvLock reads uv.lock ([[package]] name, version). Every package with a
// version is kept, the locked project and its workspace members (source
// editable, virtual, directory) included: their code at that version is
// what a record of that name and version describes. A virtual workspace
// root has no version and is passed over.
type uvLock struct{}

func (uvLock) Name() string { return "python/uvlock" }

func (uvLock) Required(p string, info fs.FileInfo) bool {
	return lockfileRequired(p, info, "uv.lock")
}

func (uvLock) Extract(_ context.Context, in *input) ([]Package, error) {
	b, err := readLockfile(in)
	if err != nil {
		return nil, err
	}
	var lock struct {
		Version *int
		Package []struct {
			Name, Version string
		}
	}
	if err := toml.Unmarshal(b, &lock); err != nil {
		return nil, err
	}
	if lock.Version == nil {
		return nil, fmt.Errorf("no version: not a uv lockfile")
	}
	var out []Package
	for i, p := range lock.Package {
		if p.Name == "" {
			return nil, fmt.Errorf("package %d: no name", i+1)
		}
		if p.Version == "" {
			continue
		}
		out = append(out, pypiPackage(p.Name, p.Version, nil))
	}
	return out, nil
}

// requirements reads pip requirements files (requirements.txt,
// requirements-dev.txt, requirements/*.txt): "name==version" and
// "name===version" pins, with extras, markers and hashes. A requirement
// without a pin is kept without a version, so that it is listed as not
// evaluated rather than passed over; options (-r, -c, -e, --index-url)
// and URLs are skipped.
type requirements struct{}

func (requirements) Name() string { return "python/requirements" }

func (requirements) Required(p string, info fs.FileInfo) bool {
	if !info.Mode().IsRegular() || inVendoredTree(p) || strings.Contains("/"+p, "/usr/share/doc/") {
		return false
	}
	dir, base := path.Split(p)
	if !strings.HasSuffix(base, ".txt") {
		return false
	}
	return strings.HasPrefix(base, "requirements") || path.Base(strings.TrimSuffix(dir, "/")) == "requirements"
}

// requirementRE is compiled on first use, not in every ferry process.
var requirementRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$`)
})

func (requirements) Extract(_ context.Context, in *input) ([]Package, error) {
	b, err := readLockfile(in)
	if err != nil {
		return nil, err
	}
	// Join continuation lines first.
	text := strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\\\n", " ")
	var out []Package
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "-") || strings.Contains(line, "://") {
			continue
		}
		line, _, _ = strings.Cut(line, ";") // environment markers
		if i := strings.Index(line, " --"); i >= 0 {
			line = line[:i] // --hash=…
		}
		m := requirementRE().FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		spec := strings.TrimSpace(m[2])
		ver := ""
		for _, op := range []string{"===", "=="} {
			if v, ok := strings.CutPrefix(spec, op); ok && !strings.ContainsAny(v, ",*<>!~") {
				ver = strings.TrimSpace(v)
				break
			}
		}
		out = append(out, pypiPackage(m[1], ver, nil))
	}
	return out, nil
}

// ---- Cargo.lock ----

// cargoLock reads Cargo.lock ([[package]] name, version): every crate,
// the workspace's own (no source) included — a workspace that publishes a
// crate holds its code at the locked version, which is what a RustSec
// record of that crate and version describes (osv-scanner reads them
// alike).
type cargoLock struct{}

func (cargoLock) Name() string { return "rust/cargolock" }

func (cargoLock) Required(p string, info fs.FileInfo) bool {
	return lockfileRequired(p, info, "Cargo.lock")
}

func (cargoLock) Extract(_ context.Context, in *input) ([]Package, error) {
	b, err := readLockfile(in)
	if err != nil {
		return nil, err
	}
	var lock struct {
		Package []struct{ Name, Version string }
	}
	if err := toml.Unmarshal(b, &lock); err != nil {
		return nil, err
	}
	var out []Package
	for i, p := range lock.Package {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("package %d: no name or version", i+1)
		}
		out = append(out, Package{Ecosystem: "crates.io", Name: p.Name, Version: p.Version, PURL: purl("cargo", "", p.Name, p.Version, nil)})
	}
	return out, nil
}

// ---- go.mod ----

// goMod reads the requirements of a module's go.mod (golang.org/x/mod's
// parser), with replace directives applied as the go command applies
// them. A module replaced by a local directory has no version and is not
// evaluated. The "go" line is a minimum, not the toolchain a build will
// use, so no stdlib package comes from it.
type goMod struct{}

func (goMod) Name() string { return "go/gomod" }

func (goMod) Required(p string, info fs.FileInfo) bool {
	// go.mod files of vendored and cached modules state their own
	// requirements, not the build's selection.
	q := "/" + p
	return lockfileRequired(p, info, "go.mod") && !strings.Contains(q, "/vendor/") && !strings.Contains(q, "/testdata/")
}

func (goMod) Extract(_ context.Context, in *input) ([]Package, error) {
	b, err := readLockfile(in)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(in.path, b, nil)
	if err != nil {
		return nil, err
	}
	if f.Module != nil && (f.Module.Mod.Path == "std" || f.Module.Mod.Path == "cmd") {
		return nil, nil // a Go distribution's own source: its binaries carry their build info
	}
	var out []Package
	for _, r := range f.Require {
		p, v := r.Mod.Path, r.Mod.Version
		for _, rep := range f.Replace {
			if rep.Old.Path == p && (rep.Old.Version == "" || rep.Old.Version == v) {
				v = rep.New.Version // "" for a directory
			}
		}
		pk := Package{Ecosystem: "Go", Name: p, Version: strings.TrimPrefix(v, "v")}
		if v != "" {
			pk.PURL = purl("golang", "", p, v, nil)
		}
		out = append(out, pk)
	}
	return out, nil
}
