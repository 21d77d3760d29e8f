package vexsite

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/vex"
	"github.com/ferry-dev/ferry/vex/consensus"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

// SymbolsIssuer is the issuer of the statements SymbolStatements derives.
const SymbolsIssuer = "ferry:symbols"

// symbolsDigestDomain separates the synthetic document digests of symbol
// statements from every other sha256 ferry computes.
const symbolsDigestDomain = "ferry.dev/vex-analysis/symbols/v1"

// SymbolStatements derives the tool statements (issuer ferry:symbols, tier
// analysis) of a scan with Go symbol evidence (scan.Options.Evidence):
// each finding at module or package level — the module is in the binary
// but none of the vulnerable symbols the records list — is not_affected,
// vulnerable_code_not_present, with an impact statement naming what was
// checked. A finding at symbol level, or without evidence (an SBOM, an
// unreadable binary), gives none.
//
// The product is the finding's package within the scanned image when the
// target has a digest, else the package alone: the same pair the scan asks
// the consensus about. Each statement's DocumentDigest is synthetic and
// deterministic: sha256 over symbolsDigestDomain, the target digest (or
// reference), each location (layer digest and binary path), the matched
// record ids and the evidence (docs/vex-consensus.md). The statements
// carry no timestamp: one issuer says one thing per pair.
func SymbolStatements(rep *scan.Report) []consensus.Input {
	var out []consensus.Input
	for _, f := range rep.Findings {
		ev := f.Evidence
		if ev == nil || (ev.Level != scan.EvidenceModule && ev.Level != scan.EvidencePackage) {
			continue
		}
		component := vex.Product{ID: componentID(f.Package), PURL: f.Package.PURL}
		product := component
		if rep.Target.Digest != "" {
			product = vex.Product{ID: rep.Target.Digest, Subcomponents: []vex.Product{component}}
		}
		var aliases []string
		for _, id := range f.IDs {
			if id != f.ID {
				aliases = append(aliases, id)
			}
		}
		digest := symbolsDigest(rep, f)
		var paths []string
		for _, l := range f.Locations {
			paths = append(paths, l.Path)
		}
		st := vex.Statement{
			Vulnerability:   f.ID,
			Aliases:         aliases,
			Products:        []vex.Product{product},
			Status:          openvex.StatusNotAffected,
			Justification:   openvex.VulnerableCodeNotPresent,
			ImpactStatement: impactStatement(f),
			StatusNotes:     "evidence level " + ev.Level + " (ferry scan --evidence, docs/scan.md)",
			Issuer:          SymbolsIssuer,
			DocumentDigest:  digest,
			DocumentID:      SymbolsIssuer + ":" + digest,
		}
		out = append(out, consensus.Input{Statement: st, Origin: consensus.OriginAnalysis, Source: strings.Join(paths, ", ")})
	}
	return out
}

// impactStatement says what the symbol check found, in the words of the
// evidence level.
func impactStatement(f scan.Finding) string {
	ev := f.Evidence
	var b strings.Builder
	switch ev.Level {
	case scan.EvidenceModule:
		b.WriteString("module " + f.Package.Name + " " + f.Package.Version + " is in the binary's build info, but no package of it that " +
			strings.Join(f.Advisories, ", ") + " names is linked")
	default:
		b.WriteString("a package of " + f.Package.Name + " " + f.Package.Version + " that " + strings.Join(f.Advisories, ", ") +
			" names is linked, but none of its vulnerable symbols")
	}
	if len(ev.Symbols) > 0 {
		b.WriteString("; symbols checked: " + strings.Join(ev.Symbols, ", "))
	}
	return b.String()
}

// symbolsDigest is the synthetic document digest of a finding's symbol
// statement.
func symbolsDigest(rep *scan.Report, f scan.Finding) string {
	h := sha256.New()
	field := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	field(symbolsDigestDomain)
	field(cmp.Or(rep.Target.Digest, rep.Target.Ref))
	for _, l := range f.Locations {
		field("location")
		field(l.Layer)
		field(l.Path)
	}
	for _, id := range f.Advisories {
		field("record")
		field(id)
	}
	field("evidence")
	field(f.Evidence.Level)
	for _, s := range f.Evidence.Symbols {
		field(s)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// componentID names a finding's package as scan.Report.ApplyVEX asks the
// consensus about it: its purl, else ecosystem/name@version.
func componentID(p scan.PackageRef) string {
	if p.PURL != "" {
		return p.PURL
	}
	return p.Ecosystem + "/" + p.Name + "@" + p.Version
}
