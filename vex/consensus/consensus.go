package consensus

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/vex"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

// Algorithm names the decision rules this package implements
// (docs/vex-consensus.md). It changes when a rule changes.
const Algorithm = "consensus/v1"

// Schema names the JSON form of a Report.
const Schema = "ferry.dev/vex-consensus/v1"

// Consensus statuses: the four VEX statuses, and two of the consensus's
// own. StatusConflict: issuers of the deciding tier disagree (Resolution
// says what to act on); StatusUnknown: no statement at all.
const (
	StatusAffected           = string(openvex.StatusAffected)
	StatusNotAffected        = string(openvex.StatusNotAffected)
	StatusFixed              = string(openvex.StatusFixed)
	StatusUnderInvestigation = string(openvex.StatusUnderInvestigation)
	StatusConflict           = "conflict"
	StatusUnknown            = "unknown"
)

// Statuses lists the consensus statuses in the order reports count them.
var Statuses = []string{StatusAffected, StatusUnderInvestigation, StatusConflict, StatusUnknown, StatusFixed, StatusNotAffected}

// conservative orders statuses for resolving a conflict: the first wins.
var conservative = []string{StatusAffected, StatusUnderInvestigation, StatusFixed, StatusNotAffected}

// Origins of an input statement.
const (
	// OriginStore: a document or verified attestation carried by a kit.
	OriginStore = "store"
	// OriginLocal: the site's own statements (--vex DIR): issuer "local",
	// tier self, whatever the document says.
	OriginLocal = "local"
	// OriginAnalysis: derived by a tool (e.g. issuer "ferry:symbols"),
	// tier analysis.
	OriginAnalysis = "analysis"
)

// LocalIssuer is the issuer of OriginLocal statements.
const LocalIssuer = "local"

// Input is one statement and where it came from.
type Input struct {
	Statement vex.Statement
	// Origin is OriginStore (the default), OriginLocal or OriginAnalysis.
	Origin string
	// Signer and SignerIssuer are the verified signing identity of the
	// attestation the statement came in ("key sha256:<hex>", or a
	// certificate identity and its OIDC issuer); empty when unsigned.
	Signer, SignerIssuer string
	// DocumentVersion is the source document's version (OpenVEX version,
	// CSAF tracking.version): the second key of "newest".
	DocumentVersion string
	// Source says where the document is: "channel/source" in the store, a
	// file name for local statements.
	Source string
}

// Query asks for the consensus about one product.
type Query struct {
	// IDs are the vulnerability's ids; any alias will do.
	IDs []string
	// Product is the product (a purl, an image digest, an id).
	Product string
	// Within is the product Product is part of (the scanned image's
	// digest, the application a library is built into); "" when none.
	Within string
}

// Options are the rest of the input of Evaluate.
type Options struct {
	// At is the evaluation time: statements dated after it are dropped
	// (ReasonFuture). The zero time means "no statement is from the
	// future"; callers pass --at or the time they started.
	At time.Time
	// Aliases are groups of ids that name one vulnerability (from the
	// advisories: an OSV record's id and aliases). The ids a statement
	// gives for its vulnerability join too.
	Aliases [][]string
	// Queries, when set, are the (vulnerability, product) pairs to decide;
	// when nil, every pair some statement names is decided.
	Queries []Query
}

// Roles of a considered statement.
const (
	RoleDecides       = "DECIDES"       // the deciding statement
	RoleAgrees        = "AGREES"        // same status as the decision, same tier
	RoleConflicts     = "CONFLICTS"     // another status in the deciding tier
	RoleDissent       = "DISSENT"       // a lower tier, another status
	RoleConcurs       = "CONCURS"       // a lower tier, the same status
	RoleInvestigating = "INVESTIGATING" // under_investigation while another tier decided
	RoleDropped       = "DROPPED"       // not considered; see Reason
)

// Reason codes of dropped statements (stable; scripts depend on them).
const (
	ReasonUnknownStatus     = "UNKNOWN_STATUS"           // a status outside the four VEX statuses
	ReasonUnjustified       = "NOT_AFFECTED_UNJUSTIFIED" // not_affected with neither justification nor impact statement
	ReasonBadJustification  = "INVALID_JUSTIFICATION"    // a justification outside the spec's five
	ReasonInvalidProduct    = "INVALID_PRODUCT"          // a product that cannot be parsed (a malformed purl, no identifier)
	ReasonSignatureRequired = "SIGNATURE_REQUIRED"       // unsigned, naming an issuer whose entry requires a signature
	ReasonSuperseded        = "SUPERSEDED"               // the same issuer said something newer
	ReasonFuture            = "FUTURE_STATEMENT"         // dated after the evaluation time
)

// Reasons lists every reason code.
var Reasons = []string{ReasonUnknownStatus, ReasonUnjustified, ReasonBadJustification, ReasonInvalidProduct, ReasonSignatureRequired, ReasonSuperseded, ReasonFuture}

// Considered is one statement as the consensus saw it.
type Considered struct {
	Issuer string `json:"issuer"`
	Tier   Tier   `json:"tier"`
	// Unlisted: the issuer is not in the issuer list (tier community).
	Unlisted bool `json:"unlisted,omitempty"`
	// Signer is the verified signing identity, when signed.
	Signer          string    `json:"signer,omitempty"`
	Status          string    `json:"status"`
	Justification   string    `json:"justification,omitempty"`
	ImpactStatement string    `json:"impactStatement,omitempty"`
	ActionStatement string    `json:"actionStatement,omitempty"`
	Timestamp       time.Time `json:"timestamp,omitzero"`
	Vulnerability   string    `json:"vulnerability"`
	Product         string    `json:"product"`
	Origin          string    `json:"origin"`
	Source          string    `json:"source,omitempty"`
	DocumentDigest  string    `json:"documentDigest,omitempty"`
	DocumentID      string    `json:"documentId,omitempty"`
	DocumentVersion string    `json:"documentVersion,omitempty"`
	Role            string    `json:"role"`
	// Reason is the code of a dropped statement; Detail says more.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Result is the consensus about one (vulnerability, product).
type Result struct {
	Vulnerability string   `json:"vulnerability"`
	Aliases       []string `json:"aliases,omitempty"`
	Product       string   `json:"product"`
	Within        string   `json:"within,omitempty"`
	Status        string   `json:"status"`
	// Resolution is the conservative reading of a conflict (affected >
	// under_investigation > fixed > not_affected); "" otherwise.
	Resolution      string `json:"resolution,omitempty"`
	Justification   string `json:"justification,omitempty"`
	ImpactStatement string `json:"impactStatement,omitempty"`
	ActionStatement string `json:"actionStatement,omitempty"`
	// Issuer and Tier are the deciding statement's.
	Issuer string `json:"issuer,omitempty"`
	Tier   Tier   `json:"tier,omitempty"`
	// Deciding indexes Statements; -1 when the status is unknown.
	Deciding int `json:"deciding"`
	// Dissent counts lower-tier statements that disagree.
	Dissent int `json:"dissent"`
	// Statements are every statement that applied, dropped ones included,
	// most trusted tier first, then newest first.
	Statements []Considered `json:"statements"`
}

// Effective is the status to act on: the resolution of a conflict, else
// the status.
func (r *Result) Effective() string { return cmp.Or(r.Resolution, r.Status) }

// Report is the output of Evaluate.
type Report struct {
	Schema    string    `json:"schema"`
	Algorithm string    `json:"algorithm"`
	At        time.Time `json:"at,omitzero"`
	// Counts are results per status (every status present, zeros too).
	Counts  map[string]int `json:"counts"`
	Results []Result       `json:"results"`
}

// stmt is an input made ready: issuer resolved, validity checked.
type stmt struct {
	in       *Input
	issuer   string
	tier     Tier
	unlisted bool
	drop     string
	detail   string
	group    string // the vulnerability's alias group root
	prods    []stmtProduct
}

type stmtProduct struct {
	show string // canonical form, for reports
	refs []ref
	subs []stmtProduct
	bad  bool
}

// Evaluate decides every pair of opts.Queries (or every pair the
// statements name) and returns the results sorted by vulnerability,
// product and within. issuers may be nil (every issuer unlisted).
func Evaluate(inputs []Input, issuers *Issuers, opts Options) *Report {
	e := newEngine(inputs, issuers, opts)
	var results []Result
	if opts.Queries != nil {
		results = make([]Result, 0, len(opts.Queries))
		for _, q := range opts.Queries {
			results = append(results, e.evaluate(q))
		}
	} else {
		ps := e.pairs()
		results = make([]Result, 0, len(ps))
		for _, p := range ps {
			results = append(results, e.evaluatePair(p))
		}
	}
	return NewReport(results, opts.At)
}

// NewReport sorts results (by vulnerability, product, within; duplicates
// dropped), counts them and names the algorithm and time.
func NewReport(results []Result, at time.Time) *Report { return newReport(results, at) }

func newReport(results []Result, at time.Time) *Report {
	slices.SortFunc(results, func(a, b Result) int {
		return cmp.Or(strings.Compare(a.Vulnerability, b.Vulnerability), strings.Compare(a.Product, b.Product), strings.Compare(a.Within, b.Within))
	})
	results = slices.CompactFunc(results, func(a, b Result) bool {
		return a.Vulnerability == b.Vulnerability && a.Product == b.Product && a.Within == b.Within
	})
	rep := &Report{Schema: Schema, Algorithm: Algorithm, At: at.UTC(), Counts: map[string]int{}, Results: results}
	if at.IsZero() {
		rep.At = time.Time{}
	}
	for _, s := range Statuses {
		rep.Counts[s] = 0
	}
	for _, r := range results {
		rep.Counts[r.Status]++
	}
	if rep.Results == nil {
		rep.Results = []Result{}
	}
	return rep
}

// Engine answers queries over one set of inputs; build it once with New
// and ask many times (a scan asks once per finding). It is safe for
// concurrent use once built.
type Engine struct {
	opts   Options
	stmts  []stmt
	alias  *unionFind
	byKey  map[groupKey][]int // statements by vulnerability group and ref key
	byVuln map[string][]int   // group -> statements with an unusable product
	stated map[string]bool    // the groups that hold a statement
}

// New builds an Engine. opts.Queries is ignored.
func New(inputs []Input, issuers *Issuers, opts Options) *Engine {
	return newEngine(inputs, issuers, opts)
}

// Evaluate decides one query.
func (e *Engine) Evaluate(q Query) Result { return e.evaluate(q) }

// Knows reports whether a query of ids has statements to consider: the
// vulnerability group Evaluate would decide it in (that of the first of
// ids it knows, as a statement's vulnerability or an alias) holds a
// statement. A query it does not know evaluates to StatusUnknown with no
// statements, whatever its product: a caller that needs only that can
// skip Evaluate, which parses the product.
func (e *Engine) Knows(ids []string) bool {
	for _, id := range ids {
		if g, ok := e.alias.lookup(id); ok {
			return e.stated[g]
		}
	}
	return false
}

// Report decides every pair the statements name.
func (e *Engine) Report() *Report {
	ps := e.pairs()
	results := make([]Result, 0, len(ps))
	for _, p := range ps {
		results = append(results, e.evaluatePair(p))
	}
	return newReport(results, e.opts.At)
}

func newEngine(inputs []Input, issuers *Issuers, opts Options) *Engine {
	e := &Engine{opts: opts, alias: newUnionFind(), byKey: map[groupKey][]int{}, byVuln: map[string][]int{}, stated: map[string]bool{}, stmts: make([]stmt, 0, len(inputs))}
	cache := refCache{}
	prods := prodCache{}
	for _, g := range opts.Aliases {
		e.alias.join(g...)
	}
	for i := range inputs {
		in := &inputs[i]
		if len(in.Statement.Aliases) == 0 {
			e.alias.join(in.Statement.Vulnerability)
			continue
		}
		ids := append([]string{in.Statement.Vulnerability}, in.Statement.Aliases...)
		e.alias.join(ids...)
	}
	e.alias.freeze()
	for i := range inputs {
		if strings.TrimSpace(inputs[i].Statement.Vulnerability) == "" {
			continue
		}
		n := len(e.stmts)
		e.stmts = append(e.stmts, stmt{})
		s := &e.stmts[n]
		prepare(s, cache, prods, &inputs[i], issuers, opts.At)
		s.group, _ = e.alias.lookup(s.in.Statement.Vulnerability)
		e.stated[s.group] = true
		var buf [4]string
		keys := buf[:0]
		unusable := false
		for _, p := range s.prods {
			if p.bad {
				unusable = true
				continue
			}
			for _, r := range p.refs {
				keys = append(keys, r.key())
			}
		}
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			e.byKey[groupKey{s.group, k}] = append(e.byKey[groupKey{s.group, k}], n)
		}
		if unusable {
			e.byVuln[s.group] = append(e.byVuln[s.group], n)
		}
	}
	return e
}

type groupKey struct{ group, key string }

// prepare resolves an input's issuer into s and checks what the
// consensus needs.
func prepare(s *stmt, cache refCache, prods prodCache, in *Input, issuers *Issuers, at time.Time) {
	st := &in.Statement
	s.in = in
	switch in.Origin {
	case OriginLocal:
		s.issuer, s.tier = LocalIssuer, TierSelf
	case OriginAnalysis:
		s.issuer, s.tier = cmp.Or(st.Issuer, "analysis"), TierAnalysis
	default:
		if in.Signer != "" {
			if x := issuers.bySigner(in.Signer, in.SignerIssuer); x != nil {
				s.issuer, s.tier = x.ID, x.Tier
			} else {
				s.issuer, s.tier, s.unlisted = in.Signer, TierCommunity, true
			}
			break
		}
		claimed := cmp.Or(st.IssuerNamespace, st.Issuer)
		x := issuers.get(claimed)
		if x == nil && st.IssuerNamespace != "" {
			x = issuers.get(st.Issuer)
		}
		switch {
		case x == nil:
			s.issuer, s.tier, s.unlisted = claimed, TierCommunity, true
		case x.RequiresSignature():
			s.issuer, s.tier = x.ID, x.Tier
			s.drop, s.detail = ReasonSignatureRequired, "the issuer list names keys or identities for "+x.ID+"; this statement is not signed by one"
		default:
			s.issuer, s.tier = x.ID, x.Tier
		}
	}
	if k, ok := simpleProduct(st.Products); ok {
		// Most statements name one product by purl or id: share its
		// prepared form (read-only from here on) instead of one copy per
		// statement.
		if s.prods = prods[k]; s.prods == nil {
			s.prods = []stmtProduct{prepareProduct(cache, st.Products[0])}
			prods[k] = s.prods
		}
	} else {
		for _, p := range st.Products {
			s.prods = append(s.prods, prepareProduct(cache, p))
		}
	}
	if len(s.prods) == 0 {
		s.prods = []stmtProduct{{show: "(none)", bad: true}}
	}
	if s.drop != "" {
		return
	}
	switch {
	case !openvex.Status(st.Status).Valid():
		s.drop, s.detail = ReasonUnknownStatus, strconv.Quote(string(st.Status))+" is not affected, not_affected, fixed or under_investigation"
	case st.Justification != "" && !st.Justification.Valid():
		s.drop, s.detail = ReasonBadJustification, strconv.Quote(string(st.Justification))+" is not a VEX justification"
	case st.Status == openvex.StatusNotAffected && st.Justification == "" && strings.TrimSpace(st.ImpactStatement) == "":
		s.drop, s.detail = ReasonUnjustified, "not_affected needs a justification or an impact statement"
	case !at.IsZero() && st.Timestamp.After(at):
		s.drop, s.detail = ReasonFuture, "dated "+st.Timestamp.UTC().Format(time.RFC3339)+", after the evaluation time"
	}
}

// prodCache shares the prepared products of statements that name one
// simple product (simpleProduct), by its key. stmt.prods is read-only once
// prepared.
type prodCache map[prodKey][]stmtProduct

type prodKey struct{ purl, id string }

// simpleProduct returns the key of a single product identified only by
// its purl and id: no subcomponents, relationship, hashes, CPE or range.
func simpleProduct(ps []vex.Product) (prodKey, bool) {
	if len(ps) != 1 {
		return prodKey{}, false
	}
	p := &ps[0]
	if len(p.Subcomponents) > 0 || p.Relationship != nil || len(p.Hashes) > 0 || p.CPE != "" || p.VersionRange != "" {
		return prodKey{}, false
	}
	return prodKey{p.PURL, p.ID}, true
}

func prepareProduct(cache refCache, p vex.Product) stmtProduct {
	refs, ok := productRefs(cache, p)
	if !ok {
		return stmtProduct{show: cmp.Or(p.PURL, p.ID, "(no identifier)"), bad: true}
	}
	sp := stmtProduct{show: refs[0].canonical(), refs: refs}
	for _, sc := range p.Subcomponents {
		sub := prepareProduct(cache, sc)
		if sub.bad {
			return stmtProduct{show: sp.show + " > " + sub.show, bad: true}
		}
		sp.subs = append(sp.subs, sub)
	}
	return sp
}

// pair is a (vulnerability group, product, within) the statements name.
type pair struct {
	group           string
	product, within ref
}

func (e *Engine) pairs() []pair {
	type pairKey struct{ group, product, within string }
	seen := make(map[pairKey]bool, len(e.byKey))
	out := make([]pair, 0, len(e.byKey))
	add := func(p pair) {
		k := pairKey{p.group, p.product.canonical(), p.within.canonical()}
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	for i := range e.stmts {
		s := &e.stmts[i]
		for _, p := range s.prods {
			if p.bad {
				continue
			}
			if len(p.subs) == 0 {
				add(pair{group: s.group, product: p.refs[0]})
				continue
			}
			for _, sc := range p.subs {
				add(pair{group: s.group, product: sc.refs[0], within: p.refs[0]})
			}
		}
	}
	return out
}

func (e *Engine) evaluate(q Query) Result {
	group := ""
	for _, id := range q.IDs {
		if g, ok := e.alias.lookup(id); ok {
			group = g
			break
		}
	}
	var p pair
	p.product, _ = parseRef(q.Product)
	p.within, _ = parseRef(q.Within)
	if group == "" {
		// No statement knows the vulnerability: unknown.
		ids := slices.Clone(q.IDs)
		slices.Sort(ids)
		r := Result{Status: StatusUnknown, Deciding: -1, Statements: []Considered{}, Product: p.product.canonical(), Within: p.within.canonical()}
		if len(ids) > 0 {
			r.Vulnerability = primaryID(ids)
			r.Aliases = slices.DeleteFunc(ids, func(s string) bool { return s == r.Vulnerability })
		}
		return r
	}
	p.group = group
	return e.evaluatePair(p)
}

// match reports whether a statement product applies to the pair: a
// product without subcomponents covers the product itself or the product
// it is within; one with subcomponents applies only to a product of the
// pair's within that one of its subcomponents covers.
//
// It also returns how the statement's product is shown for the pair:
// "product > subcomponent" when a subcomponent matched.
func (sp *stmtProduct) match(p pair) (string, bool) {
	anyCovers := func(refs []ref, q ref) bool {
		if q.raw == "" && q.digest == "" {
			return false
		}
		for _, r := range refs {
			if covers(r, q) {
				return true
			}
		}
		return false
	}
	if len(sp.subs) == 0 {
		return sp.show, anyCovers(sp.refs, p.product) || anyCovers(sp.refs, p.within)
	}
	if !anyCovers(sp.refs, p.within) {
		return "", false
	}
	for i := range sp.subs {
		if anyCovers(sp.subs[i].refs, p.product) {
			return sp.show + " > " + sp.subs[i].show, true
		}
	}
	return "", false
}

func (e *Engine) evaluatePair(p pair) Result {
	ids := e.alias.members(p.group)
	r := Result{Vulnerability: primaryID(ids), Product: p.product.canonical(), Within: p.within.canonical(), Deciding: -1}
	r.Aliases = slices.DeleteFunc(ids, func(s string) bool { return s == r.Vulnerability })
	var cand []int
	for _, q := range []ref{p.product, p.within} {
		if q.raw == "" && q.digest == "" {
			continue
		}
		cand = append(cand, e.byKey[groupKey{p.group, q.key()}]...)
	}
	slices.Sort(cand)
	cand = slices.Compact(cand)
	type live struct {
		s    *stmt
		show string
	}
	applying := make([]live, 0, len(cand))
	for _, i := range cand {
		s := &e.stmts[i]
		for j := range s.prods {
			if sp := &s.prods[j]; !sp.bad {
				if show, ok := sp.match(p); ok {
					applying = append(applying, live{s, show})
					break
				}
			}
		}
	}
	// Each issuer's newest statement (a pair has few issuers: a slice
	// searched linearly is cheaper than a map). The rest are dropped,
	// with their reason; Considered values are made once, into the
	// result's slice.
	type drop struct {
		live
		reason, detail string
	}
	newest := make([]live, 0, len(applying))
	drops := make([]drop, 0, len(applying))
	for _, l := range applying {
		if l.s.drop != "" {
			drops = append(drops, drop{l, l.s.drop, l.s.detail})
			continue
		}
		j := slices.IndexFunc(newest, func(x live) bool { return x.s.issuer == l.s.issuer })
		if j < 0 {
			newest = append(newest, l)
			continue
		}
		older := l
		if newer(l.s, newest[j].s) {
			newest[j], older = l, newest[j]
		}
		drops = append(drops, drop{older, ReasonSuperseded, "the issuer's newer statement decides for it"})
	}
	// Statements whose product cannot be parsed are shown with every pair
	// of their vulnerability: they may have been about it.
	invalid := 0
	for _, i := range e.byVuln[p.group] {
		for _, sp := range e.stmts[i].prods {
			if sp.bad {
				invalid++
			}
		}
	}
	all := make([]Considered, 0, len(newest)+invalid+len(drops))
	for _, l := range newest {
		all = append(all, considered(l.s, l.show))
	}
	kept := all[:len(newest):len(newest)]
	slices.SortFunc(kept, compareConsidered)
	decide(&r, kept)
	for _, i := range e.byVuln[p.group] {
		s := &e.stmts[i]
		for _, sp := range s.prods {
			if sp.bad {
				c := considered(s, sp.show)
				c.Role, c.Reason, c.Detail = RoleDropped, ReasonInvalidProduct, "the product "+strconv.Quote(sp.show)+" cannot be parsed"
				all = append(all, c)
			}
		}
	}
	for _, d := range drops {
		c := considered(d.s, d.show)
		c.Role, c.Reason, c.Detail = RoleDropped, d.reason, d.detail
		all = append(all, c)
	}
	r.Statements = all
	slices.SortStableFunc(r.Statements[len(kept):], compareConsidered)
	if r.Statements == nil {
		r.Statements = []Considered{}
	}
	if r.Deciding >= 0 {
		d := r.Statements[r.Deciding]
		r.Issuer, r.Tier = d.Issuer, d.Tier
		r.Justification, r.ImpactStatement, r.ActionStatement = d.Justification, d.ImpactStatement, d.ActionStatement
	}
	return r
}

// decide applies consensus/v1 to each issuer's newest statement, sorted
// by tier and then newest first.
func decide(r *Result, kept []Considered) {
	decisive := func(st string) bool { return st == StatusAffected || st == StatusNotAffected || st == StatusFixed }
	tier := Tier("")
	for _, c := range kept {
		if decisive(c.Status) {
			tier = c.Tier
			break
		}
	}
	if tier == "" {
		// No decisive statement: under investigation when someone
		// investigates, else unknown.
		r.Status = StatusUnknown
		for i := range kept {
			if i == 0 {
				r.Status, r.Deciding = StatusUnderInvestigation, 0
				kept[i].Role = RoleDecides
			} else {
				kept[i].Role = RoleConcurs
				if kept[i].Tier == kept[0].Tier {
					kept[i].Role = RoleAgrees
				}
			}
		}
		return
	}
	var statuses []string
	for _, c := range kept {
		if c.Tier == tier && decisive(c.Status) && !slices.Contains(statuses, c.Status) {
			statuses = append(statuses, c.Status)
		}
	}
	status := statuses[0]
	if len(statuses) > 1 {
		for _, s := range conservative {
			if slices.Contains(statuses, s) {
				status = s
				break
			}
		}
		r.Status, r.Resolution = StatusConflict, status
	} else {
		r.Status = status
	}
	for i := range kept {
		c := &kept[i]
		switch {
		case c.Tier == tier && c.Status == status && r.Deciding < 0:
			c.Role, r.Deciding = RoleDecides, i
		case c.Status == StatusUnderInvestigation:
			c.Role = RoleInvestigating
		case c.Tier == tier && c.Status == status:
			c.Role = RoleAgrees
		case c.Tier == tier:
			c.Role = RoleConflicts
		case c.Status == status:
			c.Role = RoleConcurs
		default:
			c.Role = RoleDissent
			r.Dissent++
		}
	}
}

// newer reports whether a is newer than b (same issuer): timestamp, then
// document version, then source document digest, then the statement.
func newer(a, b *stmt) bool {
	if c := a.in.Statement.Timestamp.Compare(b.in.Statement.Timestamp); c != 0 {
		return c > 0
	}
	if c := compareVersions(a.in.DocumentVersion, b.in.DocumentVersion); c != 0 {
		return c > 0
	}
	if c := strings.Compare(a.in.Statement.DocumentDigest, b.in.Statement.DocumentDigest); c != 0 {
		return c > 0
	}
	return tieKey(a) > tieKey(b)
}

func tieKey(s *stmt) string {
	b, _ := json.Marshal(s.in)
	return string(b)
}

// compareVersions compares document versions: numbers numerically
// (CSAF versions may be semver: "1.2.0"), else as strings.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y string
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		xn, xerr := strconv.ParseUint(cmp.Or(x, "0"), 10, 64)
		yn, yerr := strconv.ParseUint(cmp.Or(y, "0"), 10, 64)
		if xerr == nil && yerr == nil {
			if c := cmp.Compare(xn, yn); c != 0 {
				return c
			}
			continue
		}
		if c := strings.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func considered(s *stmt, product string) Considered {
	st := &s.in.Statement
	return Considered{
		Issuer: s.issuer, Tier: s.tier, Unlisted: s.unlisted, Signer: s.in.Signer,
		Status: string(st.Status), Justification: string(st.Justification), ImpactStatement: st.ImpactStatement, ActionStatement: st.ActionStatement,
		Timestamp: st.Timestamp.UTC(), Vulnerability: st.Vulnerability, Product: product,
		Origin: cmp.Or(s.in.Origin, OriginStore), Source: s.in.Source,
		DocumentDigest: st.DocumentDigest, DocumentID: st.DocumentID, DocumentVersion: s.in.DocumentVersion,
	}
}

// compareConsidered: most trusted tier first, newest first, then by
// issuer and the rest, a total order.
func compareConsidered(a, b Considered) int {
	if c := cmp.Or(
		cmp.Compare(a.Tier.Rank(), b.Tier.Rank()),
		b.Timestamp.Compare(a.Timestamp),
		strings.Compare(a.Issuer, b.Issuer),
		strings.Compare(a.DocumentDigest, b.DocumentDigest),
		strings.Compare(a.Status, b.Status),
		strings.Compare(a.Product, b.Product),
		strings.Compare(a.Reason, b.Reason),
	); c != 0 {
		return c
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return strings.Compare(string(x), string(y))
}

// primaryID picks the id a vulnerability is shown by: the lowest CVE, else
// the lowest id (as scan does).
func primaryID(ids []string) string {
	best := ""
	for _, id := range ids {
		if strings.HasPrefix(id, "CVE-") && (best == "" || !strings.HasPrefix(best, "CVE-") || id < best) {
			best = id
		}
	}
	if best != "" {
		return best
	}
	if len(ids) == 0 {
		return ""
	}
	return slices.Min(ids)
}
