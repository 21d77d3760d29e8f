package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Diff is what changed between two decisions: of the same image over
// time, or of two images.
type Diff struct {
	Schema  string `json:"schema"`
	OldID   string `json:"old"`
	NewID   string `json:"new"`
	Verdict Change `json:"verdict"`
	// Inputs lists changed inputs: "subject", "channel acme v41 → v42",
	// "policy", "environment", "evaluatedAt", "ferryVersion".
	Inputs    []string        `json:"inputs"`
	Added     []string        `json:"added"`
	Removed   []string        `json:"removed"`
	Changed   []FindingChange `json:"changed"`
	Rules     []RuleChange    `json:"rules"`
	Identical bool            `json:"identical"`
}

// DiffSchema identifies the JSON form of a Diff.
const DiffSchema = "https://ferry.dev/gate/diff/v1"

// Change is an old and a new value.
type Change struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// FindingChange is a finding present in both decisions that changed.
type FindingChange struct {
	Key string `json:"key"`
	// What maps what changed (effective, consensus, issuer, severity,
	// waived, kev, blocking) to its old and new value.
	What map[string]Change `json:"what"`
}

// RuleChange is a rule whose outcome or count changed.
type RuleChange struct {
	Code    Code   `json:"code"`
	Outcome Change `json:"outcome"`
	Count   Change `json:"count"`
	Summary Change `json:"summary"`
}

// Compare returns what changed from old to new.
func Compare(old, new *Record, oldCanon, newCanon []byte) *Diff {
	d := &Diff{Schema: DiffSchema, OldID: ID(oldCanon), NewID: ID(newCanon),
		Verdict: Change{old.Verdict, new.Verdict}, Inputs: []string{}, Added: []string{}, Removed: []string{},
		Changed: []FindingChange{}, Rules: []RuleChange{}}
	d.Identical = bytes.Equal(oldCanon, newCanon)
	d.Inputs = InputChanges(old.Inputs, new.Inputs)

	of, nf := map[string]FindingOutcome{}, map[string]FindingOutcome{}
	for _, f := range old.Findings {
		of[f.Key] = f
	}
	for _, f := range new.Findings {
		nf[f.Key] = f
		if _, ok := of[f.Key]; !ok {
			d.Added = append(d.Added, f.Key)
		}
	}
	for _, f := range old.Findings {
		n, ok := nf[f.Key]
		if !ok {
			d.Removed = append(d.Removed, f.Key)
			continue
		}
		what := map[string]Change{}
		diffField(what, "effective", f.Effective, n.Effective)
		diffField(what, "consensus", f.Consensus.Status, n.Consensus.Status)
		diffField(what, "decidedBy", statementName(f.Consensus), statementName(n.Consensus))
		diffField(what, "severity", f.Severity, n.Severity)
		diffField(what, "waived", strconv.FormatBool(f.Waived), strconv.FormatBool(n.Waived))
		diffField(what, "kev", strconv.FormatBool(f.KEV), strconv.FormatBool(n.KEV))
		diffField(what, "fixed", f.Fixed, n.Fixed)
		diffField(what, "blocking", strings.Join(f.Blocking, ","), strings.Join(n.Blocking, ","))
		if len(what) > 0 {
			d.Changed = append(d.Changed, FindingChange{Key: f.Key, What: what})
		}
	}
	slices.Sort(d.Added)
	slices.Sort(d.Removed)

	orules := map[Code]RuleOutcome{}
	for _, r := range old.Rules {
		orules[r.Code] = r
	}
	for _, r := range new.Rules {
		o := orules[r.Code]
		if o.Outcome != r.Outcome || o.Count != r.Count || o.Summary != r.Summary {
			d.Rules = append(d.Rules, RuleChange{Code: r.Code,
				Outcome: Change{o.Outcome, r.Outcome},
				Count:   Change{strconv.Itoa(o.Count), strconv.Itoa(r.Count)},
				Summary: Change{o.Summary, r.Summary}})
		}
	}
	return d
}

func statementName(c Consensus) string {
	if c.Issuer == "" {
		return ""
	}
	return fmt.Sprintf("%s (%s) %s", c.Issuer, c.Tier, short(c.Document))
}

func diffField(m map[string]Change, name, a, b string) {
	if a != b {
		m[name] = Change{a, b}
	}
}

// InputChanges lists the inputs that differ between two decisions, in
// words: "channel acme-feeds v41 → v42".
func InputChanges(a, b Inputs) []string {
	out := []string{}
	if a.Subject != b.Subject {
		out = append(out, fmt.Sprintf("subject %s → %s", a.Subject.Digest, b.Subject.Digest))
	}
	ac, bc := map[string]Channel{}, map[string]Channel{}
	var names []string
	for _, c := range a.Channels {
		ac[c.Name] = c
		names = append(names, c.Name)
	}
	for _, c := range b.Channels {
		bc[c.Name] = c
		names = append(names, c.Name)
	}
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		x, inA := ac[n]
		y, inB := bc[n]
		switch {
		case !inA:
			out = append(out, fmt.Sprintf("channel %s added (v%d)", n, y.Version))
		case !inB:
			out = append(out, fmt.Sprintf("channel %s gone (was v%d)", n, x.Version))
		case x.Version != y.Version:
			out = append(out, fmt.Sprintf("channel %s v%d → v%d", n, x.Version, y.Version))
		case x.TargetsSHA256 != y.TargetsSHA256:
			out = append(out, fmt.Sprintf("channel %s v%d is a different kit (targets %s → %s)", n, x.Version, short(x.TargetsSHA256), short(y.TargetsSHA256)))
		}
	}
	if a.Policy.Digest != b.Policy.Digest {
		out = append(out, fmt.Sprintf("policy %s → %s", short(a.Policy.Digest), short(b.Policy.Digest)))
	}
	if a.Environment != b.Environment {
		out = append(out, fmt.Sprintf("environment %s → %s", envName(a.Environment), envName(b.Environment)))
	}
	if !a.EvaluatedAt.Equal(b.EvaluatedAt) {
		out = append(out, fmt.Sprintf("evaluatedAt %s → %s", a.EvaluatedAt.Format("2006-01-02T15:04:05Z07:00"), b.EvaluatedAt.Format("2006-01-02T15:04:05Z07:00")))
	}
	if a.FerryVersion != b.FerryVersion {
		out = append(out, fmt.Sprintf("ferry %s → %s", a.FerryVersion, b.FerryVersion))
	}
	if x, y := filesKey(a.LocalVEX), filesKey(b.LocalVEX); x != y {
		out = append(out, "the site's own VEX statements (--vex) changed")
	}
	if x, y := filesKey(a.Issuers), filesKey(b.Issuers); x != y {
		out = append(out, "the issuer tiers (--issuers) changed")
	}
	if a.Consensus != b.Consensus {
		out = append(out, fmt.Sprintf("consensus %s → %s", a.Consensus, b.Consensus))
	}
	return out
}

func filesKey(f *LocalFiles) string {
	if f == nil {
		return ""
	}
	return f.Path + "\x00" + strings.Join(f.Digests, ",")
}

// WriteDiff writes d for people.
func WriteDiff(w io.Writer, d *Diff) error {
	ew := &errWriter{w: w}
	if d.Identical {
		ew.printf("identical (%s)\n", d.OldID)
		return ew.err
	}
	ew.printf("verdict: %s → %s\n", d.Verdict.Old, d.Verdict.New)
	for _, s := range d.Inputs {
		ew.printf("input:   %s\n", s)
	}
	for _, k := range d.Added {
		ew.printf("+ %s\n", k)
	}
	for _, k := range d.Removed {
		ew.printf("- %s\n", k)
	}
	for _, c := range d.Changed {
		keys := make([]string, 0, len(c.What))
		for k := range c.What {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %q → %q", k, c.What[k].Old, c.What[k].New))
		}
		ew.printf("~ %s: %s\n", c.Key, strings.Join(parts, "; "))
	}
	for _, r := range d.Rules {
		ew.printf("rule %s: %s → %s (%s → %s)\n", r.Code, r.Outcome.Old, r.Outcome.New, r.Count.Old, r.Count.New)
	}
	return ew.err
}

// Pointers returns the JSON pointers (RFC 6901) at which two JSON
// documents differ, sorted; nil when they are equal.
func Pointers(a, b []byte) ([]string, error) {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return nil, err
	}
	var out []string
	pointers("", x, y, &out)
	slices.Sort(out)
	return out, nil
}

func pointers(at string, x, y any, out *[]string) {
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok {
			*out = append(*out, orRoot(at))
			return
		}
		keys := make([]string, 0, len(xv)+len(yv))
		for k := range xv {
			keys = append(keys, k)
		}
		for k := range yv {
			if _, ok := xv[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			pointers(at+"/"+escapePointer(k), xv[k], yv[k], out)
		}
	case []any:
		yv, ok := y.([]any)
		if !ok {
			*out = append(*out, orRoot(at))
			return
		}
		for i := 0; i < max(len(xv), len(yv)); i++ {
			var a, b any
			if i < len(xv) {
				a = xv[i]
			}
			if i < len(yv) {
				b = yv[i]
			}
			if i >= len(xv) || i >= len(yv) {
				*out = append(*out, at+"/"+strconv.Itoa(i))
				continue
			}
			pointers(at+"/"+strconv.Itoa(i), a, b, out)
		}
	default:
		// JSON scalars (string, float64, bool, nil) compare with !=; a
		// scalar against a map or slice differs by dynamic type.
		if x != y {
			*out = append(*out, orRoot(at))
		}
	}
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
