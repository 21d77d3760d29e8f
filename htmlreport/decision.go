package htmlreport

import (
	"fmt"
	"io"
	"strings"

	"github.com/ferry-dev/ferry/gate"
)

// DecisionInput is what a decision report shows.
type DecisionInput struct {
	Record *gate.Record
	// Canonical is the record's canonical JSON: its sha256 is the decision
	// id.
	Canonical []byte
	// RecordFile names the record file as the user gave it.
	RecordFile string
	// Envelope names the signed envelope beside the record, "" when there
	// is none. The report does not verify it; it says how to.
	Envelope string
	// FerryVersion is the version of ferry that writes the report.
	FerryVersion string
}

type ruleRow struct {
	Outcome, Class, Code, Rule, Summary string
	Checks                              []gate.Check
}

type findingView struct {
	ID, Aliases, Package, Version, Ecosystem, Fixed string
	Severity, Extra, Consensus, BlocksUnder, Waiver string
	Notes                                           []string
}

type waivedRow struct {
	ID, Package, Version string
	Line                 int
}

type expiredRow struct{ Vuln, Covers, Expires, Approver, Reason string }

type channelRow struct {
	Name, TargetsSHA256, Created, Kinds string
	Version                             int64
}

type decisionView struct {
	page
	Verdict, Class, Environment, PolicyName, PolicyDigest string
	ID, RecordFile, Envelope, EvaluatedAt                 string
	RecordFerryVersion, ConsensusAlgorithm                string
	Subject                                               gate.Subject
	Reasons, NotEvaluated                                 []string
	Rules                                                 []ruleRow
	Blocking                                              []findingView
	Waived                                                []waivedRow
	Expired                                               []expiredRow
	Channels                                              []channelRow
	LocalVEX, Issuers                                     *gate.LocalFiles
}

// Decision writes a gate decision as one HTML page: the verdict and its
// reasons, every rule with its outcome and numbers, each blocking finding
// with its consensus and the waiver that would let it pass, waived and
// expired waivers, and the evidence chain from the subject through the
// record, its signature and policy down to the signed kits of the data.
// The same input gives the same bytes.
func Decision(w io.Writer, in DecisionInput) error {
	rec := in.Record
	ins := rec.Inputs
	env := ins.Environment
	if env == "" {
		env = "default"
	}
	v := decisionView{
		page:               page{Title: "ferry gate: " + strings.ToUpper(rec.Verdict) + " " + ins.Subject.Digest, FerryVersion: in.FerryVersion, Source: "ferry gate explain " + in.RecordFile},
		Verdict:            strings.ToUpper(rec.Verdict),
		Class:              "bad",
		Environment:        env,
		PolicyName:         ins.Policy.Name,
		PolicyDigest:       ins.Policy.Digest,
		ID:                 gate.ID(in.Canonical),
		RecordFile:         in.RecordFile,
		Envelope:           in.Envelope,
		EvaluatedAt:        timeText(ins.EvaluatedAt),
		RecordFerryVersion: ins.FerryVersion,
		ConsensusAlgorithm: ins.Consensus,
		Subject:            ins.Subject,
		Reasons:            rec.Reasons,
		NotEvaluated:       rec.NotEvaluated,
		LocalVEX:           ins.LocalVEX,
		Issuers:            ins.Issuers,
	}
	if rec.Verdict == gate.VerdictPass {
		v.Class = "ok"
	}
	for _, r := range rec.Rules {
		row := ruleRow{Outcome: strings.ToUpper(r.Outcome), Code: string(r.Code), Rule: r.Rule, Summary: r.Summary, Checks: r.Checks}
		switch r.Outcome {
		case gate.OutcomePass:
			row.Class = "ok"
		case gate.OutcomeBlock:
			row.Class = "bad"
		default:
			row.Class = "muted"
		}
		v.Rules = append(v.Rules, row)
	}
	for _, f := range rec.Findings {
		switch {
		case len(f.Blocking) > 0:
			v.Blocking = append(v.Blocking, findingOf(f, ins.Environment))
		case f.Waived:
			v.Waived = append(v.Waived, waivedRow{ID: f.ID, Package: f.Package.Name, Version: f.Package.Version, Line: f.Waiver})
		}
	}
	for _, wo := range rec.Waivers {
		if wo.Status != gate.WaiverExpired {
			continue
		}
		covers := wo.Product
		if covers == "" {
			covers = "package " + wo.Package
		}
		v.Expired = append(v.Expired, expiredRow{Vuln: wo.Vuln, Covers: covers, Expires: timeText(wo.Expires), Approver: wo.Approver, Reason: wo.Reason})
	}
	for _, c := range ins.Channels {
		v.Channels = append(v.Channels, channelRow{Name: c.Name, Version: c.Version, TargetsSHA256: c.TargetsSHA256,
			Created: timeText(c.Created), Kinds: strings.Join(c.Kinds, ", ")})
	}
	return render(w, "decision", v)
}

func findingOf(f gate.FindingOutcome, env string) findingView {
	fv := findingView{
		ID:          f.ID,
		Aliases:     strings.Join(gate.OtherIDs(f), ", "),
		Package:     f.Package.Name,
		Version:     f.Package.Version,
		Ecosystem:   f.Package.Ecosystem,
		Fixed:       "no fixed version known",
		Severity:    f.Severity,
		Consensus:   gate.ConsensusWords(f),
		BlocksUnder: strings.Join(f.Blocking, ", "),
		Notes:       f.Notes,
		Waiver:      gate.WaiverSnippet(f, env),
	}
	if f.Fixed != "" {
		fv.Fixed = "fixed in " + f.Fixed
	}
	if f.KEV {
		fv.Extra += ", in CISA KEV"
	}
	if f.EPSS != nil {
		fv.Extra += fmt.Sprintf(", EPSS %.3f", *f.EPSS)
	}
	return fv
}
