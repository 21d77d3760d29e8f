package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// ---- npm ----

// npm reads package-lock.json and npm-shrinkwrap.json (lockfile v1, v2,
// v3), the hidden lockfile node_modules/.package-lock.json and installed
// node_modules/*/package.json.
type npm struct{}

func (npm) Name() string { return "javascript/npm" }

func (npm) Required(p string, info fs.FileInfo) bool {
	if !info.Mode().IsRegular() {
		return false
	}
	dir, base := path.Split(p)
	switch base {
	case "package-lock.json", "npm-shrinkwrap.json":
		return !strings.Contains(dir, "node_modules/")
	case ".package-lock.json":
		return strings.HasSuffix(dir, "node_modules/")
	case "package.json":
		parent := path.Dir(strings.TrimSuffix(dir, "/"))
		return path.Base(parent) == "node_modules" || (strings.HasPrefix(path.Base(parent), "@") && path.Base(path.Dir(parent)) == "node_modules")
	}
	return false
}

// maxLockfile caps what a lockfile reader reads.
const maxLockfile = 256 << 20

// Dependency groups a package may be in (Package.DepGroups).
const (
	DepGroupDev      = "dev"
	DepGroupOptional = "optional"
	DepGroupPeer     = "peer"
)

// npmLock is a package-lock.json of any version. lockfileVersion 1 has
// only Dependencies (nested objects); 2 has both, Packages being the
// authority (npm's own reader prefers it); 3 has only Packages. Each is
// kept raw until the version in use is known, so that the shape of the
// section not read cannot fail the file.
type npmLock struct {
	LockfileVersion *int                       `json:"lockfileVersion"`
	Packages        map[string]json.RawMessage `json:"packages"`
	Dependencies    map[string]json.RawMessage `json:"dependencies"`
}

// npmPackage is an entry of lockfile v2/v3 "packages", keyed by its
// install path ("node_modules/a/node_modules/@s/b"). Its "dependencies"
// map names to version ranges and is not read.
type npmPackage struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Link        bool   `json:"link"`
	Dev         bool   `json:"dev"`
	Optional    bool   `json:"optional"`
	DevOptional bool   `json:"devOptional"`
	Peer        bool   `json:"peer"`
}

// npmDepV1 is an entry of lockfile v1 "dependencies", keyed by package
// name; its own "dependencies" nest the same way ("requires" maps names
// to ranges and is not read).
type npmDepV1 struct {
	Version      string                     `json:"version"`
	Dev          bool                       `json:"dev"`
	Optional     bool                       `json:"optional"`
	Dependencies map[string]json.RawMessage `json:"dependencies"`
}

func npmPackageOf(name, ver string, groups []string) Package {
	ns, n := "", name
	if strings.HasPrefix(name, "@") {
		ns, n, _ = strings.Cut(name, "/")
	}
	return Package{Ecosystem: "npm", Name: name, Version: ver, PURL: purl("npm", ns, n, ver, nil), DepGroups: groups}
}

func npmGroups(dev, optional, devOptional, peer bool) []string {
	var g []string
	if dev || devOptional {
		g = append(g, DepGroupDev)
	}
	if optional || devOptional {
		g = append(g, DepGroupOptional)
	}
	if peer {
		g = append(g, DepGroupPeer)
	}
	return g
}

// npmLocalVersion reports versions that name no registry release: a
// directory, a link, a tarball or git URL. Such a package cannot be
// matched by version.
func npmLocalVersion(v string) bool {
	for _, p := range []string{"file:", "link:", "git+", "git:", "github:", "gitlab:", "bitbucket:", "http:", "https:"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

func (npm) Extract(_ context.Context, in *input) ([]Package, error) {
	b, err := io.ReadAll(io.LimitReader(in.f, maxLockfile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxLockfile {
		return nil, fmt.Errorf("larger than %d bytes", maxLockfile)
	}
	if path.Base(in.path) == "package.json" {
		var pj struct{ Name, Version string }
		if err := json.Unmarshal(b, &pj); err != nil {
			return nil, err
		}
		if pj.Name == "" || pj.Version == "" {
			return nil, nil
		}
		return []Package{npmPackageOf(pj.Name, pj.Version, nil)}, nil
	}
	return readNPMLock(b)
}

// readNPMLock reads a package-lock.json, npm-shrinkwrap.json or
// node_modules/.package-lock.json.
func readNPMLock(b []byte) ([]Package, error) {
	var lock npmLock
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, err
	}
	if lock.LockfileVersion == nil {
		return nil, fmt.Errorf("no lockfileVersion: not an npm lockfile")
	}
	v := *lock.LockfileVersion
	if v < 1 || v > 3 {
		return nil, fmt.Errorf("lockfileVersion %d is not one scan reads (1, 2, 3)", v)
	}
	if v >= 2 && lock.Packages != nil {
		return npmPackagesV2(lock.Packages)
	}
	if v == 3 {
		return nil, fmt.Errorf("lockfileVersion 3 without \"packages\"")
	}
	var out []Package
	if err := npmDepsV1(lock.Dependencies, "dependencies", &out); err != nil {
		return nil, err
	}
	return out, nil
}

func npmPackagesV2(m map[string]json.RawMessage) ([]Package, error) {
	var out []Package
	for _, k := range slices.Sorted(mapsKeys(m)) {
		i := strings.LastIndex(k, "node_modules/")
		if i < 0 {
			continue // "" is the root project; other keys are workspace folders
		}
		var d npmPackage
		if err := json.Unmarshal(m[k], &d); err != nil {
			return nil, fmt.Errorf("packages[%q]: %w", k, err)
		}
		if d.Link || d.Version == "" || npmLocalVersion(d.Version) {
			continue // a link to a workspace or folder: its own entry is listed
		}
		name := d.Name
		if name == "" {
			name = k[i+len("node_modules/"):]
		}
		out = append(out, npmPackageOf(name, d.Version, npmGroups(d.Dev, d.Optional, d.DevOptional, d.Peer)))
	}
	return out, nil
}

func npmDepsV1(m map[string]json.RawMessage, at string, out *[]Package) error {
	for _, k := range slices.Sorted(mapsKeys(m)) {
		var d npmDepV1
		if err := json.Unmarshal(m[k], &d); err != nil {
			return fmt.Errorf("%s[%q]: %w", at, k, err)
		}
		name, ver := k, d.Version
		if real, ok := strings.CutPrefix(ver, "npm:"); ok {
			// an alias: "npm:real-name@1.2.3"
			if j := strings.LastIndex(real, "@"); j > 0 {
				name, ver = real[:j], real[j+1:]
			}
		}
		if ver != "" && !npmLocalVersion(ver) {
			*out = append(*out, npmPackageOf(name, ver, npmGroups(d.Dev, d.Optional, false, false)))
		}
		if err := npmDepsV1(d.Dependencies, fmt.Sprintf("%s[%q].dependencies", at, k), out); err != nil {
			return err
		}
	}
	return nil
}
