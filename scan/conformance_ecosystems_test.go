//go:build conformance

package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConformanceEcosystems scans one real target per ecosystem with ferry
// and with osv-scanner v2, offline, on the corpus's records of that
// ecosystem, and checks ferry's (package, advisory) pairs against
//
//   - a hand-written check: the records read as plain JSON and their
//     ranges evaluated with version orderings written here from the
//     specifications (node-semver/SemVer 2.0, PEP 440, Maven's
//     ComparableVersion, rpm's rpmvercmp), independent of scalibr's
//     semantic package that ferry uses. They must be equal.
//   - osv-scanner: every difference must be explained below.
//
// The targets are in testdata (SOURCES.md): an npm project's lockfile v3
// with its hidden lockfile, a Debian 12 site-packages tree (dist-info and
// egg-info), Debian 12's Maven jars, an AlmaLinux 9 rpm database, and the
// yarn (v1, berry), pnpm, poetry, uv, requirements and Cargo lockfiles.
// There is no difference from osv-scanner today; one that appears must be
// explained in the case's explainPackage/explainPair.
// scripts/conformance.sh installs osv-scanner and zips its databases
// (FERRY_CONFORMANCE_OSVDB/osv-scalibr/<ecosystem>/all.zip); without them
// the osv-scanner comparison is skipped, loudly.
func TestConformanceEcosystems(t *testing.T) {
	corpus := os.Getenv("FERRY_CORPUS")
	if corpus == "" {
		t.Skip("SKIPPED: needs FERRY_CORPUS (make conformance)")
	}
	peers, osvdb := os.Getenv("FERRY_CONFORMANCE_PEERS"), os.Getenv("FERRY_CONFORMANCE_OSVDB")
	for _, tc := range ecosystemCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			records := filepath.Join(corpus, "osv", tc.records)
			adv, err := LoadOSV(ctx, records)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			rep, err := Scan(ctx, tc.target, adv, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("ferry: %d packages, %d findings in %v", len(rep.Packages), len(rep.Findings), time.Since(start))
			if len(rep.NotEvaluated) > 0 {
				t.Errorf("not evaluated: %+v", rep.NotEvaluated)
			}
			if len(rep.Packages) < tc.minPackages {
				t.Fatalf("%d packages, want at least %d", len(rep.Packages), tc.minPackages)
			}
			ours := map[string]bool{}
			for _, f := range rep.Findings {
				for _, a := range f.Advisories {
					ours[pairKey(tc.ecosystem, f.Package.Name, f.Package.Version, a)] = true
				}
			}

			// The hand-written check.
			hand, err := handMatch(records, tc.ecosystem, tc.compare, rep.Packages)
			if err != nil {
				t.Fatal(err)
			}
			if d := setDiff(ours, hand); d != "" {
				t.Errorf("ferry and the hand-written %s check differ:\n%s", tc.ecosystem, d)
			} else {
				t.Logf("hand-written check: identical (%d package/advisory pairs)", len(hand))
			}
			if len(hand) < tc.minPairs {
				t.Errorf("%d pairs, want at least %d: the target no longer exercises the check", len(hand), tc.minPairs)
			}

			// osv-scanner.
			bin := filepath.Join(peers, "osv-scanner")
			if peers == "" || osvdb == "" {
				t.Log("!!! SKIPPED osv-scanner comparison: run through make conformance")
				return
			}
			if _, err := os.Stat(bin); err != nil {
				t.Log("!!! SKIPPED osv-scanner comparison: osv-scanner is not installed")
				return
			}
			args, err := tc.peerArgs(t)
			if err != nil {
				t.Fatal(err)
			}
			start = time.Now()
			pkgs, theirs, err := osvScannerPairs(bin, osvdb, tc.ecosystem, args)
			if err != nil {
				t.Logf("!!! SKIPPED osv-scanner comparison: %v", err)
				return
			}
			t.Logf("osv-scanner: %d packages, %d pairs in %v", len(pkgs), len(theirs), time.Since(start))
			ourPkgs := map[string]bool{}
			for _, p := range rep.Packages {
				ourPkgs[ecoPkgKey(tc.ecosystem, p.Name, p.Version)] = true
			}
			for _, d := range diffKeys(ourPkgs, pkgs) {
				if why := tc.explainPackage(d); why != "" {
					t.Logf("package %s: explained: %s", d, why)
					continue
				}
				t.Errorf("package %s: read by one scanner only; unexplained", d)
			}
			for _, d := range diffKeys(ours, theirs) {
				if why := tc.explainPair(d); why != "" {
					t.Logf("%s: explained: %s", d, why)
					continue
				}
				t.Errorf("%s: unexplained difference from osv-scanner", d)
			}
		})
	}
}

type ecosystemCase struct {
	name, target, records, ecosystem string
	compare                          func(a, b string) (int, error)
	minPackages, minPairs            int
	// peerArgs are osv-scanner's arguments after the database flags.
	peerArgs func(t *testing.T) ([]string, error)
	// explainPackage and explainPair return why a difference from
	// osv-scanner ("only ferry: …" / "only peer: …") is right, or "".
	explainPackage, explainPair func(diff string) string
}

func noExplanation(string) string { return "" }

var ecosystemCases = []ecosystemCase{
	{
		name: "npm", target: "dir:testdata/npm/v3", records: "npm", ecosystem: "npm", compare: npmCompare,
		minPackages: 53, minPairs: 10,
		peerArgs: func(*testing.T) ([]string, error) {
			return []string{"source", "-r", "testdata/npm/v3"}, nil
		},
		explainPackage: noExplanation, explainPair: noExplanation,
	},
	{
		name: "PyPI", target: "dir:testdata/ecosystems/python", records: "PyPI", ecosystem: "PyPI", compare: pep440Compare,
		minPackages: 19, minPairs: 10,
		peerArgs: func(*testing.T) ([]string, error) {
			return []string{"source", "--experimental-plugins", "python/wheelegg", "-r", "testdata/ecosystems/python"}, nil
		},
		explainPackage: noExplanation, explainPair: noExplanation,
	},
	{
		name: "Maven", target: "dir:testdata/ecosystems/maven", records: "Maven", ecosystem: "Maven", compare: mavenCompare,
		minPackages: 25, minPairs: 10,
		peerArgs: func(*testing.T) ([]string, error) {
			return []string{"source", "--experimental-plugins", "java/archive", "-r", "testdata/ecosystems/maven"}, nil
		},
		explainPackage: noExplanation, explainPair: noExplanation,
	},
	// The lockfiles of other package managers, read by osv-scanner's
	// lockfile extractors (-L FILE).
	lockfileCase("yarn v1", "yarn/v1/yarn.lock", "npm", "npm", npmCompare, 55, 10),
	lockfileCase("yarn berry", "yarn/berry/yarn.lock", "npm", "npm", npmCompare, 55, 10),
	lockfileCase("pnpm", "pnpm/pnpm-lock.yaml", "npm", "npm", npmCompare, 55, 10),
	lockfileCase("poetry", "python-lock/poetry/poetry.lock", "PyPI", "PyPI", pep440Compare, 9, 5),
	lockfileCase("uv", "python-lock/uv/uv.lock", "PyPI", "PyPI", pep440Compare, 9, 0),
	lockfileCase("requirements", "python-lock/requirements/requirements.txt", "PyPI", "PyPI", pep440Compare, 90, 1),
	lockfileCase("Cargo", "cargo/Cargo.lock", "crates.io", "crates.io", npmCompare, 63, 0),
	lockfileCase("Cargo 2019", "cargo/2019/Cargo.lock", "crates.io", "crates.io", npmCompare, 75, 10),
	{
		// osv-scanner's source scan looks for var/lib/rpm under "/", so
		// it scans the same files as a one-layer docker archive.
		name: "AlmaLinux", target: "dir:testdata/ecosystems/rpm", records: "AlmaLinux", ecosystem: "AlmaLinux:9", compare: rpmCompare,
		minPackages: 21, minPairs: 50,
		peerArgs: func(t *testing.T) ([]string, error) {
			tarball := filepath.Join(t.TempDir(), "alma.tar")
			if err := writeDockerArchive(tarball, "testdata/ecosystems/rpm", "etc/os-release", "var/lib/rpm/rpmdb.sqlite"); err != nil {
				return nil, err
			}
			return []string{"image", "--archive", tarball}, nil
		},
		explainPackage: noExplanation, explainPair: noExplanation,
	},
}

// ecoPkgKey names a package; PyPI names are compared per PEP 503 (ferry
// reports the name the metadata gives, osv-scanner a normalised one).
// lockfileCase scans one lockfile of testdata (crates.io versions are
// SemVer: the npm ordering serves).
func lockfileCase(name, file, records, eco string, compare func(a, b string) (int, error), minPackages, minPairs int) ecosystemCase {
	return ecosystemCase{
		name: name, target: "file:testdata/" + file, records: records, ecosystem: eco, compare: compare,
		minPackages: minPackages, minPairs: minPairs,
		peerArgs: func(*testing.T) ([]string, error) {
			return []string{"source", "-L", "testdata/" + file}, nil
		},
		explainPackage: noExplanation, explainPair: noExplanation,
	}
}

func ecoPkgKey(eco, name, version string) string {
	return eco + "/" + handName(eco, name) + "@" + version
}
func pairKey(eco, name, version, id string) string {
	return ecoPkgKey(eco, name, version) + " " + id
}

// diffKeys lists "only ferry: k" and "only peer: k", sorted.
func diffKeys(ours, theirs map[string]bool) []string {
	var out []string
	for _, k := range keys(ours) {
		if !theirs[k] {
			out = append(out, "only ferry: "+k)
		}
	}
	for _, k := range keys(theirs) {
		if !ours[k] {
			out = append(out, "only peer: "+k)
		}
	}
	return out
}

// osvScannerPairs runs osv-scanner scan ARGS offline and returns its
// packages and (package, advisory) pairs, keyed like ferry's.
func osvScannerPairs(bin, db, eco string, args []string) (pkgs, pairs map[string]bool, err error) {
	full := append([]string{"scan", args[0], "--offline", "--local-db-path", db, "--format", "json", "--all-packages"}, args[1:]...)
	cmd := exec.Command(bin, full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run() // exits 1 when it finds something
	var res struct {
		Results []struct {
			Packages []struct {
				Package struct {
					Name, Version, Ecosystem string
				} `json:"package"`
				Vulnerabilities []struct {
					ID string `json:"id"`
				} `json:"vulnerabilities"`
			} `json:"packages"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, nil, fmt.Errorf("osv-scanner output: %v: %s", err, lastLine(errb.String()))
	}
	pkgs, pairs = map[string]bool{}, map[string]bool{}
	for _, r := range res.Results {
		for _, p := range r.Packages {
			pkgs[ecoPkgKey(eco, p.Package.Name, p.Package.Version)] = true
			for _, v := range p.Vulnerabilities {
				pairs[pairKey(eco, p.Package.Name, p.Package.Version, v.ID)] = true
			}
		}
	}
	return pkgs, pairs, nil
}

// writeDockerArchive writes a docker save tarball of one layer holding
// the files (paths under root).
func writeDockerArchive(dst, root string, files ...string) error {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range slices.Sorted(mapsKeys(dirs)) {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return err
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: f, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	sum := sha256.Sum256(layer.Bytes())
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(sum[:])}}})
	csum := sha256.Sum256(cfg)
	cname := hex.EncodeToString(csum[:]) + ".json"
	man, _ := json.Marshal([]map[string]any{{"Config": cname, "RepoTags": []string{"ferry-conformance:rpm"}, "Layers": []string{"layer.tar"}}})
	var out bytes.Buffer
	ow := tar.NewWriter(&out)
	for _, e := range []struct {
		name string
		b    []byte
	}{{cname, cfg}, {"layer.tar", layer.Bytes()}, {"manifest.json", man}} {
		if err := ow.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.b))}); err != nil {
			return err
		}
		if _, err := ow.Write(e.b); err != nil {
			return err
		}
	}
	if err := ow.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, out.Bytes(), 0o644)
}

// ---- the hand-written check ----

// handRecord is what the check reads of an OSV record.
type handRecord struct {
	ID        string `json:"id"`
	Withdrawn string `json:"withdrawn"`
	Affected  []struct {
		Package  struct{ Ecosystem, Name string } `json:"package"`
		Versions []string                         `json:"versions"`
		Ranges   []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

var pep503 = regexp.MustCompile(`[-_.]+`)

func handName(eco, name string) string {
	if eco == "PyPI" {
		return pep503.ReplaceAllString(strings.ToLower(name), "-")
	}
	return name
}

// handMatch evaluates every record under dir for every package, the OSV
// schema's way: a versions list matches exactly; the events of a SEMVER
// or ECOSYSTEM range, sorted by version (introduced "0" first), switch
// affected on at introduced <= v, off at fixed <= v and last_affected < v.
func handMatch(dir, eco string, compare func(a, b string) (int, error), pkgs []Package) (map[string]bool, error) {
	var recs []handRecord
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var r handRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if r.Withdrawn == "" {
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, p := range pkgs {
		for _, r := range recs {
			for _, a := range r.Affected {
				if a.Package.Ecosystem != eco || handName(eco, a.Package.Name) != handName(eco, p.Name) {
					continue
				}
				hit := slices.Contains(a.Versions, p.Version)
				for _, rg := range a.Ranges {
					if hit || (rg.Type != "ECOSYSTEM" && rg.Type != "SEMVER") {
						continue
					}
					ok, err := inRange(p.Version, rg.Events, compare)
					if err != nil {
						return nil, fmt.Errorf("%s %s@%s: %w", r.ID, p.Name, p.Version, err)
					}
					hit = ok
				}
				if hit {
					out[pairKey(eco, p.Name, p.Version, r.ID)] = true
				}
			}
		}
	}
	return out, nil
}

func inRange(v string, events []map[string]string, compare func(a, b string) (int, error)) (bool, error) {
	type ev struct{ kind, val string }
	var evs []ev
	for _, e := range events {
		for k, val := range e {
			evs = append(evs, ev{k, val})
		}
	}
	var sortErr error
	slices.SortStableFunc(evs, func(a, b ev) int {
		az, bz := a.kind == "introduced" && a.val == "0", b.kind == "introduced" && b.val == "0"
		switch {
		case az && bz:
			return 0
		case az:
			return -1
		case bz:
			return 1
		}
		c, err := compare(a.val, b.val)
		if err != nil && sortErr == nil {
			sortErr = err
		}
		return c
	})
	if sortErr != nil {
		return false, sortErr
	}
	affected := false
	for _, e := range evs {
		if e.kind == "introduced" && e.val == "0" {
			affected = true
			continue
		}
		c, err := compare(v, e.val)
		if err != nil {
			return false, err
		}
		switch e.kind {
		case "introduced":
			if c >= 0 {
				affected = true
			}
		case "fixed", "limit":
			if c >= 0 {
				affected = false
			}
		case "last_affected":
			if c > 0 {
				affected = false
			}
		}
	}
	return affected, nil
}

// ---- npm: SemVer 2.0 precedence (node-semver's compare) ----

var semverRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$`)

func npmCompare(a, b string) (int, error) {
	ma, mb := semverRE.FindStringSubmatch(a), semverRE.FindStringSubmatch(b)
	if ma == nil || mb == nil {
		return 0, fmt.Errorf("not SemVer: %q / %q", a, b)
	}
	for i := 1; i <= 3; i++ {
		if c := numCompare(ma[i], mb[i]); c != 0 {
			return c, nil
		}
	}
	pa, pb := ma[4], mb[4]
	switch {
	case pa == pb:
		return 0, nil
	case pa == "":
		return 1, nil
	case pb == "":
		return -1, nil
	}
	ia, ib := strings.Split(pa, "."), strings.Split(pb, ".")
	for i := 0; i < len(ia) && i < len(ib); i++ {
		na, ea := strconv.Atoi(ia[i])
		nb, eb := strconv.Atoi(ib[i])
		switch {
		case ea == nil && eb == nil:
			if na != nb {
				return cmpInt(na, nb), nil
			}
		case ea == nil:
			return -1, nil
		case eb == nil:
			return 1, nil
		default:
			if c := strings.Compare(ia[i], ib[i]); c != 0 {
				return c, nil
			}
		}
	}
	return cmpInt(len(ia), len(ib)), nil
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// numCompare compares two digit strings as numbers of any size.
func numCompare(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return cmpInt(len(a), len(b))
	}
	return strings.Compare(a, b)
}

// ---- PyPI: PEP 440 (packaging.version's ordering) ----

var pep440RE = regexp.MustCompile(`^\s*v?(?:(\d+)!)?(\d+(?:\.\d+)*)` +
	`(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d+)?)?` +
	`(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?` +
	`(?:[-_.]?(dev)[-_.]?(\d+)?)?` +
	`(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$`)

type pep440 struct {
	epoch   int
	release []int
	pre     int // 0 none; 1 a, 2 b, 3 rc
	preN    int
	post    int // -1 none
	dev     int // -1 none
	local   []string
}

func parsePEP440(s string) (pep440, error) {
	m := pep440RE.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return pep440{}, fmt.Errorf("not PEP 440: %q", s)
	}
	v := pep440{post: -1, dev: -1}
	v.epoch, _ = strconv.Atoi(m[1])
	for _, p := range strings.Split(m[2], ".") {
		n, _ := strconv.Atoi(p)
		v.release = append(v.release, n)
	}
	for len(v.release) > 1 && v.release[len(v.release)-1] == 0 {
		v.release = v.release[:len(v.release)-1]
	}
	switch m[3] {
	case "a", "alpha":
		v.pre = 1
	case "b", "beta":
		v.pre = 2
	case "c", "rc", "pre", "preview":
		v.pre = 3
	}
	v.preN, _ = strconv.Atoi(m[4])
	switch {
	case m[5] != "":
		v.post, _ = strconv.Atoi(m[5])
	case m[6] != "":
		v.post, _ = strconv.Atoi(m[7])
	}
	if m[8] != "" {
		v.dev, _ = strconv.Atoi(m[9])
	}
	if m[10] != "" {
		v.local = pep503.Split(m[10], -1)
	}
	return v, nil
}

func pep440Compare(a, b string) (int, error) {
	va, err := parsePEP440(a)
	if err != nil {
		return 0, err
	}
	vb, err := parsePEP440(b)
	if err != nil {
		return 0, err
	}
	if c := cmpInt(va.epoch, vb.epoch); c != 0 {
		return c, nil
	}
	if c := slices.Compare(va.release, vb.release); c != 0 {
		return c, nil
	}
	// pre: a dev release without pre or post sorts before every pre
	// release; a release without pre after all of them.
	preKey := func(v pep440) [2]int {
		switch {
		case v.pre == 0 && v.post < 0 && v.dev >= 0:
			return [2]int{-1, 0}
		case v.pre == 0:
			return [2]int{4, 0}
		}
		return [2]int{v.pre, v.preN}
	}
	pa, pb := preKey(va), preKey(vb)
	if c := cmpInt(pa[0], pb[0]); c != 0 {
		return c, nil
	}
	if c := cmpInt(pa[1], pb[1]); c != 0 {
		return c, nil
	}
	if c := cmpInt(va.post, vb.post); c != 0 {
		return c, nil
	}
	devKey := func(v pep440) int {
		if v.dev < 0 {
			return int(^uint(0) >> 1)
		}
		return v.dev
	}
	if c := cmpInt(devKey(va), devKey(vb)); c != 0 {
		return c, nil
	}
	// local: none sorts first; segments compare numbers above strings.
	la, lb := va.local, vb.local
	for i := 0; i < len(la) && i < len(lb); i++ {
		na, ea := strconv.Atoi(la[i])
		nb, eb := strconv.Atoi(lb[i])
		switch {
		case ea == nil && eb == nil:
			if na != nb {
				return cmpInt(na, nb), nil
			}
		case ea == nil:
			return 1, nil
		case eb == nil:
			return -1, nil
		default:
			if c := strings.Compare(la[i], lb[i]); c != 0 {
				return c, nil
			}
		}
	}
	return cmpInt(len(la), len(lb)), nil
}

// ---- Maven: ComparableVersion ----

// mvItem is an item of a parsed Maven version: an integer, a qualifier
// string, or a sub-list (after "-" or a digit/letter switch).
type mvItem struct {
	kind int // 0 int, 1 string, 2 list
	num  *big.Int
	str  string
	list []*mvItem
}

var mvQualifiers = []string{"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"}

func mvQualifierKey(q string) string {
	if i := slices.Index(mvQualifiers, q); i >= 0 {
		return strconv.Itoa(i)
	}
	return strconv.Itoa(len(mvQualifiers)) + "-" + q
}

func mvString(s string, followedByDigit bool) *mvItem {
	if followedByDigit && len(s) == 1 {
		switch s {
		case "a":
			s = "alpha"
		case "b":
			s = "beta"
		case "m":
			s = "milestone"
		}
	}
	switch s {
	case "ga", "final", "release":
		s = ""
	case "cr":
		s = "rc"
	}
	return &mvItem{kind: 1, str: s}
}

func mvParseItem(digit bool, s string) *mvItem {
	if digit {
		n, _ := new(big.Int).SetString(s, 10)
		return &mvItem{kind: 0, num: n}
	}
	return mvString(s, false)
}

func (it *mvItem) isNull() bool {
	switch it.kind {
	case 0:
		return it.num.Sign() == 0
	case 1:
		return it.str == ""
	}
	return len(it.list) == 0
}

func parseMaven(v string) *mvItem {
	v = strings.ToLower(v)
	main := &mvItem{kind: 2}
	list := main
	stack := []*mvItem{main}
	digit, start := false, 0
	push := func() {
		l := &mvItem{kind: 2}
		list.list = append(list.list, l)
		list = l
		stack = append(stack, l)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '.':
			if i == start {
				list.list = append(list.list, &mvItem{kind: 0, num: big.NewInt(0)})
			} else {
				list.list = append(list.list, mvParseItem(digit, v[start:i]))
			}
			start = i + 1
		case c == '-':
			if i == start {
				list.list = append(list.list, &mvItem{kind: 0, num: big.NewInt(0)})
			} else {
				list.list = append(list.list, mvParseItem(digit, v[start:i]))
			}
			start = i + 1
			push()
		case c >= '0' && c <= '9':
			if !digit && i > start {
				list.list = append(list.list, mvString(v[start:i], true))
				start = i
				push()
			}
			digit = true
		default:
			if digit && i > start {
				list.list = append(list.list, mvParseItem(true, v[start:i]))
				start = i
				push()
			}
			digit = false
		}
	}
	if len(v) > start {
		list.list = append(list.list, mvParseItem(digit, v[start:]))
	}
	for i := len(stack) - 1; i >= 0; i-- {
		l := stack[i]
		for j := len(l.list) - 1; j >= 0; j-- {
			if l.list[j].isNull() {
				l.list = slices.Delete(l.list, j, j+1)
			} else if l.list[j].kind != 2 {
				break
			}
		}
	}
	return main
}

// mvCompare compares an item with another (nil: nothing there).
func mvCompare(a, b *mvItem) int {
	if b == nil {
		switch a.kind {
		case 0:
			return a.num.Sign()
		case 1:
			return strings.Compare(mvQualifierKey(a.str), mvQualifierKey(""))
		}
		if len(a.list) == 0 {
			return 0
		}
		return mvCompare(a.list[0], nil)
	}
	switch a.kind {
	case 0:
		if b.kind == 0 {
			return a.num.Cmp(b.num)
		}
		return 1
	case 1:
		switch b.kind {
		case 0, 2:
			return -1
		}
		return strings.Compare(mvQualifierKey(a.str), mvQualifierKey(b.str))
	}
	switch b.kind {
	case 0:
		return -1
	case 1:
		return 1
	}
	for i := 0; i < len(a.list) || i < len(b.list); i++ {
		var l, r *mvItem
		if i < len(a.list) {
			l = a.list[i]
		}
		if i < len(b.list) {
			r = b.list[i]
		}
		var c int
		switch {
		case l == nil && r == nil:
			c = 0
		case l == nil:
			c = -mvCompare(r, nil)
		default:
			c = mvCompare(l, r)
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func mavenCompare(a, b string) (int, error) {
	return mvCompare(parseMaven(a), parseMaven(b)), nil
}

// ---- rpm: [epoch:]version-release with rpmvercmp ----

func rpmCompare(a, b string) (int, error) {
	ea, va, ra := splitEVR(a)
	eb, vb, rb := splitEVR(b)
	if c := numCompare(ea, eb); c != 0 {
		return c, nil
	}
	if c := rpmvercmp(va, vb); c != 0 {
		return c, nil
	}
	return rpmvercmp(ra, rb), nil
}

func splitEVR(s string) (e, v, r string) {
	e = "0"
	if i := strings.IndexByte(s, ':'); i >= 0 {
		e, s = s[:i], s[i+1:]
	}
	v = s
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		v, r = s[:i], s[i+1:]
	}
	return e, v, r
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// rpmvercmp is rpm's lib/rpmvercmp.c.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	for len(a) > 0 || len(b) > 0 {
		for len(a) > 0 && !isAlnum(a[0]) && a[0] != '~' && a[0] != '^' {
			a = a[1:]
		}
		for len(b) > 0 && !isAlnum(b[0]) && b[0] != '~' && b[0] != '^' {
			b = b[1:]
		}
		if (len(a) > 0 && a[0] == '~') || (len(b) > 0 && b[0] == '~') {
			if len(a) == 0 || a[0] != '~' {
				return 1
			}
			if len(b) == 0 || b[0] != '~' {
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if (len(a) > 0 && a[0] == '^') || (len(b) > 0 && b[0] == '^') {
			if len(a) == 0 {
				return -1
			}
			if len(b) == 0 {
				return 1
			}
			if a[0] != '^' {
				return 1
			}
			if b[0] != '^' {
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if len(a) == 0 || len(b) == 0 {
			break
		}
		isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
		isAlpha := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
		num := isDigit(a[0])
		class := isAlpha
		if num {
			class = isDigit
		}
		i, j := 0, 0
		for i < len(a) && class(a[i]) {
			i++
		}
		for j < len(b) && class(b[j]) {
			j++
		}
		sa, sb := a[:i], b[:j]
		a, b = a[i:], b[j:]
		if len(sb) == 0 {
			if num {
				return 1
			}
			return -1
		}
		var c int
		if num {
			c = numCompare(sa, sb)
		} else {
			c = strings.Compare(sa, sb)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) > 0:
		return 1
	}
	return -1
}

// TestHandOrderings checks the hand-written orderings on the
// specifications' own examples.
func TestHandOrderings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		compare func(a, b string) (int, error)
		ordered []string
	}{
		{"semver", npmCompare, []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1", "10.0.0"}},
		{"pep440", pep440Compare, []string{"1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1", "1!0.1"}},
		{"maven", mavenCompare, []string{"1-alpha-1", "1-alpha2", "1-beta", "1-milestone-1", "1-rc1", "1-snapshot", "1", "1-sp1", "1-abc", "1.0.1", "1.1", "2.14.0", "9.4.57.v20241219", "9.4.58"}},
		{"rpm", rpmCompare, []string{"1.0~rc1-1", "1.0-1", "1.0^git1-1", "1.0.1-1", "2.34-100.el9_4.2", "2.34-125.el9_5.8.alma.1", "2:1.0-1"}},
	} {
		for i := 0; i+1 < len(tc.ordered); i++ {
			a, b := tc.ordered[i], tc.ordered[i+1]
			if c, err := tc.compare(a, b); err != nil || c >= 0 {
				t.Errorf("%s: %s < %s: got %d, %v", tc.name, a, b, c, err)
			}
			if c, err := tc.compare(b, a); err != nil || c <= 0 {
				t.Errorf("%s: %s > %s: got %d, %v", tc.name, b, a, c, err)
			}
		}
	}
	for _, eq := range [][3]string{{"maven", "1.0", "1"}, {"maven", "1-ga", "1"}, {"maven", "1.0.0-final", "1"}, {"pep440", "1.0", "1.0.0"}, {"rpm", "0:1.0-1", "1.0-1"}} {
		cmpf := map[string]func(a, b string) (int, error){"maven": mavenCompare, "pep440": pep440Compare, "rpm": rpmCompare}[eq[0]]
		if c, err := cmpf(eq[1], eq[2]); err != nil || c != 0 {
			t.Errorf("%s: %s == %s: got %d, %v", eq[0], eq[1], eq[2], c, err)
		}
	}
}
