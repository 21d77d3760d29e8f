package scan

import "time"

// SchemaVersion names the JSON report format (docs/scan.md). It changes
// only when a field changes meaning or disappears; new fields may be added
// within a version.
const SchemaVersion = "ferry.scan/v1"

// Ecosystem statuses.
const (
	// StatusOK says the store holds advisory data for the ecosystem.
	StatusOK = "OK"
	// StatusNoAdvisoryData says the target has packages of the ecosystem
	// but there is no advisory data for it: absence of findings there
	// means nothing. --fail-on fails on it.
	StatusNoAdvisoryData = "NO_ADVISORY_DATA"
	// StatusNothingEvaluated says no package of the target could be
	// matched at all. --fail-on fails on it.
	StatusNothingEvaluated = "NOTHING_EVALUATED"
	// StatusUnreadable says a file an extractor wants (a lockfile, a
	// package database) could not be read: the packages it lists are
	// unknown. --fail-on fails on it.
	StatusUnreadable = "UNREADABLE"
)

// Severity ratings, highest first; RatingUnknown sorts below LOW but
// --fail-on treats it as meeting every threshold (fail closed).
const (
	RatingCritical = "CRITICAL"
	RatingHigh     = "HIGH"
	RatingMedium   = "MEDIUM"
	RatingLow      = "LOW"
	RatingNone     = "NONE"
	RatingUnknown  = "UNKNOWN"
)

// Package is one package found in the target.
type Package struct {
	Ecosystem  string   `json:"ecosystem"`
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	SourceName string   `json:"source_name,omitempty"`
	PURL       string   `json:"purl,omitempty"`
	GOOS       string   `json:"goos,omitempty"`
	GOARCH     string   `json:"goarch,omitempty"`
	Location   Location `json:"location"`
	Extractor  string   `json:"extractor,omitempty"`
	// DepGroups holds the dependency groups a lockfile puts the package
	// in (DepGroupDev, DepGroupOptional, DepGroupPeer); none for a
	// production dependency or where the file does not say.
	DepGroups []string `json:"dep_groups,omitempty"`
}

// Location is where a package was found: a file in a layer of an image
// (Layer is the layer's diff-less blob digest), a file in a directory, or a
// component of an SBOM.
type Location struct {
	Layer   string `json:"layer,omitempty"`
	Path    string `json:"path,omitempty"`
	SBOMRef string `json:"sbom_ref,omitempty"`
}

// PackageRef names a package without its location.
type PackageRef struct {
	Ecosystem  string `json:"ecosystem"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	SourceName string `json:"source_name,omitempty"`
	PURL       string `json:"purl,omitempty"`
}

// Severity is a finding's severity: a rating, and the CVSS base score and
// vector it came from when there was one.
type Severity struct {
	Rating string  `json:"rating"`
	Score  float64 `json:"score,omitempty"`
	Vector string  `json:"vector,omitempty"`
	// Source is the advisory id the severity was taken from.
	Source string `json:"source,omitempty"`
}

// EPSSScore is a CVE's EPSS probability and percentile.
type EPSSScore struct {
	CVE        string  `json:"cve"`
	Score      float64 `json:"score"`
	Percentile float64 `json:"percentile"`
}

// Match is the evidence of one advisory matching: which record, which
// affected package entry, and which range or versions list.
type Match struct {
	Advisory string `json:"advisory"`
	// Package is the affected package name the record uses (the source
	// package for distro records that use it).
	Package string `json:"package"`
	// Range is the matched range, e.g. "SEMVER introduced=0 fixed=0.3.7",
	// or "versions list".
	Range string `json:"range"`
	Fixed string `json:"fixed,omitempty"`
}

// Finding is one vulnerability in one package: all records that alias
// each other joined, every location the package was found at.
type Finding struct {
	// ID is the primary id: the lowest CVE among IDs, else the lowest
	// matched record id.
	ID string `json:"id"`
	// IDs holds every id and alias of the joined records, sorted.
	IDs []string `json:"ids"`
	// Advisories holds the ids of the records that matched, sorted.
	Advisories []string   `json:"advisories"`
	Summary    string     `json:"summary,omitempty"`
	Severity   Severity   `json:"severity"`
	KEV        bool       `json:"kev,omitempty"`
	EPSS       *EPSSScore `json:"epss,omitempty"`
	Package    PackageRef `json:"package"`
	Locations  []Location `json:"locations"`
	Matches    []Match    `json:"matches"`
	// Fixed is the lowest version that fixes every matched range, "" when
	// no fixed version is known.
	Fixed string `json:"fixed,omitempty"`
	// VEX is the VEX consensus about the finding (ferry scan --store);
	// nil when no consensus was computed (--advisories).
	VEX *VEX `json:"vex,omitempty"`
	// Evidence says how far a finding in a Go binary reaches into it
	// (Options.Evidence); nil when not asked for, or not known.
	Evidence *Evidence `json:"evidence,omitempty"`
}

// VEX is a finding's VEX consensus (package vex/consensus,
// docs/vex-consensus.md): its status, and the deciding statement.
type VEX struct {
	// Status is affected, not_affected, fixed, under_investigation,
	// conflict or unknown; Resolution the conservative reading of a
	// conflict.
	Status          string `json:"status"`
	Resolution      string `json:"resolution,omitempty"`
	Justification   string `json:"justification,omitempty"`
	ImpactStatement string `json:"impact_statement,omitempty"`
	ActionStatement string `json:"action_statement,omitempty"`
	// Issuer and Tier are the deciding statement's; Document its source
	// document's digest.
	Issuer   string `json:"issuer,omitempty"`
	Tier     string `json:"tier,omitempty"`
	Document string `json:"document,omitempty"`
	// Statements counts the statements considered (dropped ones
	// included), Dissent those of lower tiers that disagree.
	Statements int    `json:"statements"`
	Dissent    int    `json:"dissent,omitempty"`
	Algorithm  string `json:"algorithm"`
}

// VEX consensus statuses a finding may carry.
const (
	VEXAffected           = "affected"
	VEXNotAffected        = "not_affected"
	VEXFixed              = "fixed"
	VEXUnderInvestigation = "under_investigation"
	VEXConflict           = "conflict"
	VEXUnknown            = "unknown"
)

// Actionable reports whether the finding counts for --fail-on: no VEX
// consensus, or one that is affected, under_investigation, conflict or
// unknown. Findings the consensus says are not_affected or fixed do not.
func (f *Finding) Actionable() bool {
	return f.VEX == nil || (f.VEX.Status != VEXNotAffected && f.VEX.Status != VEXFixed)
}

// VEXDecider decides the VEX consensus of one finding: its ids, its
// package (a purl, else ecosystem/name@version) and the product it is
// part of (the scanned image's digest, or "").
type VEXDecider func(ids []string, product, within string) VEX

// ApplyVEX sets every finding's VEX consensus with decide and counts the
// statuses in the summary. decide may be nil when there are no findings.
func (r *Report) ApplyVEX(decide VEXDecider) {
	r.Summary.VEX = map[string]int{}
	for _, s := range []string{VEXAffected, VEXUnderInvestigation, VEXConflict, VEXUnknown, VEXFixed, VEXNotAffected} {
		r.Summary.VEX[s] = 0
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		v := decide(f.IDs, componentID(f.Package), r.Target.Digest)
		f.VEX = &v
		r.Summary.VEX[v.Status]++
	}
}

// EcosystemStatus says how many packages of an ecosystem the target holds
// and whether any advisory data covers it.
type EcosystemStatus struct {
	Ecosystem string `json:"ecosystem"`
	Packages  int    `json:"packages"`
	Status    string `json:"status"`
}

// NotEvaluated records a package or an advisory range scan could not
// decide: a GIT range, an unparseable version, a "(devel)" Go module.
type NotEvaluated struct {
	Advisory string     `json:"advisory,omitempty"`
	Package  PackageRef `json:"package"`
	Location Location   `json:"location"`
	Reason   string     `json:"reason"`
	// Unreadable is set for a file an extractor could not read
	// (StatusUnreadable): --fail-on fails on it.
	Unreadable bool `json:"unreadable,omitempty"`
}

// TargetInfo describes what was scanned.
type TargetInfo struct {
	Ref    string `json:"ref"`
	Kind   string `json:"kind"`
	Digest string `json:"digest,omitempty"`
}

// Summary counts findings per rating.
type Summary struct {
	Findings       int      `json:"findings"`
	Critical       int      `json:"critical"`
	High           int      `json:"high"`
	Medium         int      `json:"medium"`
	Low            int      `json:"low"`
	Unknown        int      `json:"unknown"`
	KEV            int      `json:"kev"`
	NoAdvisoryData []string `json:"no_advisory_data"`
	// NothingEvaluated is true when the target has no package scan could
	// match against advisories (an SBOM of pkg:generic components, an
	// image without a package database): "no findings" would mean
	// nothing. --fail-on fails on it.
	NothingEvaluated bool `json:"nothing_evaluated,omitempty"`
	// Unreadable counts the files an extractor could not read (the
	// not_evaluated entries marked unreadable). --fail-on fails on them.
	Unreadable int `json:"unreadable,omitempty"`
	// VEX counts findings per VEX consensus status, when one was
	// computed.
	VEX map[string]int `json:"vex,omitempty"`
}

// Report is the result of a scan. Its JSON form is the documented
// SchemaVersion format; every list is sorted.
type Report struct {
	Schema       string            `json:"schema"`
	Time         *time.Time        `json:"time,omitempty"`
	Tool         string            `json:"tool"`
	Target       TargetInfo        `json:"target"`
	Summary      Summary           `json:"summary"`
	Ecosystems   []EcosystemStatus `json:"ecosystems"`
	Findings     []Finding         `json:"findings"`
	NotEvaluated []NotEvaluated    `json:"not_evaluated"`
	Packages     []Package         `json:"packages"`
}

func (p Package) ref() PackageRef {
	return PackageRef{Ecosystem: p.Ecosystem, Name: p.Name, Version: p.Version, SourceName: p.SourceName, PURL: p.PURL}
}
