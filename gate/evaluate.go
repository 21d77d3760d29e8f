package gate

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/scan"
)

// Input is everything a decision is made of. The caller gathers it (from a
// verified store, a scan, the VEX consensus, the offline signature checks);
// Evaluate only judges.
type Input struct {
	Subject     Subject
	Channels    []Channel
	Policy      *Policy
	Environment string
	// At is the evaluation time: waiver expiry and data age are judged
	// against it.
	At           time.Time
	FerryVersion string
	// Consensus names the VEX consensus algorithm of the findings.
	Consensus string
	// LocalVEX and Issuers are the site's own consensus inputs, if any.
	LocalVEX *LocalFiles
	Issuers  *LocalFiles
	Findings []Finding
	// NoAdvisoryData are ecosystems the image has packages of and the store
	// has no advisories for.
	NoAdvisoryData []string
	// NotEvaluated describes what the scan could not decide.
	NotEvaluated []string
	// SignatureChecks and AttestationChecks hold one result per requirement
	// of the environment's rules, in the policy's order.
	SignatureChecks   []Check
	AttestationChecks []Check
}

// Finding is one vulnerability in one package of the subject, with the VEX
// consensus about it.
type Finding struct {
	// ID is the primary id; IDs every id and alias, sorted.
	ID       string   `json:"id"`
	IDs      []string `json:"ids"`
	Package  Package  `json:"package"`
	Severity string   `json:"severity"`
	KEV      bool     `json:"kev"`
	// EPSS is the probability, nil when unknown.
	EPSS      *float64  `json:"epss,omitempty"`
	Fixed     string    `json:"fixed,omitempty"`
	Consensus Consensus `json:"consensus"`
	// Evidence is the Go symbol evidence level, if any.
	Evidence string `json:"evidence,omitempty"`
}

// Package is the package a finding is in.
type Package struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Ecosystem string `json:"ecosystem"`
	PURL      string `json:"purl,omitempty"`
}

// Consensus is the VEX consensus of a finding, as the gate uses it.
type Consensus struct {
	// Status is affected, not_affected, fixed, under_investigation,
	// conflict or unknown.
	Status string `json:"status"`
	// Resolution is the conservative status of a conflict.
	Resolution    string `json:"resolution,omitempty"`
	Justification string `json:"justification,omitempty"`
	// Issuer, Tier and Document (the source document's digest) name the
	// deciding statement; empty for unknown.
	Issuer   string `json:"issuer,omitempty"`
	Tier     string `json:"tier,omitempty"`
	Document string `json:"document,omitempty"`
}

// Check is the result of checking one required signature or attestation.
type Check struct {
	// Requirement names what was required: "key keys/cosign.pub".
	Requirement   string `json:"requirement"`
	PredicateType string `json:"predicateType,omitempty"`
	Verified      bool   `json:"verified"`
	// Detail is the verified signer, or why the check failed.
	Detail string `json:"detail"`
}

// TierAnalysis is the VEX tier of tool-derived statements.
const TierAnalysis = "analysis"

// Evaluate decides. It fails only for input it cannot judge (no policy, no
// time, check results that do not match the policy); a decision to block
// is a record with verdict block, not an error.
func Evaluate(in Input) (*Record, error) {
	if in.Policy == nil {
		return nil, errors.New("gate: no policy")
	}
	if in.At.IsZero() {
		return nil, errors.New("gate: no evaluation time")
	}
	rules, err := in.Policy.For(in.Environment)
	if err != nil {
		return nil, err
	}
	if len(in.SignatureChecks) != len(rules.Signatures) || len(in.AttestationChecks) != len(rules.Attestations) {
		return nil, fmt.Errorf("gate: %d signature and %d attestation checks given for %d and %d requirements",
			len(in.SignatureChecks), len(in.AttestationChecks), len(rules.Signatures), len(rules.Attestations))
	}
	at := in.At.UTC()
	rec := &Record{
		Schema: RecordSchema,
		Inputs: Inputs{
			Subject:      in.Subject,
			Channels:     sortedChannels(in.Channels),
			Policy:       PolicyRef{Name: in.Policy.Name, Digest: in.Policy.Digest, Source: string(in.Policy.Source)},
			Environment:  in.Environment,
			Rules:        rules,
			FerryVersion: in.FerryVersion,
			EvaluatedAt:  at,
			Consensus:    in.Consensus,
			LocalVEX:     sortedFiles(in.LocalVEX),
			Issuers:      sortedFiles(in.Issuers),
		},
		Reasons:      []string{},
		Findings:     judgeFindings(in.Findings, rules),
		NotEvaluated: sortedCopy(in.NotEvaluated),
	}
	rec.Waivers = applyWaivers(rec.Findings, in.Policy.Waivers, in.Environment, at)

	e := evaluation{rec: rec, rules: rules, in: in, at: at}
	e.coverage()
	e.severity()
	e.kev()
	e.epss()
	e.unknowns()
	e.checks("signatures", CodeSignature, in.SignatureChecks)
	e.checks("attestations", CodeAttestation, in.AttestationChecks)
	e.dataAge()

	rec.Verdict = VerdictPass
	for _, r := range rec.Rules {
		if r.Outcome == OutcomeBlock {
			rec.Verdict = VerdictBlock
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("%s: %s", r.Code, r.Summary))
		}
	}
	return rec, nil
}

// VerificationFailed reports whether the record blocked because a required
// signature or attestation is missing or bad.
func (r *Record) VerificationFailed() bool {
	for _, o := range r.Rules {
		if o.Verification {
			return true
		}
	}
	return false
}

func sortedChannels(cs []Channel) []Channel {
	out := slices.Clone(cs)
	for i := range out {
		out[i].Kinds = sortedCopy(out[i].Kinds)
		out[i].Created = out[i].Created.UTC()
		out[i].DataTimes = slices.Clone(out[i].DataTimes)
		for j := range out[i].DataTimes {
			out[i].DataTimes[j].Time = out[i].DataTimes[j].Time.UTC()
		}
		slices.SortFunc(out[i].DataTimes, func(a, b DataTime) int { return strings.Compare(a.Kind, b.Kind) })
	}
	slices.SortFunc(out, func(a, b Channel) int { return strings.Compare(a.Name, b.Name) })
	if out == nil {
		out = []Channel{}
	}
	return out
}

func sortedFiles(f *LocalFiles) *LocalFiles {
	if f == nil {
		return nil
	}
	return &LocalFiles{Path: f.Path, Digests: sortedCopy(f.Digests)}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// findingKey names a finding in rule outcomes.
func findingKey(f Finding) string {
	p := f.Package.PURL
	if p == "" {
		p = f.Package.Ecosystem + "/" + f.Package.Name + "@" + f.Package.Version
	}
	return f.ID + " " + p
}

func judgeFindings(fs []Finding, rules Rules) []FindingOutcome {
	out := make([]FindingOutcome, 0, len(fs))
	for _, f := range fs {
		f.IDs = sortedCopy(f.IDs)
		if f.Severity == "" {
			f.Severity = scan.RatingUnknown
		}
		o := FindingOutcome{Finding: f, Key: findingKey(f), Effective: f.Consensus.Status}
		if o.Effective == "" {
			o.Effective = StatusUnknown
		}
		if o.Effective == StatusNotAffected && f.Consensus.Tier == TierAnalysis && !rules.AnalysisMaySuppress {
			o.Effective = StatusUnknown
			o.Notes = append(o.Notes, "not_affected only on tool analysis ("+f.Consensus.Issuer+"), which this policy does not let suppress (vex.analysis: false)")
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b FindingOutcome) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Key, b.Key), strings.Compare(a.Package.Version, b.Package.Version))
	})
	return slices.CompactFunc(out, func(a, b FindingOutcome) bool { return a.Key == b.Key })
}

type evaluation struct {
	rec   *Record
	rules Rules
	in    Input
	at    time.Time
}

func (e *evaluation) add(o RuleOutcome) {
	if o.Findings == nil && o.Outcome == OutcomeBlock {
		o.Findings = nil
	}
	e.rec.Rules = append(e.rec.Rules, o)
}

// counting returns the findings that count against finding rules: a
// blocking status, not waived, and matching pred.
func (e *evaluation) counting(rule string, pred func(f *FindingOutcome) bool) []string {
	var keys []string
	for i := range e.rec.Findings {
		f := &e.rec.Findings[i]
		if f.Waived || !slices.Contains(blockingStatuses, f.Effective) || !pred(f) {
			continue
		}
		keys = append(keys, f.Key)
		if !slices.Contains(f.Blocking, rule) {
			f.Blocking = append(f.Blocking, rule)
		}
	}
	return keys
}

func zero() *int { z := 0; return &z }

func (e *evaluation) coverage() {
	o := RuleOutcome{Rule: "coverage", Code: CodeNoAdvisoryData, Outcome: OutcomePass, Limit: zero()}
	missing := sortedCopy(e.in.NoAdvisoryData)
	o.Count = len(missing)
	if len(missing) > 0 {
		o.Outcome = OutcomeBlock
		o.Summary = fmt.Sprintf("no advisories in the store for %s: those packages were not checked", strings.Join(missing, ", "))
	} else {
		o.Summary = "every ecosystem of the subject has advisory data"
	}
	e.add(o)
}

func (e *evaluation) severity() {
	o := RuleOutcome{Rule: "severity", Code: CodeSeverity, Outcome: OutcomeOff, Summary: "no severity threshold in the policy"}
	if t := e.rules.Severity; t != "" {
		o.Limit = zero()
		o.Findings = e.counting("severity", func(f *FindingOutcome) bool { return scan.AtLeast(f.Severity, t) })
		o.Count = len(o.Findings)
		o.Outcome = outcome(o.Count > 0)
		o.Summary = fmt.Sprintf("%d %s at or above %s (affected, conflict, under_investigation or unknown); 0 allowed",
			o.Count, plural(o.Count, "finding"), t)
	}
	e.add(o)
}

func (e *evaluation) kev() {
	o := RuleOutcome{Rule: "kev", Code: CodeKEV, Outcome: OutcomeOff, Summary: "the policy does not block on CISA KEV"}
	if e.rules.KEV {
		o.Limit = zero()
		o.Findings = e.counting("kev", func(f *FindingOutcome) bool { return f.KEV })
		o.Count = len(o.Findings)
		o.Outcome = outcome(o.Count > 0)
		o.Summary = fmt.Sprintf("%d %s in CISA's Known Exploited Vulnerabilities catalog; 0 allowed", o.Count, plural(o.Count, "finding"))
	}
	e.add(o)
}

func (e *evaluation) epss() {
	o := RuleOutcome{Rule: "epss", Code: CodeEPSS, Outcome: OutcomeOff, Summary: "no EPSS threshold in the policy"}
	if t := e.rules.EPSS; t != nil {
		o.Limit = zero()
		o.Findings = e.counting("epss", func(f *FindingOutcome) bool { return f.EPSS != nil && *f.EPSS >= *t })
		o.Count = len(o.Findings)
		o.Outcome = outcome(o.Count > 0)
		o.Summary = fmt.Sprintf("%d %s with EPSS probability at or above %g; 0 allowed", o.Count, plural(o.Count, "finding"), *t)
	}
	e.add(o)
}

func (e *evaluation) unknowns() {
	b := e.rules.Unknowns
	o := RuleOutcome{Rule: "unknowns", Code: CodeUnknowns, Outcome: OutcomeOff, Summary: "no budget for unknowns in the policy"}
	if b.Max == nil && len(b.PerSeverity) == 0 {
		e.add(o)
		return
	}
	var all []*FindingOutcome
	for i := range e.rec.Findings {
		f := &e.rec.Findings[i]
		if !f.Waived && f.Effective == StatusUnknown {
			all = append(all, f)
		}
	}
	o.Count = len(all)
	o.Outcome = OutcomePass
	var over []string
	if b.Max != nil {
		o.Limit = b.Max
		if len(all) > *b.Max {
			over = append(over, fmt.Sprintf("%d unknown > budget %d", len(all), *b.Max))
		}
	}
	blocking := map[string]bool{}
	for _, s := range []string{scan.RatingCritical, scan.RatingHigh, scan.RatingMedium, scan.RatingLow} {
		if _, ok := b.PerSeverity[s]; !ok {
			continue
		}
		n := 0
		for _, f := range all {
			if f.Severity == s {
				n++
			}
		}
		if limit := b.PerSeverity[s]; n > limit {
			over = append(over, fmt.Sprintf("%d unknown %s > budget %d", n, s, limit))
			for _, f := range all {
				if f.Severity == s {
					blocking[f.Key] = true
				}
			}
		}
	}
	if b.Max != nil && len(all) > *b.Max {
		for _, f := range all {
			blocking[f.Key] = true
		}
	}
	for _, f := range all {
		if blocking[f.Key] {
			o.Findings = append(o.Findings, f.Key)
			f.Blocking = append(f.Blocking, "unknowns")
		}
	}
	if len(over) > 0 {
		o.Outcome = OutcomeBlock
		o.Summary = strings.Join(over, "; ") + " (findings no VEX issuer has spoken about)"
	} else {
		o.Summary = fmt.Sprintf("%d %s with no VEX statement, within budget", len(all), plural(len(all), "finding"))
	}
	e.add(o)
}

func (e *evaluation) checks(rule string, code Code, cs []Check) {
	o := RuleOutcome{Rule: rule, Code: code, Outcome: OutcomeOff, Summary: "the policy requires no " + rule}
	if len(cs) == 0 {
		e.add(o)
		return
	}
	o.Checks = cs
	o.Limit = zero()
	var bad []string
	for _, c := range cs {
		if !c.Verified {
			bad = append(bad, c.Requirement+": "+c.Detail)
		}
	}
	o.Count = len(bad)
	o.Outcome = outcome(len(bad) > 0)
	o.Verification = len(bad) > 0
	if len(bad) > 0 {
		o.Summary = fmt.Sprintf("%d of %d required %s missing or not verified: %s", len(bad), len(cs), rule, strings.Join(bad, "; "))
	} else {
		o.Summary = fmt.Sprintf("all %d required %s verified offline", len(cs), rule)
	}
	e.add(o)
}

func (e *evaluation) dataAge() {
	o := RuleOutcome{Rule: "maxAge", Code: CodeDataAge, Outcome: OutcomeOff, Summary: "the policy sets no maximum data age"}
	if len(e.rules.MaxAge) == 0 {
		e.add(o)
		return
	}
	o.Outcome = OutcomePass
	var parts, over []string
	for _, kind := range DataKinds {
		limit, ok := e.rules.MaxAge[kind]
		if !ok {
			continue
		}
		var newest time.Time
		for _, c := range e.rec.Inputs.Channels {
			if !slices.Contains(c.Kinds, kind) {
				continue
			}
			t := c.Created
			for _, dt := range c.DataTimes {
				if dt.Kind == kind {
					t = dt.Time
				}
			}
			if t.After(newest) {
				newest = t
			}
		}
		if newest.IsZero() {
			over = append(over, fmt.Sprintf("no %s data in the store (limit %s)", kind, fmtDuration(time.Duration(limit))))
			continue
		}
		age := e.at.Sub(newest)
		if age > time.Duration(limit) {
			over = append(over, fmt.Sprintf("%s data is %s old > %s", kind, fmtDuration(age), fmtDuration(time.Duration(limit))))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s old ≤ %s", kind, fmtDuration(age), fmtDuration(time.Duration(limit))))
		}
	}
	o.Count = len(over)
	o.Limit = zero()
	if len(over) > 0 {
		o.Outcome = OutcomeBlock
		o.Summary = strings.Join(over, "; ")
	} else {
		o.Summary = strings.Join(parts, "; ")
	}
	e.add(o)
}

func fmtDuration(d time.Duration) string {
	if d < 0 {
		return "from the future, " + fmtDuration(-d)
	}
	days := d / (24 * time.Hour)
	hours := (d % (24 * time.Hour)) / time.Hour
	switch {
	case days > 0 && hours > 0:
		return fmt.Sprintf("%dd%dh", days, hours)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	}
	return d.Truncate(time.Minute).String()
}

func outcome(block bool) string {
	if block {
		return OutcomeBlock
	}
	return OutcomePass
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
