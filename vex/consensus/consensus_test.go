package consensus

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/vex"
	"github.com/google/go-cmp/cmp"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

// reached records the reason codes tests saw in results, so that TestMain
// can insist that each code of Reasons is exercised.
var reached = struct {
	sync.Mutex
	codes map[string]bool
}{codes: map[string]bool{}}

// TestMain runs the tests and then, when the whole suite ran (no -run,
// -skip or -fuzz), fails if a reason code of Reasons was reached by no
// test: every code must have a test that produces it.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	full := flag.Lookup("test.run").Value.String() == "" &&
		flag.Lookup("test.skip").Value.String() == "" &&
		flag.Lookup("test.fuzz").Value.String() == ""
	if code == 0 && full {
		var missing []string
		for _, c := range Reasons {
			if !reached.codes[c] {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: no test reached the reason code(s) %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// record notes every reason code in rep.
func record(rep *Report) {
	reached.Lock()
	defer reached.Unlock()
	for _, r := range rep.Results {
		for _, c := range r.Statements {
			if c.Reason != "" {
				reached.codes[c.Reason] = true
			}
		}
	}
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// st builds a statement; mods adjust it.
func st(vuln, product, issuer string, status openvex.Status, mods ...func(*vex.Statement)) vex.Statement {
	s := vex.Statement{Vulnerability: vuln, Status: status, Issuer: issuer, Timestamp: t0,
		Products: []vex.Product{{ID: product, PURL: purlOf(product)}}, DocumentDigest: "sha256:" + strings.Repeat("0", 63) + "1", DocumentID: "doc"}
	if status == openvex.StatusNotAffected {
		s.Justification = openvex.VulnerableCodeNotPresent
	}
	for _, m := range mods {
		m(&s)
	}
	return s
}

func purlOf(s string) string {
	if strings.HasPrefix(s, "pkg:") {
		return s
	}
	return ""
}

func at(d time.Duration) func(*vex.Statement) {
	return func(s *vex.Statement) { s.Timestamp = t0.Add(d) }
}
func digest(n int) func(*vex.Statement) {
	return func(s *vex.Statement) { s.DocumentDigest = fmt.Sprintf("sha256:%064x", n) }
}
func subs(ids ...string) func(*vex.Statement) {
	return func(s *vex.Statement) {
		for _, id := range ids {
			s.Products[0].Subcomponents = append(s.Products[0].Subcomponents, vex.Product{ID: id, PURL: purlOf(id)}) //nolint
		}
	}
}
func aliases(ids ...string) func(*vex.Statement) {
	return func(s *vex.Statement) { s.Aliases = ids }
}

func in(s vex.Statement) Input { return Input{Statement: s} }

func testIssuers(t *testing.T) *Issuers {
	t.Helper()
	is, err := NewIssuers([]Issuer{
		{ID: "https://vendor.example", Tier: TierVendor},
		{ID: "https://vendor2.example", Tier: TierVendor},
		{ID: "Debian", Tier: TierDistro},
		{ID: "Signed Vendor", Tier: TierVendor, Keys: []string{"key sha256:abcd"}},
		{ID: "Keyless Vendor", Tier: TierVendor, Identities: []Identity{{Issuer: "https://token.actions.githubusercontent.com", SubjectRegexp: `https://github\.com/vendor/.*`}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func one(t *testing.T, inputs []Input, q Query, opts ...func(*Options)) Result {
	t.Helper()
	o := Options{At: t0.Add(24 * time.Hour), Queries: []Query{q}}
	for _, f := range opts {
		f(&o)
	}
	rep := Evaluate(inputs, testIssuers(t), o)
	record(rep)
	if len(rep.Results) != 1 {
		t.Fatalf("want one result, got %d", len(rep.Results))
	}
	return rep.Results[0]
}

const (
	cve  = "CVE-2024-0001"
	goID = "GO-2024-0001"
	pkgA = "pkg:golang/example.com/a@v1.0.0"
)

func roles(r Result) []string {
	var out []string
	for _, c := range r.Statements {
		s := c.Role + ":" + c.Issuer + ":" + c.Status
		if c.Reason != "" {
			s += ":" + c.Reason
		}
		out = append(out, s)
	}
	return out
}

func TestConsensusRules(t *testing.T) {
	q := Query{IDs: []string{cve}, Product: pkgA}
	tests := []struct {
		name       string
		inputs     []Input
		status     string
		resolution string
		issuer     string
		roles      []string
	}{
		{"no statement at all is unknown", nil, StatusUnknown, "", "", nil},
		{"a vendor statement decides over a community one that dissents",
			[]Input{in(st(cve, pkgA, "https://vendor.example", "not_affected")), in(st(cve, pkgA, "someone", "affected"))},
			StatusNotAffected, "", "https://vendor.example",
			[]string{"DECIDES:https://vendor.example:not_affected", "DISSENT:someone:affected"}},
		{"two vendors disagreeing is a conflict resolved as affected",
			[]Input{in(st(cve, pkgA, "https://vendor.example", "not_affected")), in(st(cve, pkgA, "https://vendor2.example", "affected"))},
			StatusConflict, StatusAffected, "https://vendor2.example",
			[]string{"CONFLICTS:https://vendor.example:not_affected", "DECIDES:https://vendor2.example:affected"}},
		{"fixed beats not_affected in a conflict",
			[]Input{in(st(cve, pkgA, "https://vendor.example", "not_affected")), in(st(cve, pkgA, "https://vendor2.example", "fixed"))},
			StatusConflict, StatusFixed, "https://vendor2.example", nil},
		{"under_investigation alone stays under investigation",
			[]Input{in(st(cve, pkgA, "https://vendor.example", "under_investigation"))},
			StatusUnderInvestigation, "", "https://vendor.example", nil},
		{"a lower tier's decisive statement decides over a higher tier still investigating",
			[]Input{in(st(cve, pkgA, "https://vendor.example", "under_investigation")), in(st(cve, pkgA, "Debian", "fixed"))},
			StatusFixed, "", "Debian",
			[]string{"INVESTIGATING:https://vendor.example:under_investigation", "DECIDES:Debian:fixed"}},
		{"the issuer's newest statement counts, the older is superseded",
			[]Input{in(st(cve, pkgA, "https://vendor.example", "affected")), in(st(cve, pkgA, "https://vendor.example", "fixed", at(time.Hour)))},
			StatusFixed, "", "https://vendor.example",
			[]string{"DECIDES:https://vendor.example:fixed", "DROPPED:https://vendor.example:affected:SUPERSEDED"}},
		{"same timestamp: the higher document version is newer",
			[]Input{{Statement: st(cve, pkgA, "https://vendor.example", "affected"), DocumentVersion: "10"}, {Statement: st(cve, pkgA, "https://vendor.example", "fixed", digest(0)), DocumentVersion: "9"}},
			StatusAffected, "", "https://vendor.example", nil},
		{"same timestamp and version: the larger document digest decides (a total order)",
			[]Input{in(st(cve, pkgA, "https://vendor.example", "affected", digest(1))), in(st(cve, pkgA, "https://vendor.example", "fixed", digest(2)))},
			StatusFixed, "", "https://vendor.example", nil},
		{"the site's own statement (self) decides over the vendor",
			[]Input{in(st(cve, pkgA, "https://vendor.example", "affected")), {Statement: st(cve, pkgA, "anyone", "not_affected"), Origin: OriginLocal}},
			StatusNotAffected, "", "local",
			[]string{"DECIDES:local:not_affected", "DISSENT:https://vendor.example:affected"}},
		{"a lower tier agreeing concurs",
			[]Input{in(st(cve, pkgA, "https://vendor.example", "fixed")), in(st(cve, pkgA, "Debian", "fixed"))},
			StatusFixed, "", "https://vendor.example",
			[]string{"DECIDES:https://vendor.example:fixed", "CONCURS:Debian:fixed"}},
		{"a statement signed by a listed key is that issuer's",
			[]Input{{Statement: st(cve, pkgA, "whoever", "not_affected"), Signer: "key sha256:abcd"}, in(st(cve, pkgA, "https://vendor.example", "affected"))},
			StatusConflict, StatusAffected, "https://vendor.example",
			[]string{"CONFLICTS:Signed Vendor:not_affected", "DECIDES:https://vendor.example:affected"}},
		{"a keyless signature matching an identity regexp is that issuer's",
			[]Input{{Statement: st(cve, pkgA, "whoever", "not_affected"), Signer: "https://github.com/vendor/app/.github/workflows/r.yml@refs/heads/main", SignerIssuer: "https://token.actions.githubusercontent.com"}},
			StatusNotAffected, "", "Keyless Vendor", nil},
		{"a signer no issuer lists is an unlisted community issuer",
			[]Input{{Statement: st(cve, pkgA, "Signed Vendor", "not_affected"), Signer: "key sha256:ffff"}, in(st(cve, pkgA, "Debian", "affected"))},
			StatusAffected, "", "Debian", []string{"DECIDES:Debian:affected", "DISSENT:key sha256:ffff:not_affected"}},
		{"an analysis statement decides only when no issuer has",
			[]Input{{Statement: st(cve, pkgA, "ferry:symbols", "not_affected"), Origin: OriginAnalysis}},
			StatusNotAffected, "", "ferry:symbols", nil},
		{"an analysis statement ranks below community",
			[]Input{{Statement: st(cve, pkgA, "ferry:symbols", "not_affected"), Origin: OriginAnalysis}, in(st(cve, pkgA, "someone", "affected"))},
			StatusAffected, "", "someone", []string{"DECIDES:someone:affected", "DISSENT:ferry:symbols:not_affected"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := one(t, tc.inputs, q)
			if r.Status != tc.status || r.Resolution != tc.resolution || r.Issuer != tc.issuer {
				t.Fatalf("got %s/%s by %q, want %s/%s by %q\n%v", r.Status, r.Resolution, r.Issuer, tc.status, tc.resolution, tc.issuer, roles(r))
			}
			if tc.roles != nil {
				if d := cmp.Diff(tc.roles, roles(r)); d != "" {
					t.Errorf("roles (-want +got):\n%s", d)
				}
			}
			if tc.status == StatusUnknown && r.Deciding != -1 {
				t.Errorf("deciding = %d for unknown", r.Deciding)
			}
		})
	}
}

// TestDropped has one named test per reason code.
func TestDropped(t *testing.T) {
	q := Query{IDs: []string{cve}, Product: pkgA}
	tests := []struct {
		name   string
		input  Input
		reason string
	}{
		{"unknown status", in(st(cve, pkgA, "https://vendor.example", "maybe")), ReasonUnknownStatus},
		{"not_affected without justification or impact statement",
			in(st(cve, pkgA, "https://vendor.example", "not_affected", func(s *vex.Statement) { s.Justification = "" })), ReasonUnjustified},
		{"invalid justification", in(st(cve, pkgA, "https://vendor.example", "not_affected", func(s *vex.Statement) { s.Justification = "trust_me" })), ReasonBadJustification},
		{"product that cannot be parsed", in(st(cve, "pkg:%%%", "https://vendor.example", "not_affected")), ReasonInvalidProduct},
		{"unsigned statement naming an issuer that requires a signature", in(st(cve, pkgA, "Signed Vendor", "not_affected")), ReasonSignatureRequired},
		{"statement dated after the evaluation time", in(st(cve, pkgA, "https://vendor.example", "not_affected", at(48*time.Hour))), ReasonFuture},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := one(t, []Input{tc.input}, q)
			if r.Status != StatusUnknown {
				t.Errorf("status %s: a dropped statement must not count", r.Status)
			}
			if len(r.Statements) != 1 || r.Statements[0].Role != RoleDropped || r.Statements[0].Reason != tc.reason {
				t.Fatalf("statements = %v, want one dropped with %s", roles(r), tc.reason)
			}
		})
	}
	t.Run("superseded", func(t *testing.T) {
		r := one(t, []Input{in(st(cve, pkgA, "Debian", "affected")), in(st(cve, pkgA, "Debian", "fixed", at(time.Minute)))}, q)
		if r.Status != StatusFixed || r.Statements[1].Reason != ReasonSuperseded {
			t.Fatalf("%s %v", r.Status, roles(r))
		}
	})
	t.Run("a statement with the analysis tier named in the issuer list is refused", func(t *testing.T) {
		if _, err := NewIssuers([]Issuer{{ID: "x", Tier: TierAnalysis}}); err == nil {
			t.Fatal("want an error")
		}
	})
}

func TestMatching(t *testing.T) {
	image := "sha256:" + strings.Repeat("ab", 32)
	ociImage := "pkg:oci/app@sha256%3A" + strings.Repeat("ab", 32) + "?repository_url=registry.example/app"
	tests := []struct {
		name  string
		stmt  vex.Statement
		q     Query
		alias [][]string
		want  string
	}{
		{"alias join: a statement on the CVE applies to a finding known as GO-…",
			st(cve, pkgA, "Debian", "fixed"), Query{IDs: []string{goID}, Product: pkgA}, [][]string{{goID, "GHSA-xxxx-yyyy-zzzz", cve}}, StatusFixed},
		{"without the alias group the GO id knows nothing",
			st(cve, pkgA, "Debian", "fixed"), Query{IDs: []string{goID}, Product: pkgA}, nil, StatusUnknown},
		{"the statement's own aliases join",
			st(goID, pkgA, "Debian", "fixed", aliases(cve)), Query{IDs: []string{cve}, Product: pkgA}, nil, StatusFixed},
		{"percent-encoded Go module path equals the plain one",
			st(cve, "pkg:golang/golang.org%2Fx%2Ftext", "Debian", "fixed"), Query{IDs: []string{cve}, Product: "pkg:golang/golang.org/x/text@v0.3.0"}, nil, StatusFixed},
		{"PyPI names ignore case and _",
			st(cve, "pkg:pypi/Django_Rest@1.0", "Debian", "fixed"), Query{IDs: []string{cve}, Product: "pkg:pypi/django-rest@1.0"}, nil, StatusFixed},
		{"a version-less purl applies to every version",
			st(cve, "pkg:golang/example.com/a", "Debian", "fixed"), Query{IDs: []string{cve}, Product: pkgA}, nil, StatusFixed},
		{"a purl of another version does not apply",
			st(cve, "pkg:golang/example.com/a@v2.0.0", "Debian", "fixed"), Query{IDs: []string{cve}, Product: pkgA}, nil, StatusUnknown},
		{"qualifiers are ignored when one side has none",
			st(cve, "pkg:deb/debian/curl@7.0?arch=amd64", "Debian", "fixed"), Query{IDs: []string{cve}, Product: "pkg:deb/debian/curl@7.0"}, nil, StatusFixed},
		{"qualifiers both sides have must agree",
			st(cve, "pkg:deb/debian/curl@7.0?arch=amd64", "Debian", "fixed"), Query{IDs: []string{cve}, Product: "pkg:deb/debian/curl@7.0?arch=arm64"}, nil, StatusUnknown},
		{"a statement about an image applies to its packages when it names no subcomponent",
			st(cve, ociImage, "Debian", "not_affected"), Query{IDs: []string{cve}, Product: pkgA, Within: image}, nil, StatusNotAffected},
		{"a statement about one subcomponent of an image does not suppress another package",
			st(cve, ociImage, "Debian", "not_affected", subs("pkg:golang/example.com/b")), Query{IDs: []string{cve}, Product: pkgA, Within: image}, nil, StatusUnknown},
		{"a statement about a subcomponent of an image applies to that package of the image",
			st(cve, ociImage, "Debian", "not_affected", subs("pkg:golang/example.com/a")), Query{IDs: []string{cve}, Product: pkgA, Within: image}, nil, StatusNotAffected},
		{"a statement about a subcomponent of another image does not apply",
			st(cve, "pkg:oci/app@sha256%3A"+strings.Repeat("cd", 32), "Debian", "not_affected", subs("pkg:golang/example.com/a")), Query{IDs: []string{cve}, Product: pkgA, Within: image}, nil, StatusUnknown},
		{"a subcomponent statement does not apply to the package outside the image",
			st(cve, ociImage, "Debian", "not_affected", subs("pkg:golang/example.com/a")), Query{IDs: []string{cve}, Product: pkgA}, nil, StatusUnknown},
		{"a CSAF version range holds the version",
			st(cve, "pkg:npm/left-pad", "Debian", "fixed", func(s *vex.Statement) { s.Products[0].VersionRange = "vers:npm/>=1.0.0|<2.0.0" }), Query{IDs: []string{cve}, Product: "pkg:npm/left-pad@1.5.0"}, nil, StatusFixed},
		{"a CSAF version range that does not hold the version does not apply",
			st(cve, "pkg:npm/left-pad", "Debian", "fixed", func(s *vex.Statement) { s.Products[0].VersionRange = "vers:npm/>=1.0.0|<2.0.0" }), Query{IDs: []string{cve}, Product: "pkg:npm/left-pad@2.0.0"}, nil, StatusUnknown},
		{"an opaque CSAF product id matches exactly",
			st(cve, "RHEL-8:kernel", "Debian", "fixed"), Query{IDs: []string{cve}, Product: "RHEL-8:kernel"}, nil, StatusFixed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := one(t, []Input{in(tc.stmt)}, tc.q, func(o *Options) { o.Aliases = tc.alias })
			if r.Status != tc.want {
				t.Fatalf("status %s, want %s (%v)", r.Status, tc.want, roles(r))
			}
		})
	}
}

// TestSymbolEvidence feeds a statement derived from Go symbol evidence as
// an ordinary input: issuer ferry:symbols, tier analysis.
func TestSymbolEvidence(t *testing.T) {
	sym := Input{Origin: OriginAnalysis, Statement: vex.Statement{
		Vulnerability: goID, Status: openvex.StatusNotAffected, Justification: openvex.VulnerableCodeNotPresent,
		ImpactStatement: "none of the vulnerable symbols (text/language.Parse) is in the binary",
		Issuer:          "ferry:symbols", Timestamp: t0, Products: []vex.Product{{ID: pkgA, PURL: pkgA}},
	}}
	r := one(t, []Input{sym}, Query{IDs: []string{cve}, Product: pkgA}, func(o *Options) { o.Aliases = [][]string{{cve, goID}} })
	if r.Status != StatusNotAffected || r.Tier != TierAnalysis || r.Issuer != "ferry:symbols" || r.Justification != string(openvex.VulnerableCodeNotPresent) {
		t.Fatalf("got %+v", r)
	}
}

func TestEnumeratesPairs(t *testing.T) {
	inputs := []Input{
		in(st(cve, "pkg:oci/app@sha256%3A"+strings.Repeat("ab", 32), "Debian", "not_affected", subs("pkg:golang/example.com/b"))),
		in(st(cve, pkgA, "Debian", "fixed")),
		in(st("CVE-2024-0002", pkgA, "Debian", "under_investigation")),
	}
	rep := Evaluate(inputs, nil, Options{})
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.Vulnerability+" "+r.Within+" "+r.Product+" "+r.Status)
	}
	want := []string{
		"CVE-2024-0001  pkg:golang/example.com/a@v1.0.0 fixed",
		"CVE-2024-0001 pkg:oci/app@sha256:" + strings.Repeat("ab", 32) + " pkg:golang/example.com/b not_affected",
		"CVE-2024-0002  pkg:golang/example.com/a@v1.0.0 under_investigation",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	if rep.Counts[StatusFixed] != 1 || rep.Counts[StatusUnknown] != 0 {
		t.Errorf("counts %v", rep.Counts)
	}
}

// TestShuffle shuffles the input statements (and so the documents they
// come from) 1,000 times: the consensus JSON and the export must not
// change.
func TestShuffle(t *testing.T) {
	inputs := benchInputs(200, 8, 40)
	is := benchIssuers(t, 8)
	opts := Options{At: t0.Add(1000 * time.Hour)}
	var want bytes.Buffer
	first := Evaluate(inputs, is, opts)
	if err := first.WriteJSON(&want); err != nil {
		t.Fatal(err)
	}
	wantExport, err := first.OpenVEX()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 1000
	if testing.Short() {
		n = 50
	}
	for i := range n {
		shuffled := slices.Clone(inputs)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		var got bytes.Buffer
		rep := Evaluate(shuffled, is, opts)
		if err := rep.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want.Bytes(), got.Bytes()) {
			t.Fatalf("shuffle %d gives other bytes", i)
		}
		export, err := rep.OpenVEX()
		if err != nil || !bytes.Equal(wantExport, export) {
			t.Fatalf("shuffle %d gives another export (%v)", i, err)
		}
	}
}

// benchInputs makes n statements from issuers issuers over pairs pairs,
// with every status and some ties, deterministically.
func benchInputs(n, issuers, pairs int) []Input {
	rng := rand.New(rand.NewPCG(7, 7))
	statuses := []openvex.Status{"affected", "not_affected", "fixed", "under_investigation"}
	out := make([]Input, 0, n)
	for i := range n {
		p := rng.IntN(pairs)
		s := vex.Statement{
			Vulnerability:  fmt.Sprintf("CVE-2024-%05d", p%(pairs/4+1)),
			Status:         statuses[rng.IntN(len(statuses))],
			Issuer:         fmt.Sprintf("issuer-%02d", rng.IntN(issuers)),
			Timestamp:      t0.Add(time.Duration(rng.IntN(50)) * time.Hour),
			Products:       []vex.Product{{ID: fmt.Sprintf("pkg:golang/example.com/m%d@v1.%d.0", p, p%3), PURL: fmt.Sprintf("pkg:golang/example.com/m%d@v1.%d.0", p, p%3)}},
			DocumentDigest: fmt.Sprintf("sha256:%064x", rng.IntN(n/10+1)),
		}
		if s.Status == openvex.StatusNotAffected {
			s.Justification = openvex.ComponentNotPresent
		}
		if i%97 == 0 {
			s.Aliases = []string{fmt.Sprintf("GHSA-%04d", p)}
		}
		out = append(out, Input{Statement: s, DocumentVersion: fmt.Sprint(rng.IntN(3))})
	}
	return out
}

func benchIssuers(tb testing.TB, n int) *Issuers {
	tiers := []Tier{TierVendor, TierDistro, TierCommunity}
	var list []Issuer
	for i := range n {
		if i%5 == 4 {
			continue // unlisted
		}
		list = append(list, Issuer{ID: fmt.Sprintf("issuer-%02d", i), Tier: tiers[i%3]})
	}
	is, err := NewIssuers(list)
	if err != nil {
		tb.Fatal(err)
	}
	return is
}

// BenchmarkConsensus: 100,000 statements from 50 issuers over 10,000
// (vulnerability, product) pairs.
func BenchmarkConsensus(b *testing.B) {
	inputs := benchInputs(100_000, 50, 10_000)
	is := benchIssuers(b, 50)
	b.ReportAllocs()
	for b.Loop() {
		rep := Evaluate(inputs, is, Options{At: t0.Add(1000 * time.Hour)})
		if len(rep.Results) == 0 {
			b.Fatal("no results")
		}
	}
}

// TestKnows: Knows is true for a vulnerability a statement names, or an
// alias of one, and false for one no statement names, aliases given in
// Options included; a query it does not know evaluates to unknown with no
// statements and no deciding statement, whatever the product.
func TestKnows(t *testing.T) {
	inputs := []Input{in(st(cve, pkgA, "https://vendor.example", openvex.StatusNotAffected, aliases(goID)))}
	e := New(inputs, testIssuers(t), Options{At: t0.Add(24 * time.Hour),
		Aliases: [][]string{{"GHSA-aaaa-aaaa-aaaa", goID}, {"CVE-2024-9999", "GO-2024-9999"}, {"CVE-2024-8888"}}})
	for _, ids := range [][]string{{cve}, {goID}, {"GHSA-xxxx-xxxx-xxxx", goID}, {"GHSA-aaaa-aaaa-aaaa"}} {
		if !e.Knows(ids) {
			t.Errorf("Knows(%q) = false, want true", ids)
		}
	}
	for _, ids := range [][]string{nil, {"CVE-2024-9999"}, {"GO-2024-9999", "GHSA-yyyy-yyyy-yyyy"}, {"CVE-2024-8888"}, {"CVE-2024-9999", cve}} {
		if e.Knows(ids) {
			t.Errorf("Knows(%q) = true, want false", ids)
		}
		for _, product := range []string{pkgA, "pkg:deb/debian/openssl@3.0.11-1?arch=amd64", "not a purl", ""} {
			r := e.Evaluate(Query{IDs: ids, Product: product})
			if r.Status != StatusUnknown || r.Deciding != -1 || len(r.Statements) != 0 || r.Dissent != 0 || r.Issuer != "" || r.Tier != "" ||
				r.Resolution != "" || r.Justification != "" || r.ImpactStatement != "" || r.ActionStatement != "" {
				t.Errorf("Evaluate(%q, %q) = %+v, want unknown with no statements", ids, product, r)
			}
		}
	}
}
