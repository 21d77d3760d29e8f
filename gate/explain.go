package gate

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Explain writes the decision in plain words for the release engineer:
// the verdict, each blocking rule with its numbers, each blocking finding
// with its consensus and on whose word, the waiver that would let it pass,
// and the command that replays the decision. format is "text" or
// "markdown". recordFile names the record in the replay command.
func Explain(w io.Writer, rec *Record, canonical []byte, format, recordFile string) error {
	md := format == "markdown"
	if format != "text" && !md {
		return fmt.Errorf("explain: unknown format %q (text, markdown or json)", format)
	}
	ew := &errWriter{w: w}
	in := rec.Inputs
	verdict := strings.ToUpper(rec.Verdict)
	if md {
		ew.printf("## ferry gate: %s\n\n", verdict)
		ew.printf("| | |\n|---|---|\n")
		ew.printf("| subject | `%s` (%s) |\n", in.Subject.Digest, in.Subject.Ref)
		ew.printf("| decision | `%s` |\n", ID(canonical))
		ew.printf("| policy | %s (`%s`), environment %s |\n", in.Policy.Name, in.Policy.Digest, envName(in.Environment))
		ew.printf("| evaluated | %s by ferry %s |\n", in.EvaluatedAt.Format(time.RFC3339), in.FerryVersion)
		for _, c := range in.Channels {
			ew.printf("| data | channel %s v%d, created %s |\n", c.Name, c.Version, c.Created.Format(time.RFC3339))
		}
		ew.printf("\n")
	} else {
		ew.printf("Verdict: %s\n", verdict)
		ew.printf("Subject: %s (%s)\n", in.Subject.Digest, in.Subject.Ref)
		ew.printf("Decision: %s\n", ID(canonical))
		ew.printf("Policy: %s (%s), environment %s\n", in.Policy.Name, in.Policy.Digest, envName(in.Environment))
		ew.printf("Evaluated: %s by ferry %s\n", in.EvaluatedAt.Format(time.RFC3339), in.FerryVersion)
		for _, c := range in.Channels {
			ew.printf("Data: channel %s v%d (targets %s), created %s\n", c.Name, c.Version, short(c.TargetsSHA256), c.Created.Format(time.RFC3339))
		}
		ew.printf("\n")
	}

	heading(ew, md, "Rules")
	for _, r := range rec.Rules {
		if md {
			ew.printf("- **%s** `%s` %s\n", strings.ToUpper(r.Outcome), r.Code, r.Summary)
		} else {
			ew.printf("  %-5s %-22s %s\n", strings.ToUpper(r.Outcome), r.Code, r.Summary)
		}
	}
	ew.printf("\n")

	var blocking []FindingOutcome
	for _, f := range rec.Findings {
		if len(f.Blocking) > 0 {
			blocking = append(blocking, f)
		}
	}
	if len(blocking) > 0 {
		heading(ew, md, fmt.Sprintf("Blocking findings (%d)", len(blocking)))
		for _, f := range blocking {
			explainFinding(ew, md, f, in.Environment)
		}
	}
	var waived []FindingOutcome
	for _, f := range rec.Findings {
		if f.Waived {
			waived = append(waived, f)
		}
	}
	if len(waived) > 0 {
		heading(ew, md, fmt.Sprintf("Waived (%d)", len(waived)))
		for _, f := range waived {
			ew.printf("- %s in %s %s: waiver at policy line %d\n", f.ID, f.Package.Name, f.Package.Version, f.Waiver)
		}
		ew.printf("\n")
	}
	var expired []WaiverOutcome
	for _, wo := range rec.Waivers {
		if wo.Status == WaiverExpired {
			expired = append(expired, wo)
		}
	}
	if len(expired) > 0 {
		heading(ew, md, "Expired waivers")
		for _, wo := range expired {
			ew.printf("- %s (%s) expired %s; approved by %s: %s\n", wo.Vuln, coverage(wo.Waiver), wo.Expires.Format(time.RFC3339), wo.Approver, wo.Reason)
		}
		ew.printf("\n")
	}
	heading(ew, md, "Replay")
	if recordFile == "" {
		recordFile = "decision.json"
	}
	cmd := fmt.Sprintf("ferry gate replay %s --store DIR", recordFile)
	if md {
		ew.printf("```\n%s\n```\n", cmd)
	} else {
		ew.printf("  %s\n", cmd)
	}
	return ew.err
}

func explainFinding(ew *errWriter, md bool, f FindingOutcome, env string) {
	ids := strings.Join(otherIDs(f), ", ")
	if ids != "" {
		ids = " (" + ids + ")"
	}
	fixed := "no fixed version known"
	if f.Fixed != "" {
		fixed = "fixed in " + f.Fixed
	}
	extra := ""
	if f.KEV {
		extra += ", in CISA KEV"
	}
	if f.EPSS != nil {
		extra += fmt.Sprintf(", EPSS %.3f", *f.EPSS)
	}
	if md {
		ew.printf("### %s%s\n\n", f.ID, ids)
		ew.printf("- package: `%s` %s (%s), %s\n", f.Package.Name, f.Package.Version, f.Package.Ecosystem, fixed)
		ew.printf("- severity: %s%s\n", f.Severity, extra)
		ew.printf("- consensus: %s\n", consensusWords(f))
		ew.printf("- blocks under: %s\n", strings.Join(f.Blocking, ", "))
		for _, n := range f.Notes {
			ew.printf("- note: %s\n", n)
		}
		ew.printf("- to waive it, add to the policy:\n\n```yaml\n%s```\n\n", waiverSnippet(f, env))
		return
	}
	ew.printf("  %s%s\n", f.ID, ids)
	ew.printf("    package:   %s %s (%s), %s\n", f.Package.Name, f.Package.Version, f.Package.Ecosystem, fixed)
	ew.printf("    severity:  %s%s\n", f.Severity, extra)
	ew.printf("    consensus: %s\n", consensusWords(f))
	ew.printf("    blocks:    %s\n", strings.Join(f.Blocking, ", "))
	for _, n := range f.Notes {
		ew.printf("    note:      %s\n", n)
	}
	ew.printf("    to waive it, add to the policy's waivers:\n")
	for _, l := range strings.Split(strings.TrimSuffix(waiverSnippet(f, env), "\n"), "\n") {
		ew.printf("      %s\n", l)
	}
	ew.printf("\n")
}

func consensusWords(f FindingOutcome) string {
	c := f.Consensus
	switch {
	case c.Status == "" || c.Status == StatusUnknown:
		return "unknown: no VEX statement about this finding"
	case c.Status == StatusConflict:
		return fmt.Sprintf("conflict inside tier %s, resolved as %s (deciding issuer %s, %s)", c.Tier, c.Resolution, c.Issuer, short(c.Document))
	}
	s := fmt.Sprintf("%s on the word of %s (tier %s", c.Status, c.Issuer, c.Tier)
	if c.Document != "" {
		s += ", document " + short(c.Document)
	}
	s += ")"
	if c.Justification != "" {
		s += ", " + c.Justification
	}
	if f.Effective != c.Status {
		s += "; counted as " + f.Effective
	}
	return s
}

func waiverSnippet(f FindingOutcome, env string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- vuln: %s\n", f.ID)
	if p := versionless(f.Package.PURL); p != "" {
		fmt.Fprintf(&b, "  product: %s\n", p)
	} else {
		fmt.Fprintf(&b, "  package: %s\n", f.Package.Name)
	}
	b.WriteString("  expires: YYYY-MM-DDT00:00:00Z\n  reason: WHY THE RISK IS ACCEPTED\n  approver: WHO ACCEPTS IT\n")
	if env != "" {
		fmt.Fprintf(&b, "  environments: [%s]\n", env)
	}
	return b.String()
}

func versionless(purl string) string {
	if i := strings.LastIndex(purl, "@"); i > 0 {
		purl = purl[:i]
	}
	if i := strings.IndexAny(purl, "?#"); i > 0 {
		purl = purl[:i]
	}
	return purl
}

func otherIDs(f FindingOutcome) []string {
	var out []string
	for _, id := range f.IDs {
		if id != f.ID {
			out = append(out, id)
		}
	}
	return out
}

func coverage(w Waiver) string {
	if w.Product != "" {
		return w.Product
	}
	return "package " + w.Package
}

func envName(e string) string {
	if e == "" {
		return "default"
	}
	return e
}

func short(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		alg, hex = "", d
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	if alg == "" {
		return hex
	}
	return alg + ":" + hex
}

func heading(ew *errWriter, md bool, s string) {
	if md {
		ew.printf("### %s\n\n", s)
	} else {
		ew.printf("%s:\n", s)
	}
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// ConsensusWords says a finding's VEX consensus in words, as Explain
// prints it: the status, on whose word, its tier and document.
func ConsensusWords(f FindingOutcome) string { return consensusWords(f) }

// WaiverSnippet returns the policy waiver (YAML, one list item) that would
// let the finding pass in environment env, as Explain prints it.
func WaiverSnippet(f FindingOutcome, env string) string { return waiverSnippet(f, env) }

// OtherIDs returns the finding's aliases: its ids other than the primary.
func OtherIDs(f FindingOutcome) []string { return otherIDs(f) }
