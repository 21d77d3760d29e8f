package vexsite

import (
	"context"
	"slices"

	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/vex/consensus"
)

// Reader is everything ApplyToScan reads of the store; *store.Reader
// implements it.
type Reader interface {
	Store
	Trust
	Advisories
}

// ApplyToScan decides the VEX consensus of every finding of rep from the
// store's statements about the findings' vulnerabilities, the site's own
// (opts.LocalDir) and opts.Analysis, and records it in the report
// (scan.Report.ApplyVEX): a finding's product is its package, within the
// scanned image when the target is one. opts.IDs is set from the findings.
func ApplyToScan(ctx context.Context, r Reader, rep *scan.Report, opts Options) error {
	var ids []string
	for _, f := range rep.Findings {
		ids = append(ids, f.IDs...)
	}
	slices.Sort(ids)
	opts.IDs = slices.Compact(ids)
	if len(opts.IDs) == 0 {
		rep.ApplyVEX(nil)
		return nil
	}
	site, err := Load(ctx, r, r, r, opts)
	if err != nil {
		return err
	}
	e := site.Engine()
	// Most findings of an image are of vulnerabilities no statement names:
	// their VEX is unknown without parsing their purls.
	unknown := FindingVEX(consensus.Result{Status: consensus.StatusUnknown, Deciding: -1})
	rep.ApplyVEX(func(ids []string, product, within string) scan.VEX {
		if !e.Knows(ids) {
			return unknown
		}
		return FindingVEX(e.Evaluate(consensus.Query{IDs: ids, Product: product, Within: within}))
	})
	return nil
}

// FindingVEX is the summary of a result a scan finding carries.
func FindingVEX(r consensus.Result) scan.VEX {
	v := scan.VEX{
		Status: r.Status, Resolution: r.Resolution, Justification: r.Justification,
		ImpactStatement: r.ImpactStatement, ActionStatement: r.ActionStatement,
		Issuer: r.Issuer, Tier: string(r.Tier), Statements: len(r.Statements), Dissent: r.Dissent, Algorithm: consensus.Algorithm,
	}
	if r.Deciding >= 0 {
		v.Document = r.Statements[r.Deciding].DocumentDigest
	}
	return v
}
