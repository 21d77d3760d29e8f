package gate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/scan"
	"go.yaml.in/yaml/v3"
)

// PolicyAPIVersion is the policy format this package reads.
const PolicyAPIVersion = "ferry.dev/policy/v1"

// MaxPolicySize caps a policy file.
const MaxPolicySize = 4 << 20

// The consensus statuses a policy can block on. A finding whose consensus
// is not_affected or fixed never blocks.
const (
	StatusAffected           = "affected"
	StatusUnderInvestigation = "under_investigation"
	StatusConflict           = "conflict"
	StatusUnknown            = "unknown"
	StatusNotAffected        = "not_affected"
	StatusFixed              = "fixed"
)

// blockingStatuses are the statuses severity, KEV and EPSS rules count.
var blockingStatuses = []string{StatusAffected, StatusConflict, StatusUnderInvestigation, StatusUnknown}

// Policy is a parsed policy file.
type Policy struct {
	// Name is the file the policy came from, as given.
	Name string
	// Digest is "sha256:<hex>" of the bytes as read: the policy's identity
	// in decision records.
	Digest string
	// Source is the policy as read; records embed it so that replay needs
	// nothing but the record and the store.
	Source []byte
	// Default applies to every environment; Environments override it.
	Default      Rules
	Environments map[string]Rules
	Waivers      []Waiver

	envPatches map[string]rulesPatch
}

// Rules are the rules of one environment, resolved.
type Rules struct {
	// Severity is the lowest rating (scan.Rating*) that blocks, "" for none.
	Severity string `json:"severity,omitempty"`
	// KEV blocks every finding in CISA's Known Exploited Vulnerabilities.
	KEV bool `json:"kev"`
	// EPSS blocks findings whose EPSS probability is at or above it; nil
	// for no EPSS rule.
	EPSS *float64 `json:"epss,omitempty"`
	// Unknowns is the budget of findings whose consensus is unknown: Max in
	// all (nil for no budget) and per rating.
	Unknowns Budget `json:"unknowns"`
	// AnalysisMaySuppress lets tool-derived VEX (tier analysis, e.g. Go
	// symbol evidence) make a finding not_affected. Default false: only a
	// human issuer's word suppresses.
	AnalysisMaySuppress bool `json:"analysisMaySuppress"`
	// Signatures and Attestations the image must carry, verified offline.
	Signatures   []SignatureRequirement   `json:"signatures,omitempty"`
	Attestations []AttestationRequirement `json:"attestations,omitempty"`
	// MaxAge bounds the age of the site's data per kind (DataKinds): the
	// time since the data was fetched, by the newest kit that carried it.
	MaxAge map[string]Duration `json:"maxAge,omitempty"`
}

// Budget is a number of findings allowed.
type Budget struct {
	Max         *int           `json:"max,omitempty"`
	PerSeverity map[string]int `json:"perSeverity,omitempty"`
}

// Duration is a time.Duration written as in the policy ("7d", "36h").
type Duration time.Duration

// MarshalText writes d in whole days when it is, else as time.Duration.
func (d Duration) MarshalText() ([]byte, error) {
	td := time.Duration(d)
	if td%(24*time.Hour) == 0 {
		return []byte(strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"), nil
	}
	return []byte(td.String()), nil
}

// Identity names a signer: a public key file, or a keyless identity
// (certificate subject) with its OIDC issuer.
type Identity struct {
	// Key is the public key path as written in the policy.
	Key string `json:"key,omitempty"`
	// KeyPath is Key resolved against the policy's directory.
	KeyPath  string `json:"-"`
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
}

// String names the signer for people.
func (i Identity) String() string {
	if i.Key != "" {
		return "key " + i.Key
	}
	return i.Identity + " (issuer " + i.Issuer + ")"
}

// SignatureRequirement is an image signature the policy requires.
type SignatureRequirement struct {
	Identity
}

// AttestationRequirement is an attestation the policy requires: a
// predicate type signed by a signer.
type AttestationRequirement struct {
	PredicateType string `json:"predicateType"`
	Identity
}

// Waiver lets one vulnerability in one product or package pass until it
// expires.
type Waiver struct {
	// Vuln is an advisory id or any alias of it.
	Vuln string `json:"vuln"`
	// Product is a purl; without a version it covers every version.
	Product string `json:"product,omitempty"`
	// Package is a package name (any ecosystem), for products without a
	// purl.
	Package      string    `json:"package,omitempty"`
	Expires      time.Time `json:"expires"`
	Reason       string    `json:"reason"`
	Approver     string    `json:"approver"`
	Environments []string  `json:"environments,omitempty"`
	// Line is the waiver's line in the policy file.
	Line int `json:"line"`
}

// For returns the rules of env: the default with env's overrides. env ""
// is the default.
func (p *Policy) For(env string) (Rules, error) {
	if env == "" {
		return p.Default, nil
	}
	patch, ok := p.envPatches[env]
	if !ok {
		known := make([]string, 0, len(p.envPatches))
		for e := range p.envPatches {
			known = append(known, e)
		}
		slices.Sort(known)
		if len(known) == 0 {
			return Rules{}, fmt.Errorf("policy %s defines no environments, so not %q", p.Name, env)
		}
		return Rules{}, fmt.Errorf("policy %s has no environment %q (it has %s)", p.Name, env, strings.Join(known, ", "))
	}
	r := cloneRules(p.Default)
	patch.apply(&r)
	return r, nil
}

func cloneRules(r Rules) Rules {
	out := r
	out.Signatures = slices.Clone(r.Signatures)
	out.Attestations = slices.Clone(r.Attestations)
	if r.Unknowns.PerSeverity != nil {
		out.Unknowns.PerSeverity = make(map[string]int, len(r.Unknowns.PerSeverity))
		for k, v := range r.Unknowns.PerSeverity {
			out.Unknowns.PerSeverity[k] = v
		}
	}
	if r.MaxAge != nil {
		out.MaxAge = make(map[string]Duration, len(r.MaxAge))
		for k, v := range r.MaxAge {
			out.MaxAge[k] = v
		}
	}
	return out
}

// rulesPatch is one block of rules as written: only what it sets.
type rulesPatch struct {
	severity     *string
	kev          *bool
	epss         **float64
	unknownsMax  **int
	perSeverity  map[string]int
	analysis     *bool
	signatures   *[]SignatureRequirement
	attestations *[]AttestationRequirement
	maxAge       map[string]Duration
}

func (pt *rulesPatch) apply(r *Rules) {
	if pt.severity != nil {
		r.Severity = *pt.severity
	}
	if pt.kev != nil {
		r.KEV = *pt.kev
	}
	if pt.epss != nil {
		r.EPSS = *pt.epss
	}
	if pt.unknownsMax != nil {
		r.Unknowns.Max = *pt.unknownsMax
	}
	for k, v := range pt.perSeverity {
		if r.Unknowns.PerSeverity == nil {
			r.Unknowns.PerSeverity = map[string]int{}
		}
		r.Unknowns.PerSeverity[k] = v
	}
	if pt.analysis != nil {
		r.AnalysisMaySuppress = *pt.analysis
	}
	if pt.signatures != nil {
		r.Signatures = *pt.signatures
	}
	if pt.attestations != nil {
		r.Attestations = *pt.attestations
	}
	for k, v := range pt.maxAge {
		if r.MaxAge == nil {
			r.MaxAge = map[string]Duration{}
		}
		r.MaxAge[k] = v
	}
}

// DataKinds are the kinds of site data a maxAge rule can bound: the kit
// content types advisories (OSV), enrich (CISA KEV and EPSS) and vex.
var DataKinds = []string{"advisories", "enrich", "vex"}

// envRE is compiled on first use, not at start-up (every ferry process
// would pay for it).
var envRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })

// ParsePolicy parses and validates a policy. name names it in errors and
// anchors relative key paths. Every problem comes back together as
// PolicyErrors, each with its line.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	sum := sha256.Sum256(data)
	p := &policyParser{file: name, pol: &Policy{
		Name: name, Digest: "sha256:" + hex.EncodeToString(sum[:]), Source: data,
		envPatches: map[string]rulesPatch{}, Environments: map[string]Rules{},
	}}
	if len(data) > MaxPolicySize {
		p.add(nil, "", "the policy is larger than %d bytes", MaxPolicySize)
		return nil, p.errs
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.add(nil, "", "not valid YAML: %v", err)
		return nil, p.errs
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		p.add(&doc, "", "the policy must be a YAML mapping (apiVersion, default, environments, waivers)")
		return nil, p.errs
	}
	p.parseTop(doc.Content[0])
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	pol := p.pol
	base := rulesPatch{}
	if p.def != nil {
		base = *p.def
	}
	base.apply(&pol.Default)
	for env := range pol.envPatches {
		r, _ := pol.For(env)
		pol.Environments[env] = r
	}
	return pol, nil
}

type policyParser struct {
	file string
	pol  *Policy
	def  *rulesPatch
	errs PolicyErrors
}

func (p *policyParser) add(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &PolicyError{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// mapping checks that n is a mapping with only the allowed keys, each once,
// and returns its values by key.
func (p *policyParser) mapping(n *yaml.Node, field string, allowed ...string) (map[string]*yaml.Node, bool) {
	if n.Kind != yaml.MappingNode {
		p.add(n, field, "must be a mapping with the keys %s", strings.Join(allowed, ", "))
		return nil, false
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		f := join(field, k.Value)
		switch {
		case !slices.Contains(allowed, k.Value):
			p.add(k, f, "unknown key %q (known: %s)", k.Value, strings.Join(allowed, ", "))
		case out[k.Value] != nil:
			p.add(k, f, "%q is given twice", k.Value)
		default:
			out[k.Value] = n.Content[i+1]
		}
	}
	return out, true
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func (p *policyParser) str(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
		p.add(n, field, "must be a non-empty string")
		return "", false
	}
	return n.Value, true
}

func (p *policyParser) boolean(n *yaml.Node, field string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		b, err := strconv.ParseBool(n.Value)
		if err == nil {
			return b, true
		}
	}
	p.add(n, field, "must be true or false, not %q", n.Value)
	return false, false
}

func (p *policyParser) count(n *yaml.Node, field string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		v, err := strconv.Atoi(n.Value)
		if err == nil && v >= 0 {
			return v, true
		}
	}
	p.add(n, field, "must be a whole number, 0 or more, not %q", n.Value)
	return 0, false
}

func (p *policyParser) parseTop(m *yaml.Node) {
	top, _ := p.mapping(m, "", "apiVersion", "default", "environments", "waivers")
	if v, ok := top["apiVersion"]; !ok {
		p.add(m, "apiVersion", "missing: the first line of a policy is apiVersion: %s", PolicyAPIVersion)
	} else if s, ok := p.str(v, "apiVersion"); ok && s != PolicyAPIVersion {
		p.add(v, "apiVersion", "%q is not supported (this ferry reads %s)", s, PolicyAPIVersion)
	}
	if v, ok := top["default"]; ok {
		pt := p.rules(v, "default")
		p.def = &pt
	}
	if v, ok := top["environments"]; ok {
		if v.Kind != yaml.MappingNode {
			p.add(v, "environments", "must be a mapping of environment names (dev, stage, prod, …) to rules")
		} else {
			for i := 0; i+1 < len(v.Content); i += 2 {
				k := v.Content[i]
				field := "environments." + k.Value
				if !envRE().MatchString(k.Value) {
					p.add(k, field, "%q is not a valid environment name (letters, digits, . _ -)", k.Value)
					continue
				}
				if _, dup := p.pol.envPatches[k.Value]; dup {
					p.add(k, field, "environment %q is given twice", k.Value)
					continue
				}
				p.pol.envPatches[k.Value] = p.rules(v.Content[i+1], field)
			}
		}
	}
	if v, ok := top["waivers"]; ok {
		p.waivers(v)
	}
}

func (p *policyParser) rules(n *yaml.Node, field string) rulesPatch {
	var pt rulesPatch
	m, ok := p.mapping(n, field, "block", "unknowns", "vex", "signatures", "attestations", "maxAge")
	if !ok {
		return pt
	}
	if v, ok := m["block"]; ok {
		p.block(v, join(field, "block"), &pt)
	}
	if v, ok := m["unknowns"]; ok {
		p.unknowns(v, join(field, "unknowns"), &pt)
	}
	if v, ok := m["vex"]; ok {
		f := join(field, "vex")
		if vm, ok := p.mapping(v, f, "analysis"); ok {
			if a, ok := vm["analysis"]; ok {
				if b, ok := p.boolean(a, f+".analysis"); ok {
					pt.analysis = &b
				}
			}
		}
	}
	if v, ok := m["signatures"]; ok {
		sigs := []SignatureRequirement{}
		p.list(v, join(field, "signatures"), func(item *yaml.Node, f string) {
			im, ok := p.mapping(item, f, "key", "identity", "issuer")
			if !ok {
				return
			}
			if id, ok := p.identity(item, im, f); ok {
				sigs = append(sigs, SignatureRequirement{id})
			}
		})
		pt.signatures = &sigs
	}
	if v, ok := m["attestations"]; ok {
		atts := []AttestationRequirement{}
		p.list(v, join(field, "attestations"), func(item *yaml.Node, f string) {
			im, ok := p.mapping(item, f, "predicateType", "key", "identity", "issuer")
			if !ok {
				return
			}
			pn, ok := im["predicateType"]
			if !ok {
				p.add(item, f+".predicateType", "missing: which predicate the attestation must carry (e.g. https://slsa.dev/provenance/v1)")
				return
			}
			ptype, ok1 := p.str(pn, f+".predicateType")
			id, ok2 := p.identity(item, im, f)
			if ok1 && ok2 {
				atts = append(atts, AttestationRequirement{PredicateType: ptype, Identity: id})
			}
		})
		pt.attestations = &atts
	}
	if v, ok := m["maxAge"]; ok {
		f := join(field, "maxAge")
		if am, ok := p.mapping(v, f, DataKinds...); ok {
			pt.maxAge = map[string]Duration{}
			for k, dn := range am {
				if d, ok := p.duration(dn, f+"."+k); ok {
					pt.maxAge[k] = d
				}
			}
		}
	}
	return pt
}

func (p *policyParser) block(n *yaml.Node, field string, pt *rulesPatch) {
	m, ok := p.mapping(n, field, "severity", "kev", "epss")
	if !ok {
		return
	}
	if v, ok := m["severity"]; ok {
		if s, ok := p.str(v, field+".severity"); ok {
			if s == "none" || s == "off" {
				empty := ""
				pt.severity = &empty
			} else if r, ok := scan.ParseRating(s); ok && r != scan.RatingNone {
				pt.severity = &r
			} else {
				p.add(v, field+".severity", "%q is not a severity (critical, high, medium, low, or none)", s)
			}
		}
	}
	if v, ok := m["kev"]; ok {
		if b, ok := p.boolean(v, field+".kev"); ok {
			pt.kev = &b
		}
	}
	if v, ok := m["epss"]; ok {
		var e *float64
		if v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || v.Value == "none" || v.Value == "off") {
			pt.epss = &e
		} else if f, err := strconv.ParseFloat(v.Value, 64); v.Kind == yaml.ScalarNode && err == nil && f >= 0 && f <= 1 {
			e = &f
			pt.epss = &e
		} else {
			p.add(v, field+".epss", "must be a probability between 0 and 1 (e.g. 0.5), not %q", v.Value)
		}
	}
}

func (p *policyParser) unknowns(n *yaml.Node, field string, pt *rulesPatch) {
	m, ok := p.mapping(n, field, "max", "critical", "high", "medium", "low")
	if !ok {
		return
	}
	if v, ok := m["max"]; ok {
		if c, ok := p.count(v, field+".max"); ok {
			cp := &c
			pt.unknownsMax = &cp
		}
	}
	for _, sev := range []string{"critical", "high", "medium", "low"} {
		v, ok := m[sev]
		if !ok {
			continue
		}
		if c, ok := p.count(v, field+"."+sev); ok {
			if pt.perSeverity == nil {
				pt.perSeverity = map[string]int{}
			}
			r, _ := scan.ParseRating(sev)
			pt.perSeverity[r] = c
		}
	}
}

func (p *policyParser) identity(item *yaml.Node, m map[string]*yaml.Node, field string) (Identity, bool) {
	var id Identity
	k, hasKey := m["key"]
	i, hasID := m["identity"]
	is, hasIss := m["issuer"]
	switch {
	case hasKey && (hasID || hasIss):
		p.add(item, field, "give either key, or identity and issuer (keyless), not both")
		return id, false
	case hasKey:
		s, ok := p.str(k, field+".key")
		if !ok {
			return id, false
		}
		id.Key = s
		id.KeyPath = s
		if !filepath.IsAbs(s) {
			id.KeyPath = filepath.Join(filepath.Dir(p.file), s)
		}
		return id, true
	case hasID && hasIss:
		s1, ok1 := p.str(i, field+".identity")
		s2, ok2 := p.str(is, field+".issuer")
		id.Identity, id.Issuer = s1, s2
		return id, ok1 && ok2
	case hasID || hasIss:
		p.add(item, field, "a keyless signer needs both identity (the certificate subject) and issuer (the OIDC issuer)")
		return id, false
	default:
		p.add(item, field, "name the signer: key (a public key file), or identity and issuer (keyless)")
		return id, false
	}
}

func (p *policyParser) list(n *yaml.Node, field string, each func(item *yaml.Node, field string)) {
	if n.Kind != yaml.SequenceNode {
		p.add(n, field, "must be a list")
		return
	}
	for i, item := range n.Content {
		each(item, fmt.Sprintf("%s[%d]", field, i))
	}
}

// duration parses "7d", "12h", "90m".
func (p *policyParser) duration(n *yaml.Node, field string) (Duration, bool) {
	if n.Kind == yaml.ScalarNode {
		s := strings.TrimSpace(n.Value)
		if days, ok := strings.CutSuffix(s, "d"); ok {
			if d, err := strconv.Atoi(days); err == nil && d > 0 && d < 100000 {
				return Duration(time.Duration(d) * 24 * time.Hour), true
			}
		} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return Duration(d), true
		}
	}
	p.add(n, field, "must be a positive duration such as 7d or 36h, not %q", n.Value)
	return 0, false
}

func (p *policyParser) waivers(n *yaml.Node) {
	p.list(n, "waivers", func(item *yaml.Node, f string) {
		m, ok := p.mapping(item, f, "vuln", "product", "package", "expires", "reason", "approver", "environments")
		if !ok {
			return
		}
		w := Waiver{Line: item.Line}
		good := true
		need := func(key, why string) string {
			v, ok := m[key]
			if !ok {
				p.add(item, f+"."+key, "missing: %s", why)
				good = false
				return ""
			}
			s, ok := p.str(v, f+"."+key)
			good = good && ok
			return s
		}
		w.Vuln = need("vuln", "the advisory id or alias the waiver is for")
		if v, ok := m["product"]; ok {
			if s, ok := p.str(v, f+".product"); ok {
				if !strings.HasPrefix(s, "pkg:") {
					p.add(v, f+".product", "%q is not a purl (pkg:TYPE/NAMESPACE/NAME[@VERSION])", s)
					good = false
				}
				w.Product = s
			} else {
				good = false
			}
		}
		if v, ok := m["package"]; ok {
			s, ok := p.str(v, f+".package")
			w.Package = s
			good = good && ok
		}
		if w.Product == "" && w.Package == "" && good {
			p.add(item, f, "a waiver names what it covers: product (a purl) or package")
			good = false
		}
		if w.Product != "" && w.Package != "" {
			p.add(item, f, "give product or package, not both")
			good = false
		}
		if s := need("expires", "when the waiver stops applying (RFC 3339, e.g. 2027-01-01T00:00:00Z)"); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				p.add(m["expires"], f+".expires", "%q is not an RFC 3339 time (e.g. 2027-01-01T00:00:00Z)", s)
				good = false
			}
			w.Expires = t.UTC()
		}
		w.Reason = need("reason", "why the risk is accepted (an auditor reads it)")
		w.Approver = need("approver", "who accepted the risk")
		if v, ok := m["environments"]; ok {
			p.list(v, f+".environments", func(e *yaml.Node, ef string) {
				if s, ok := p.str(e, ef); ok {
					w.Environments = append(w.Environments, s)
				} else {
					good = false
				}
			})
			slices.Sort(w.Environments)
		}
		if good {
			p.pol.Waivers = append(p.pol.Waivers, w)
		}
	})
	for _, w := range p.pol.Waivers {
		for _, e := range w.Environments {
			if _, ok := p.pol.envPatches[e]; !ok {
				p.errs = append(p.errs, &PolicyError{File: p.file, Line: w.Line, Field: "waivers.environments",
					Msg: fmt.Sprintf("environment %q is not defined under environments", e)})
			}
		}
	}
}

// UnmarshalText reads what MarshalText writes.
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	td, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(td)
	return nil
}
