package scan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/osv-scalibr/semantic"
	"github.com/ossf/osv-schema/bindings/go/osvschema"
	"google.golang.org/protobuf/types/known/structpb"
)

// Matcher matches packages against advisories. It is safe for concurrent
// use when its Advisories is.
type Matcher struct {
	adv Advisories
	// versions caches parsed versions: parsing (big integers, regular
	// expressions) dominates matching, and the same strings recur.
	mu       sync.Mutex
	versions map[verKey]parsedVersion
	// at decides withdrawal: a record withdrawn at or before at is
	// skipped; the zero time skips every withdrawn record.
	at time.Time
	// covered holds adv.Ecosystems(): ForPackage is not asked about an
	// ecosystem without records (nil: ask about every one).
	coveredOnce sync.Once
	covered     map[string]bool
	// records caches adv.ForPackage by (ecosystem, name): the binary
	// packages of one source package all ask for the source's records, and
	// the packages of a Go binary with findings are matched twice. A
	// second asker waits for the first instead of asking again.
	recMu   sync.Mutex
	records map[[2]string]*recordsEntry
}

// recordsEntry is one answer of adv.ForPackage, ready once done is closed.
type recordsEntry struct {
	done chan struct{}
	rs   []*osvschema.Vulnerability
	err  error
}

// NewMatcher returns a Matcher over adv.
func NewMatcher(adv Advisories, at time.Time) *Matcher {
	return &Matcher{adv: adv, at: at, versions: map[verKey]parsedVersion{}, records: map[[2]string]*recordsEntry{}}
}

// forPackage is adv.ForPackage, asked once per (ecosystem, name); an error
// is not kept, the next call asks again.
func (m *Matcher) forPackage(ecosystem, name string) ([]*osvschema.Vulnerability, error) {
	k := [2]string{ecosystem, name}
	m.recMu.Lock()
	e, ok := m.records[k]
	if !ok {
		e = &recordsEntry{done: make(chan struct{})}
		m.records[k] = e
	}
	m.recMu.Unlock()
	if ok {
		<-e.done
		return e.rs, e.err
	}
	e.rs, e.err = m.adv.ForPackage(ecosystem, name)
	if e.err != nil {
		m.recMu.Lock()
		delete(m.records, k)
		m.recMu.Unlock()
	}
	close(e.done)
	return e.rs, e.err
}

type verKey struct{ ordering, s string }

type parsedVersion struct {
	v   semantic.Version
	err error
}

// parse parses s in the ordering of a range: SEMVER ranges compare as
// SemVer 2.0 whatever the ecosystem; ECOSYSTEM ranges use the ecosystem's
// own ordering (scalibr's semantic package).
func (m *Matcher) parse(t osvschema.Range_Type, ecosystem, s string) (semantic.Version, error) {
	k := verKey{ecosystem, s}
	if t == osvschema.Range_SEMVER {
		k = verKey{"SEMVER", strings.TrimPrefix(s, "v")}
	}
	if m != nil {
		m.mu.Lock()
		pv, ok := m.versions[k]
		m.mu.Unlock()
		if ok {
			return pv.v, pv.err
		}
	}
	var pv parsedVersion
	if k.ordering == "SEMVER" {
		pv.v, pv.err = semantic.Parse(k.s, "Go")
	} else {
		pv.v, pv.err = semantic.Parse(s, ecosystem)
	}
	if m != nil {
		m.mu.Lock()
		if len(m.versions) > 1<<20 {
			clear(m.versions)
		}
		m.versions[k] = pv
		m.mu.Unlock()
	}
	return pv.v, pv.err
}

// matched is one record matching one package, before alias joining.
type matched struct {
	rec      *osvschema.Vulnerability
	matches  []Match
	severity Severity
	affected []*osvschema.Affected // the entries that matched
	at       []int                 // their indexes in rec.Affected
	evidence *Evidence
}

// wholeFrom makes h, matched on a record decoded only as far as matching
// reads (scan.Matchable), the hit of full, the same record decoded whole:
// its affected entries are the same, in the same order, so the matches
// stand; the entries and the severity are taken from full.
func (h *matched) wholeFrom(full *osvschema.Vulnerability) {
	h.rec, h.severity = full, Severity{Rating: RatingUnknown}
	for i, at := range h.at {
		h.affected[i] = full.GetAffected()[at]
		h.severity = higher(h.severity, recordSeverity(full, h.affected[i]))
	}
}

// MatchPackage returns the records that affect p, with their evidence, and
// the ranges it could not evaluate.
func (m *Matcher) MatchPackage(p Package) ([]Finding, []NotEvaluated, error) {
	return m.matchPackage(p, nil)
}

// matchPackage is MatchPackage; with syms, the symbols of the Go binary p
// was found in, each finding gets its Evidence.
func (m *Matcher) matchPackage(p Package, syms *goSymbols) ([]Finding, []NotEvaluated, error) {
	var notEval []NotEvaluated
	if p.Version == "" || p.Version == "(devel)" {
		return nil, []NotEvaluated{{Package: p.ref(), Location: p.Location, Reason: fmt.Sprintf("no version (%q): not matched", p.Version)}}, nil
	}
	ecos := []string{p.Ecosystem}
	if b := baseEcosystem(p.Ecosystem); b != p.Ecosystem {
		ecos = append(ecos, b)
	}
	names := []string{normalizeName(p.Ecosystem, p.Name)}
	if p.SourceName != "" && normalizeName(p.Ecosystem, p.SourceName) != names[0] {
		names = append(names, normalizeName(p.Ecosystem, p.SourceName))
	}
	m.coveredOnce.Do(func() {
		if es, err := m.adv.Ecosystems(); err == nil {
			m.covered = make(map[string]bool, len(es))
			for _, e := range es {
				m.covered[e] = true
			}
		}
	})
	seen := map[*osvschema.Vulnerability]bool{}
	var recs []*osvschema.Vulnerability
	for _, e := range ecos {
		if m.covered != nil && !m.covered[e] {
			continue // no records at all (NO_ADVISORY_DATA, reported by the caller)
		}
		for _, n := range names {
			rs, err := m.forPackage(e, n)
			if err != nil {
				return nil, nil, fmt.Errorf("advisories for %s/%s: %w", e, n, err)
			}
			for _, r := range rs {
				if !seen[r] {
					seen[r] = true
					recs = append(recs, r)
				}
			}
		}
	}
	whole, _ := m.adv.(Matchable)
	var hits []matched
	for _, r := range recs {
		if w := r.GetWithdrawn(); w != nil && (m.at.IsZero() || !w.AsTime().After(m.at)) {
			continue
		}
		h, ne := m.matchRecord(p, ecos, names, r)
		if h != nil && whole != nil {
			// Matched on its affected entries alone: the finding needs
			// the rest of the record.
			full, err := whole.Whole(r)
			if err != nil {
				return nil, nil, err
			}
			switch {
			case full == r:
			case len(full.GetAffected()) == len(r.GetAffected()):
				h.wholeFrom(full)
			default: // not the same record: match it again
				h, ne = m.matchRecord(p, ecos, names, full)
			}
		}
		notEval = append(notEval, ne...)
		if h != nil {
			if syms != nil {
				h.evidence = recordEvidence(syms, p, h.affected)
			}
			hits = append(hits, *h)
		}
	}
	return join(p, hits), notEval, nil
}

// matchRecord matches p against the affected entries of r that name one
// of ecos and names: the record's hit (nil when none matched) and the
// ranges it could not evaluate.
func (m *Matcher) matchRecord(p Package, ecos, names []string, r *osvschema.Vulnerability) (*matched, []NotEvaluated) {
	var h *matched
	var notEval []NotEvaluated
	for i, a := range r.GetAffected() {
		ap := a.GetPackage()
		if !slices.Contains(ecos, ap.GetEcosystem()) || !slices.Contains(names, normalizeName(p.Ecosystem, ap.GetName())) {
			continue
		}
		if !platformMatches(p, a) {
			continue
		}
		ms, ne := m.matchAffected(p, r.GetId(), a)
		notEval = append(notEval, ne...)
		if len(ms) == 0 {
			continue
		}
		if h == nil {
			h = &matched{rec: r, severity: Severity{Rating: RatingUnknown}}
		}
		h.matches = append(h.matches, ms...)
		h.severity = higher(h.severity, recordSeverity(r, a))
		h.affected = append(h.affected, a)
		h.at = append(h.at, i)
	}
	return h, notEval
}

// platformMatches applies the Go vulndb's ecosystem_specific.imports
// goos/goarch lists the way govulncheck does: an affected entry whose
// imports all name other platforms than the binary's does not apply. An
// empty list, or an unknown platform of the package, matches everything.
func platformMatches(p Package, a *osvschema.Affected) bool {
	if baseEcosystem(p.Ecosystem) != "Go" || (p.GOOS == "" && p.GOARCH == "") {
		return true
	}
	imports := a.GetEcosystemSpecific().GetFields()["imports"].GetListValue().GetValues()
	if len(imports) == 0 {
		return true
	}
	for _, iv := range imports {
		f := iv.GetStructValue().GetFields()
		if platformComponent(p.GOOS, f["goos"]) && platformComponent(p.GOARCH, f["goarch"]) {
			return true
		}
	}
	return false
}

func platformComponent(s string, list *structpb.Value) bool {
	vs := list.GetListValue().GetValues()
	if s == "" || len(vs) == 0 {
		return true
	}
	for _, v := range vs {
		if v.GetStringValue() == s {
			return true
		}
	}
	return false
}

// matchAffected evaluates one affected entry: its versions list, then its
// ranges.
func (m *Matcher) matchAffected(p Package, id string, a *osvschema.Affected) ([]Match, []NotEvaluated) {
	var out []Match
	var ne []NotEvaluated
	name := a.GetPackage().GetName()
	for _, v := range a.GetVersions() {
		if v == p.Version || (baseEcosystem(p.Ecosystem) == "Go" && strings.TrimPrefix(v, "v") == p.Version) {
			out = append(out, Match{Advisory: id, Package: name, Range: "versions list"})
			break
		}
	}
	// A GIT range is listed as not evaluated only when nothing else of the
	// entry was: a versions list or a SEMVER/ECOSYSTEM range decides it.
	hasGit, evaluated := false, len(a.GetVersions()) > 0
	for _, r := range a.GetRanges() {
		switch r.GetType() {
		case osvschema.Range_GIT:
			hasGit = true
			continue
		case osvschema.Range_SEMVER, osvschema.Range_ECOSYSTEM:
			evaluated = true
		default:
			continue
		}
		ok, desc, fixed, err := m.evalRange(r, p.Ecosystem, p.Version)
		if err != nil {
			ne = append(ne, NotEvaluated{Advisory: id, Package: p.ref(), Location: p.Location, Reason: err.Error()})
			continue
		}
		if ok {
			out = append(out, Match{Advisory: id, Package: name, Range: desc, Fixed: fixed})
		}
	}
	if hasGit && !evaluated {
		ne = append(ne, NotEvaluated{Advisory: id, Package: p.ref(), Location: p.Location, Reason: "GIT range: commit ranges are not evaluated"})
	}
	return out, ne
}

type event struct {
	kind  string // introduced, fixed, last_affected, limit
	value string
	zero  bool // introduced "0" or limit "*"
	v     semantic.Version
}

// evalRange decides whether version lies in the range, following the OSV
// schema's evaluation algorithm: events sorted by version, introduced
// switches affected on, fixed (at or above) and last_affected (above)
// switch it off; limit caps the range. desc describes the interval that
// matched; fixed is its fix, if any.
func evalRange(r *osvschema.Range, ecosystem, version string) (bool, string, string, error) {
	return (*Matcher)(nil).evalRange(r, ecosystem, version)
}

func (m *Matcher) evalRange(r *osvschema.Range, ecosystem, version string) (bool, string, string, error) {
	parse := func(s string) (semantic.Version, error) { return m.parse(r.GetType(), ecosystem, s) }
	v, err := parse(version)
	if err != nil {
		return false, "", "", fmt.Errorf("version %q does not parse in %s: %v", version, ecosystem, err)
	}
	evs := make([]event, 0, len(r.GetEvents()))
	for _, e := range r.GetEvents() {
		ev := event{}
		switch {
		case e.GetIntroduced() != "":
			ev.kind, ev.value = "introduced", e.GetIntroduced()
			ev.zero = ev.value == "0"
		case e.GetFixed() != "":
			ev.kind, ev.value = "fixed", e.GetFixed()
		case e.GetLastAffected() != "":
			ev.kind, ev.value = "last_affected", e.GetLastAffected()
		case e.GetLimit() != "":
			ev.kind, ev.value = "limit", e.GetLimit()
			ev.zero = ev.value == "*"
		default:
			continue
		}
		if !ev.zero {
			pv, err := parse(ev.value)
			if err != nil {
				return false, "", "", fmt.Errorf("%s %q does not parse in %s: %v", ev.kind, ev.value, ecosystem, err)
			}
			ev.v = pv
		}
		evs = append(evs, ev)
	}
	var cmpErr error
	compare := func(a, b semantic.Version) int {
		c, err := a.Compare(b)
		if err != nil && cmpErr == nil {
			cmpErr = err
		}
		return c
	}
	slices.SortStableFunc(evs, func(a, b event) int {
		az, bz := a.zero && a.kind == "introduced", b.zero && b.kind == "introduced"
		switch {
		case az && bz:
			return 0
		case az:
			return -1
		case bz:
			return 1
		}
		if a.zero || b.zero { // limit "*": last
			return cmp.Compare(boolInt(a.zero), boolInt(b.zero))
		}
		return compare(a.v, b.v)
	})
	for _, e := range evs {
		if e.kind == "limit" && !e.zero && compare(v, e.v) >= 0 {
			return false, "", "", cmpErr
		}
	}
	affected := false
	intro := ""
	end, fixed := "", ""
	for _, e := range evs {
		switch e.kind {
		case "introduced":
			if e.zero || compare(v, e.v) >= 0 {
				affected, intro, end, fixed = true, e.value, "", ""
			}
		case "fixed":
			if compare(v, e.v) >= 0 {
				affected = false
			} else if affected && end == "" {
				end, fixed = "fixed="+e.value, e.value
			}
		case "last_affected":
			if compare(v, e.v) > 0 {
				affected = false
			} else if affected && end == "" {
				end = "last_affected=" + e.value
			}
		}
	}
	if cmpErr != nil {
		return false, "", "", fmt.Errorf("comparing versions in %s: %v", ecosystem, cmpErr)
	}
	if !affected {
		return false, "", "", nil
	}
	desc := r.GetType().String() + " introduced=" + intro
	if end != "" {
		desc += " " + end
	}
	return true, desc, fixed, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// join turns the records matching one package into findings: records
// whose ids or aliases meet are one vulnerability.
func join(p Package, hits []matched) []Finding {
	if len(hits) == 0 {
		return nil
	}
	parent := make([]int, len(hits))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i, h := range hits {
		for _, id := range append([]string{h.rec.GetId()}, h.rec.GetAliases()...) {
			if j, ok := owner[id]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[id] = i
			}
		}
	}
	groups := map[int][]int{}
	var roots []int
	for i := range hits {
		r := find(i)
		if _, ok := groups[r]; !ok {
			roots = append(roots, r)
		}
		groups[r] = append(groups[r], i)
	}
	var out []Finding
	for _, r := range roots {
		f := Finding{Package: p.ref(), Locations: []Location{p.Location}, Severity: Severity{Rating: RatingUnknown}}
		ids := map[string]bool{}
		f.Evidence = hits[groups[r][0]].evidence
		for _, i := range groups[r] {
			h := hits[i]
			f.Evidence = mergeEvidence(f.Evidence, h.evidence)
			f.Advisories = append(f.Advisories, h.rec.GetId())
			ids[h.rec.GetId()] = true
			for _, a := range h.rec.GetAliases() {
				ids[a] = true
			}
			f.Matches = append(f.Matches, h.matches...)
			f.Severity = higher(f.Severity, h.severity)
			if f.Summary == "" || h.rec.GetId() < f.Advisories[0] {
				f.Summary = h.rec.GetSummary()
			}
		}
		for id := range ids {
			f.IDs = append(f.IDs, id)
		}
		slices.Sort(f.IDs)
		slices.Sort(f.Advisories)
		f.Summary = summaryOf(hits, groups[r], f.Advisories[0])
		f.ID = primaryID(f.IDs, f.Advisories)
		f.Matches = sortMatches(f.Matches)
		f.Fixed = highestFixed(p.Ecosystem, f.Matches)
		out = append(out, f)
	}
	return out
}

func summaryOf(hits []matched, idx []int, first string) string {
	for _, i := range idx {
		if hits[i].rec.GetId() == first {
			if s := hits[i].rec.GetSummary(); s != "" {
				return s
			}
		}
	}
	for _, i := range idx {
		if s := hits[i].rec.GetSummary(); s != "" {
			return s
		}
	}
	return ""
}

// primaryID picks the lowest CVE id, else the lowest matched record id.
func primaryID(ids, advisories []string) string {
	for _, id := range ids {
		if strings.HasPrefix(id, "CVE-") {
			return id
		}
	}
	return advisories[0]
}

func sortMatches(ms []Match) []Match {
	slices.SortFunc(ms, func(a, b Match) int {
		return cmp.Or(cmp.Compare(a.Advisory, b.Advisory), cmp.Compare(a.Package, b.Package), cmp.Compare(a.Range, b.Range), cmp.Compare(a.Fixed, b.Fixed))
	})
	// drop exact duplicates (one record can name a package twice)
	return slices.Compact(ms)
}

// highestFixed returns the highest fixed version among the matches, so
// that upgrading to it leaves every matched range; "" when one of the
// matched ranges has no fix.
func highestFixed(ecosystem string, ms []Match) string {
	best := ""
	var bestV semantic.Version
	for _, m := range ms {
		if m.Fixed == "" {
			return ""
		}
		v, err := semantic.Parse(m.Fixed, ecosystem)
		if err != nil {
			if m.Fixed > best {
				best = m.Fixed
			}
			continue
		}
		if best == "" || bestV == nil {
			best, bestV = m.Fixed, v
			continue
		}
		if c, err := v.Compare(bestV); err == nil && c > 0 {
			best, bestV = m.Fixed, v
		}
	}
	return best
}

func stringField(v *structpb.Value) string { return v.GetStringValue() }
