package gate

import (
	"slices"
	"strconv"
	"time"

	purls "github.com/ferry-dev/ferry/internal/purl"
)

// applyWaivers marks the findings each waiver covers and says what became
// of every waiver. A waiver applies while At is before its expiry; an
// expired one is recorded as such on the findings it would cover, which
// then count again.
func applyWaivers(fs []FindingOutcome, ws []Waiver, env string, at time.Time) []WaiverOutcome {
	out := make([]WaiverOutcome, 0, len(ws))
	for _, w := range ws {
		o := WaiverOutcome{Waiver: w, Status: WaiverUnused}
		if len(w.Environments) > 0 && !slices.Contains(w.Environments, env) {
			o.Status = WaiverOtherEnvironment
			out = append(out, o)
			continue
		}
		expired := !at.Before(w.Expires)
		for i := range fs {
			f := &fs[i]
			if !waiverCovers(w, f.Finding) {
				continue
			}
			o.Findings = append(o.Findings, f.Key)
			if expired {
				o.Status = WaiverExpired
				if !f.Waived {
					f.Waiver = w.Line
					f.Notes = append(f.Notes, "waiver at policy line "+strconv.Itoa(w.Line)+" expired "+w.Expires.Format(time.RFC3339))
				}
				continue
			}
			o.Status = WaiverApplied
			f.Waived = true
			f.Waiver = w.Line
		}
		out = append(out, o)
	}
	return out
}

// waiverCovers reports whether w names f: its vulnerability among f's ids
// and aliases, and its product (purl) or package.
func waiverCovers(w Waiver, f Finding) bool {
	if !slices.Contains(f.IDs, w.Vuln) && f.ID != w.Vuln {
		return false
	}
	if w.Package != "" {
		return w.Package == f.Package.Name
	}
	return purlCovers(w.Product, f.Package.PURL)
}

// purlCovers reports whether the purl pattern (version-less: every
// version) names the package purl. Type, namespace and name compare after
// normalisation (internal/purl: pkg:golang/golang.org%2Fx%2Ftext equals
// pkg:golang/golang.org/x/text; PyPI names compare case-insensitively
// with - _ . folded); qualifiers and subpath are ignored.
func purlCovers(pattern, purl string) bool {
	if purl == "" {
		return false
	}
	p, err1 := purls.Parse(pattern)
	q, err2 := purls.Parse(purl)
	if err1 != nil || err2 != nil {
		return pattern == purl
	}
	if p.Type != q.Type || p.Namespace != q.Namespace || p.Name != q.Name {
		return false
	}
	return p.Version == "" || p.Version == q.Version
}
