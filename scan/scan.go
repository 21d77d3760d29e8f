package scan

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/parallel"
)

// Options configure a scan. The zero value is valid.
type Options struct {
	// Time stamps the report and decides withdrawal of records; the zero
	// time leaves the stamp out (and skips every withdrawn record), so that
	// the same input gives the same bytes.
	Time time.Time
	// Images resolves sha256: targets (images imported into the store).
	Images ImageSource
	// TempDir is where image files are unpacked for the extractors; ""
	// means the system temp dir. Everything written is removed.
	TempDir string
	// Tool names the tool in reports ("ferry dev").
	Tool string
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
	// Evidence reads the function names of every Go binary and gives each
	// finding in a Go binary an Evidence: whether the vulnerable symbols
	// the record lists are in the binary (docs/scan.md).
	Evidence bool
	// Progress, if set, is told how the reading of an image goes: before
	// each layer with the layers done and their count, and once more when
	// all are read (done == layers), before the files found are examined.
	// Calls come from the scanning goroutine. It is not called for other
	// targets.
	Progress func(done, layers int)
}

// Scan takes the inventory of target and matches it against adv.
func Scan(ctx context.Context, target string, adv Advisories, opts Options) (*Report, error) {
	t, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	inv, err := Inventory(ctx, t, opts)
	if err != nil {
		return nil, err
	}
	return MatchInventory(ctx, inv, adv, opts)
}

// parallelMatchMin is the number of packages per extra matching
// goroutine: below it, starting one costs more than it saves.
const parallelMatchMin = 32

// MatchInventory matches an inventory against adv and builds the report.
func MatchInventory(ctx context.Context, inv *InventoryResult, adv Advisories, opts Options) (*Report, error) {
	rep := &Report{Schema: SchemaVersion, Tool: cmp.Or(opts.Tool, "ferry"), Target: inv.Target}
	if !opts.Time.IsZero() {
		t := opts.Time.UTC()
		rep.Time = &t
	}
	pkgs := slices.Clone(inv.Packages)
	sortPackages(pkgs)
	rep.Packages = pkgs
	rep.NotEvaluated = append(rep.NotEvaluated, inv.NotEvaluated...)

	m := NewMatcher(adv, opts.Time)
	// The Matcher's caches hold a few entries per package: sized for
	// them, they are not grown step by step.
	m.versions = make(map[verKey]parsedVersion, len(pkgs))
	m.records = make(map[[2]string]*recordsEntry, 2*len(pkgs))
	type key struct {
		ids string
		pkg PackageRef
	}
	// The findings, in the order first met, and the index of each by key.
	// Room for a finding per package, which memory fresh from the system
	// costs only where written (appending from empty copies the findings
	// at every doubling).
	findings := make([]Finding, 0, len(pkgs))
	byKey := make(map[key]int, len(pkgs))
	add := func(fs []Finding) {
		for _, f := range fs {
			k := key{strings.Join(f.IDs, " "), f.Package}
			if i, ok := byKey[k]; ok {
				old := &findings[i]
				old.Locations = append(old.Locations, f.Locations...)
				old.Matches = sortMatches(append(old.Matches, f.Matches...))
				old.Evidence = mergeEvidence(old.Evidence, f.Evidence)
				continue
			}
			byKey[k] = len(findings)
			findings = append(findings, f)
		}
	}
	// The symbol table of a Go binary may still be being read (in the
	// background, see symbolTables): the packages of Go binaries that have
	// findings are matched again with it once every package is matched,
	// so that the reading overlaps all the matching. A package without
	// findings never waits for its table. Findings are merged in any
	// order to the same result.
	type withTable struct {
		p Package
		t *symbolTable
	}
	var again []withTable
	// Packages are matched on every CPU (the Matcher and adv are safe for
	// concurrent use); their results are taken in package order, as a
	// serial loop would.
	type pkgMatch struct {
		fs []Finding
		ne []NotEvaluated
	}
	workers := 1
	if len(pkgs) >= 2*parallelMatchMin {
		workers = min(runtime.GOMAXPROCS(0), len(pkgs)/parallelMatchMin)
	}
	res, err := parallel.Map(ctx, workers, pkgs, func(_ context.Context, p Package) (pkgMatch, error) {
		fs, ne, err := m.matchPackage(p, nil)
		return pkgMatch{fs, ne}, err
	})
	if err != nil {
		return nil, err
	}
	for i, p := range pkgs {
		fs := res[i].fs
		rep.NotEvaluated = append(rep.NotEvaluated, res[i].ne...)
		if t, ok := inv.symbols.of(p); ok && len(fs) > 0 {
			again = append(again, withTable{p, t})
			continue
		}
		add(fs)
	}
	for _, a := range again {
		g, _ := a.t.wait() // nil when unreadable: no evidence
		fs, _, err := m.matchPackage(a.p, g)
		if err != nil {
			return nil, err
		}
		add(fs)
	}
	for _, p := range pkgs {
		if t, ok := inv.symbols.of(p); ok && p.Name == "stdlib" {
			if _, err := t.wait(); err != nil {
				rep.NotEvaluated = append(rep.NotEvaluated, NotEvaluated{Package: p.ref(), Location: p.Location,
					Reason: fmt.Sprintf("Go symbols not read (%v): its findings carry no evidence", err)})
			}
		}
	}
	for i := range findings {
		sortLocations(&findings[i])
		enrich(&findings[i], adv)
	}
	rep.Findings = findings
	sortFindings(rep.Findings)
	sortNotEvaluated(&rep.NotEvaluated)

	st, err := ecosystemStatus(pkgs, adv)
	if err != nil {
		return nil, err
	}
	rep.Ecosystems = st
	rep.Summary = summarize(rep)
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	if rep.NotEvaluated == nil {
		rep.NotEvaluated = []NotEvaluated{}
	}
	if rep.Packages == nil {
		rep.Packages = []Package{}
	}
	return rep, nil
}

// enrich adds KEV membership and the highest EPSS score of the finding's
// CVEs when adv has those abilities.
func enrich(f *Finding, adv Advisories) {
	kev, hasKEV := adv.(KEV)
	epss, hasEPSS := adv.(EPSS)
	for _, id := range f.IDs {
		if !strings.HasPrefix(id, "CVE-") {
			continue
		}
		if hasKEV {
			if ok, err := kev.KEV(id); err == nil && ok {
				f.KEV = true
			}
		}
		if hasEPSS {
			if s, p, ok, err := epss.EPSS(id); err == nil && ok && (f.EPSS == nil || s > f.EPSS.Score) {
				f.EPSS = &EPSSScore{CVE: id, Score: s, Percentile: p}
			}
		}
	}
}

// ecosystemStatus reports, per ecosystem of the target, whether any
// advisory data covers it: the exact ecosystem ("Debian:12"), or its bare
// name ("Debian") on either side.
func ecosystemStatus(pkgs []Package, adv Advisories) ([]EcosystemStatus, error) {
	have, err := adv.Ecosystems()
	if err != nil {
		return nil, fmt.Errorf("listing advisory ecosystems: %w", err)
	}
	covered := map[string]bool{}
	bare := map[string]bool{}
	for _, e := range have {
		covered[e] = true
		bare[baseEcosystem(e)] = true
	}
	count := map[string]int{}
	for _, p := range pkgs {
		count[p.Ecosystem]++
	}
	var out []EcosystemStatus
	for _, e := range slices.Sorted(mapsKeys(count)) {
		s := StatusNoAdvisoryData
		if covered[e] || covered[baseEcosystem(e)] || (e == baseEcosystem(e) && bare[e]) {
			s = StatusOK
		}
		name := e
		if name == "" {
			name = "(unknown)"
		}
		out = append(out, EcosystemStatus{Ecosystem: name, Packages: count[e], Status: s})
	}
	if out == nil {
		out = []EcosystemStatus{}
	}
	return out, nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func summarize(r *Report) Summary {
	s := Summary{Findings: len(r.Findings), NoAdvisoryData: []string{}}
	for _, f := range r.Findings {
		switch f.Severity.Rating {
		case RatingCritical:
			s.Critical++
		case RatingHigh:
			s.High++
		case RatingMedium:
			s.Medium++
		case RatingLow, RatingNone:
			s.Low++
		default:
			s.Unknown++
		}
		if f.KEV {
			s.KEV++
		}
	}
	for _, e := range r.Ecosystems {
		if e.Status == StatusNoAdvisoryData {
			s.NoAdvisoryData = append(s.NoAdvisoryData, e.Ecosystem)
		}
	}
	s.NothingEvaluated = len(r.Packages) == 0
	for _, n := range r.NotEvaluated {
		if n.Unreadable {
			s.Unreadable++
		}
	}
	return s
}

// Fails reports why a report fails a --fail-on threshold: findings at or
// above it (UNKNOWN severity included) that are Actionable (their VEX
// consensus is not not_affected or fixed) and ecosystems without advisory
// data. It returns nil when the report passes.
func (r *Report) Fails(threshold string) []string {
	var why []string
	n := 0
	for _, f := range r.Findings {
		if AtLeast(f.Severity.Rating, threshold) && f.Actionable() {
			n++
		}
	}
	if n > 0 {
		why = append(why, fmt.Sprintf("%d finding(s) at or above %s (or of unknown severity)", n, threshold))
	}
	for _, e := range r.Summary.NoAdvisoryData {
		why = append(why, fmt.Sprintf("%s: %s", StatusNoAdvisoryData, e))
	}
	for _, n := range r.NotEvaluated {
		if n.Unreadable {
			why = append(why, fmt.Sprintf("%s: %s", StatusUnreadable, unreadableText(n)))
		}
	}
	if r.Summary.NothingEvaluated {
		why = append(why, fmt.Sprintf("%s: no package of the target could be matched (%d not evaluated)", StatusNothingEvaluated, len(r.NotEvaluated)))
	}
	return why
}

// unreadableText names an unreadable file and why: "layer sha256:… path:
// reason" or "path: reason".
func unreadableText(n NotEvaluated) string {
	where := n.Location.Path
	if n.Location.Layer != "" {
		where = "layer " + n.Location.Layer + " " + where
	}
	return where + ": " + n.Reason
}

func locKey(l Location) string { return l.Layer + "\x00" + l.Path + "\x00" + l.SBOMRef }

func sortLocations(f *Finding) {
	slices.SortFunc(f.Locations, func(a, b Location) int { return cmp.Compare(locKey(a), locKey(b)) })
	f.Locations = slices.Compact(f.Locations)
}

func pkgRefCompare(a, b PackageRef) int {
	if c := strings.Compare(a.Ecosystem, b.Ecosystem); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := strings.Compare(a.Version, b.Version); c != 0 {
		return c
	}
	if c := strings.Compare(a.SourceName, b.SourceName); c != 0 {
		return c
	}
	return strings.Compare(a.PURL, b.PURL)
}

// compareLoc orders locations as cmp.Compare(locKey(a), locKey(b)) does,
// without building the keys.
func compareLoc(a, b Location) int {
	return compareConcat([]string{a.Layer, "\x00", a.Path, "\x00", a.SBOMRef}, []string{b.Layer, "\x00", b.Path, "\x00", b.SBOMRef})
}

// compareConcat compares strings.Join(a, "") with strings.Join(b, "")
// without joining them.
func compareConcat(a, b []string) int {
	i, j, ai, bj := 0, 0, 0, 0
	for {
		for i < len(a) && ai == len(a[i]) {
			i, ai = i+1, 0
		}
		for j < len(b) && bj == len(b[j]) {
			j, bj = j+1, 0
		}
		switch {
		case i == len(a) && j == len(b):
			return 0
		case i == len(a):
			return -1
		case j == len(b):
			return 1
		}
		n := min(len(a[i])-ai, len(b[j])-bj)
		if c := strings.Compare(a[i][ai:ai+n], b[j][bj:bj+n]); c != 0 {
			return c
		}
		ai, bj = ai+n, bj+n
	}
}

func sortPackages(ps []Package) {
	// The order of pkgRefCompare, locKey and then GOOS+"/"+GOARCH,
	// compared field by field: cmp.Or would build every key of both sides
	// on each of the n log n comparisons.
	slices.SortFunc(ps, func(a, b Package) int {
		if c := pkgRefCompare(a.ref(), b.ref()); c != 0 {
			return c
		}
		if c := compareLoc(a.Location, b.Location); c != 0 {
			return c
		}
		if c := compareConcat([]string{a.GOOS, "/", a.GOARCH}, []string{b.GOOS, "/", b.GOARCH}); c != 0 {
			return c
		}
		return cmp.Compare(a.Extractor, b.Extractor)
	})
}

// sortFindings orders findings by package, then severity (highest
// first), then id.
func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(pkgRefCompare(a.Package, b.Package), cmp.Compare(rank(b.Severity.Rating), rank(a.Severity.Rating)),
			cmp.Compare(a.ID, b.ID), cmp.Compare(strings.Join(a.IDs, " "), strings.Join(b.IDs, " ")))
	})
}

func sortNotEvaluated(ns *[]NotEvaluated) {
	slices.SortFunc(*ns, func(a, b NotEvaluated) int {
		return cmp.Or(pkgRefCompare(a.Package, b.Package), cmp.Compare(locKey(a.Location), locKey(b.Location)),
			cmp.Compare(a.Advisory, b.Advisory), cmp.Compare(a.Reason, b.Reason))
	})
	*ns = slices.Compact(*ns)
}
