package consensus

import (
	"maps"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/semantic"
)

// versEcosystems maps a vers scheme (a purl type) to the ecosystem whose
// version ordering osv-scalibr's semantic package implements.
var versEcosystems = map[string]string{
	"golang": "Go", "npm": "npm", "pypi": "PyPI", "maven": "Maven", "deb": "Debian", "rpm": "Red Hat",
	"apk": "Alpine", "gem": "RubyGems", "nuget": "NuGet", "cargo": "crates.io", "composer": "Packagist",
	"hex": "Hex", "pub": "Pub", "cran": "CRAN", "hackage": "Hackage",
}

// parseVersion parses v in the ordering of the vers scheme (semver-like
// for generic and unknown schemes).
func parseVersion(scheme, v string) (semantic.Version, bool) {
	eco, ok := versEcosystems[scheme]
	if !ok {
		return semantic.ParseSemverVersion(v), true
	}
	pv, err := semantic.Parse(v, eco)
	return pv, err == nil
}

// inRange reports whether version lies in the vers range rng
// ("vers:<scheme>/<constraint>|<constraint>…", the purl-spec VERS
// syntax). The range's scheme decides the ordering; "generic" takes the
// product purl's type when ferry knows its ordering. A range that does not parse
// holds nothing: a statement about it never applies (fail closed: the
// statement cannot suppress a finding it may not be about).
func inRange(rng, purlType, version string) bool {
	body, ok := strings.CutPrefix(rng, "vers:")
	if !ok {
		return false
	}
	scheme, cons, ok := strings.Cut(body, "/")
	if !ok || cons == "" {
		return false
	}
	if scheme == "generic" && purlType != "" {
		if _, known := versEcosystems[purlType]; known {
			scheme = purlType
		}
	}
	if strings.TrimSpace(cons) == "*" {
		return true
	}
	v, ok := parseVersion(scheme, version)
	if !ok {
		return false
	}
	type bound struct {
		op string
		v  semantic.Version
	}
	var bounds []bound
	for _, c := range strings.Split(cons, "|") {
		c = strings.TrimSpace(c)
		op := ""
		for _, o := range []string{">=", "<=", "!=", "<", ">", "="} {
			if strings.HasPrefix(c, o) {
				op = o
				break
			}
		}
		bv, ok := parseVersion(scheme, strings.TrimSpace(strings.TrimPrefix(c, op)))
		if !ok || c == op {
			return false
		}
		if op == "" {
			op = "="
		}
		bounds = append(bounds, bound{op, bv})
	}
	// The purl-spec algorithm: equality and exclusions first, then the
	// bounds sorted by version, taken in pairs.
	var rest []bound
	for _, b := range bounds {
		c, err := v.Compare(b.v)
		if err != nil {
			return false
		}
		switch b.op {
		case "=":
			if c == 0 {
				return true
			}
		case "!=":
			if c == 0 {
				return false
			}
		default:
			rest = append(rest, b)
		}
	}
	if len(rest) == 0 {
		return false
	}
	slices.SortStableFunc(rest, func(a, b bound) int {
		c, _ := a.v.Compare(b.v)
		return c
	})
	satisfies := func(b bound) bool {
		c, _ := v.Compare(b.v)
		switch b.op {
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		}
		return false
	}
	for i := 0; i < len(rest); i++ {
		cur := rest[i]
		if strings.HasPrefix(cur.op, "<") {
			if satisfies(cur) {
				return true
			}
			continue
		}
		// A lower bound: paired with the next bound when it is an upper one.
		if i+1 < len(rest) && strings.HasPrefix(rest[i+1].op, "<") {
			if satisfies(cur) && satisfies(rest[i+1]) {
				return true
			}
			i++
			continue
		}
		if satisfies(cur) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
