package scan

import (
	"slices"

	"github.com/ossf/osv-schema/bindings/go/osvschema"
)

// Evidence says how far a Go finding reaches into the binary.
type Evidence struct {
	Level   string   `json:"level"`             // "symbol", "package" or "module"
	Symbols []string `json:"symbols,omitempty"` // the vulnerable symbols the record lists, checked (pkg.Sym), sorted
	Found   []string `json:"found,omitempty"`   // those present in the binary, sorted
}

// Evidence levels, strongest first (docs/scan.md gives the rules).
const (
	// EvidenceSymbol: a vulnerable symbol is in the binary — one the
	// record lists, or any symbol of a package (module) the record names
	// without listing symbols (packages).
	EvidenceSymbol = "symbol"
	// EvidencePackage: a package the record lists is linked, but none of
	// the symbols it lists for it.
	EvidencePackage = "package"
	// EvidenceModule: only the module is in the binary's build info; no
	// package the record names is linked.
	EvidenceModule = "module"
)

func evidenceRank(level string) int {
	switch level {
	case EvidenceSymbol:
		return 3
	case EvidencePackage:
		return 2
	case EvidenceModule:
		return 1
	}
	return 0
}

// recordEvidence applies govulncheck's binary-mode rules to one record's
// affected entries that matched p (module, version and platform already
// checked) against the binary's symbols:
//
//   - an entry without ecosystem_specific.imports makes every package of
//     the module vulnerable: symbol level when any package of the module
//     is linked;
//   - an import of another platform than the binary's is skipped;
//   - an import without symbols makes every symbol of its package
//     vulnerable: symbol level when the package is linked;
//   - an import with symbols: symbol level when one of them is in the
//     binary, package level when only the package is linked;
//   - otherwise module level.
func recordEvidence(g *goSymbols, p Package, affected []*osvschema.Affected) *Evidence {
	ev := &Evidence{Level: EvidenceModule}
	raise := func(level string) {
		if evidenceRank(level) > evidenceRank(ev.Level) {
			ev.Level = level
		}
	}
	for _, a := range affected {
		imports := a.GetEcosystemSpecific().GetFields()["imports"].GetListValue().GetValues()
		if len(imports) == 0 {
			if g.linksModule(p.Name) {
				raise(EvidenceSymbol)
			}
			continue
		}
		for _, iv := range imports {
			f := iv.GetStructValue().GetFields()
			if !platformComponent(p.GOOS, f["goos"]) || !platformComponent(p.GOARCH, f["goarch"]) {
				continue
			}
			path := f["path"].GetStringValue()
			linked := path != "" && g.hasPackage(path)
			syms := f["symbols"].GetListValue().GetValues()
			if len(syms) == 0 {
				if linked {
					raise(EvidenceSymbol)
				}
				continue
			}
			for _, sv := range syms {
				s := sv.GetStringValue()
				ev.Symbols = append(ev.Symbols, path+"."+s)
				if linked && g.has(path, s) {
					ev.Found = append(ev.Found, path+"."+s)
					raise(EvidenceSymbol)
				}
			}
			if linked {
				raise(EvidencePackage)
			}
		}
	}
	slices.Sort(ev.Symbols)
	ev.Symbols = slices.Compact(ev.Symbols)
	slices.Sort(ev.Found)
	ev.Found = slices.Compact(ev.Found)
	return ev
}

// mergeEvidence joins the evidence of records joined into one finding, or
// of one finding at several places: the strongest level, every symbol
// checked and found. Unknown (nil) on either side gives nil: a place
// without evidence (an SBOM, an unreadable binary) could reach anything.
func mergeEvidence(a, b *Evidence) *Evidence {
	if a == nil || b == nil {
		return nil
	}
	out := &Evidence{Level: a.Level}
	if evidenceRank(b.Level) > evidenceRank(a.Level) {
		out.Level = b.Level
	}
	out.Symbols = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a.Symbols), b.Symbols...))))
	out.Found = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a.Found), b.Found...))))
	return out
}
