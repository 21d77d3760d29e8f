package gate

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

	"github.com/google/go-cmp/cmp"
)

// blocked records every rule code some test saw block, so that TestMain can
// insist each code has a test that produces it.
var blocked = struct {
	sync.Mutex
	codes map[Code]bool
}{codes: map[Code]bool{}}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	full := flag.Lookup("test.run").Value.String() == "" &&
		flag.Lookup("test.skip").Value.String() == "" &&
		flag.Lookup("test.fuzz").Value.String() == ""
	if code == 0 && full {
		var missing []string
		for _, c := range Codes {
			if !blocked.codes[c] {
				missing = append(missing, string(c))
			}
		}
		if len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: no test made the rule(s) %s block\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func mustPolicy(t testing.TB, src string) *Policy {
	t.Helper()
	p, err := ParsePolicy("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func contractPolicy(t testing.TB) *Policy {
	t.Helper()
	data, err := os.ReadFile("testdata/contract.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy("testdata/contract.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func epss(p float64) *float64 { return &p }

// demoFindings are the findings of a small vulnerable Go program.
func demoFindings() []Finding {
	return []Finding{
		{ID: "GO-2021-0113", IDs: []string{"CVE-2021-38561", "GO-2021-0113"}, Severity: "HIGH", Fixed: "v0.3.7",
			Package:   Package{Name: "golang.org/x/text", Version: "v0.3.5", Ecosystem: "Go", PURL: "pkg:golang/golang.org/x/text@v0.3.5"},
			Consensus: Consensus{Status: StatusUnknown}},
		{ID: "GO-2022-1059", IDs: []string{"CVE-2022-32149", "GO-2022-1059"}, Severity: "HIGH", Fixed: "v0.3.8", KEV: true, EPSS: epss(0.02),
			Package:   Package{Name: "golang.org/x/text", Version: "v0.3.5", Ecosystem: "Go", PURL: "pkg:golang/golang.org/x/text@v0.3.5"},
			Consensus: Consensus{Status: StatusAffected, Issuer: "acme", Tier: "vendor", Document: "sha256:aa"}},
		{ID: "GO-2020-0015", IDs: []string{"CVE-2020-14040", "GO-2020-0015"}, Severity: "MEDIUM", Fixed: "v0.3.3",
			Package:   Package{Name: "golang.org/x/text", Version: "v0.3.5", Ecosystem: "Go", PURL: "pkg:golang/golang.org/x/text@v0.3.5"},
			Consensus: Consensus{Status: StatusFixed, Issuer: "acme", Tier: "vendor", Document: "sha256:aa"}},
	}
}

func baseInput(t testing.TB, p *Policy) Input {
	return Input{
		Subject:      Subject{Ref: "sha256:1111", Digest: "sha256:1111", Kind: "image"},
		Channels:     []Channel{{Name: "acme-feeds", Version: 7, TargetsSHA256: "ab", Created: now.Add(-48 * time.Hour), Kinds: []string{"vex", "advisories"}}},
		Policy:       p,
		At:           now,
		FerryVersion: "test",
		Consensus:    "consensus/v1",
		Findings:     demoFindings(),
	}
}

func evaluate(t testing.TB, in Input) *Record {
	t.Helper()
	rec, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	blocked.Lock()
	for _, r := range rec.Rules {
		if r.Outcome == OutcomeBlock {
			blocked.codes[r.Code] = true
		}
	}
	blocked.Unlock()
	return rec
}

func rule(rec *Record, c Code) RuleOutcome {
	for _, r := range rec.Rules {
		if r.Code == c {
			return r
		}
	}
	return RuleOutcome{}
}

func blockingCodes(rec *Record) []Code {
	var out []Code
	for _, r := range rec.Rules {
		if r.Outcome == OutcomeBlock {
			out = append(out, r.Code)
		}
	}
	return out
}

// The story of the bar, on the contract policy: blocked with reasons; a
// vendor not_affected removes exactly that finding; a waiver for the rest
// passes; past the waiver's expiry it blocks again.
func TestGateStory(t *testing.T) {
	p := mustPolicy(t, `apiVersion: ferry.dev/policy/v1
default:
  block: {severity: high, kev: true}
  unknowns: {max: 10}
waivers:
  - vuln: CVE-2021-38561
    product: pkg:golang/golang.org/x/text
    expires: 2027-01-01T00:00:00Z
    reason: not reachable, see ticket SEC-1234
    approver: security@example.com
`)
	in := baseInput(t, p)
	in.Policy = mustPolicy(t, "apiVersion: ferry.dev/policy/v1\ndefault: {block: {severity: high, kev: true}, unknowns: {max: 10}}\n")

	rec := evaluate(t, in)
	if rec.Verdict != VerdictBlock {
		t.Fatalf("verdict %s", rec.Verdict)
	}
	if diff := cmp.Diff([]Code{CodeSeverity, CodeKEV}, blockingCodes(rec)); diff != "" {
		t.Errorf("blocking rules (-want +got):\n%s", diff)
	}
	sev := rule(rec, CodeSeverity)
	want := []string{"GO-2021-0113 pkg:golang/golang.org/x/text@v0.3.5", "GO-2022-1059 pkg:golang/golang.org/x/text@v0.3.5"}
	if diff := cmp.Diff(want, sev.Findings); diff != "" {
		t.Errorf("severity findings (-want +got):\n%s", diff)
	}
	if sev.Summary != "2 findings at or above HIGH (affected, conflict, under_investigation or unknown); 0 allowed" {
		t.Errorf("summary %q", sev.Summary)
	}
	if len(rec.Reasons) != 2 || !strings.HasPrefix(rec.Reasons[0], "GATE_SEVERITY: 2 findings") {
		t.Errorf("reasons %q", rec.Reasons)
	}

	// A vendor's not_affected for GO-2022-1059 removes exactly that one.
	in.Findings[1].Consensus = Consensus{Status: StatusNotAffected, Justification: "vulnerable_code_not_in_execute_path", Issuer: "acme", Tier: "vendor", Document: "sha256:bb"}
	rec = evaluate(t, in)
	if diff := cmp.Diff(want[:1], rule(rec, CodeSeverity).Findings); diff != "" {
		t.Errorf("after VEX (-want +got):\n%s", diff)
	}
	if rule(rec, CodeKEV).Outcome != OutcomePass {
		t.Errorf("a not_affected KEV finding must not block: %+v", rule(rec, CodeKEV))
	}

	// A waiver (by alias, version-less product) for the rest: pass.
	in.Policy = p
	rec = evaluate(t, in)
	if rec.Verdict != VerdictPass {
		t.Fatalf("with the waiver: %s %q", rec.Verdict, rec.Reasons)
	}
	if rec.Waivers[0].Status != WaiverApplied || !rec.Findings[slices.IndexFunc(rec.Findings, func(f FindingOutcome) bool { return f.ID == "GO-2021-0113" })].Waived {
		t.Errorf("waiver outcome %+v", rec.Waivers)
	}

	// Past its expiry the waiver stops applying and the record says so.
	in.At = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	in.Channels[0].Created = in.At.Add(-time.Hour)
	rec = evaluate(t, in)
	if rec.Verdict != VerdictBlock || rec.Waivers[0].Status != WaiverExpired {
		t.Fatalf("after expiry: %s, waiver %s", rec.Verdict, rec.Waivers[0].Status)
	}
	i := slices.IndexFunc(rec.Findings, func(f FindingOutcome) bool { return f.ID == "GO-2021-0113" })
	if f := rec.Findings[i]; f.Waived || len(f.Notes) == 0 || !strings.Contains(f.Notes[0], "expired 2027-01-01T00:00:00Z") {
		t.Errorf("expired waiver on the finding: %+v", f)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	in := baseInput(t, contractPolicy(t))
	in.Findings[1].Consensus.Status = StatusNotAffected
	in.Findings[0].Consensus.Status = StatusAffected
	in.Findings[0].Severity = "MEDIUM"
	in.At = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	in.Channels[0].Created = in.At
	in.Findings[0].IDs = []string{"CVE-X", "GO-X"}
	in.Findings[0].ID = "GO-X"
	if rec := evaluate(t, in); rec.Verdict != VerdictPass {
		t.Errorf("default environment: a MEDIUM finding passes under severity high: %q", rec.Reasons)
	}
	in.Environment = "prod"
	rec := evaluate(t, in)
	if rec.Verdict != VerdictBlock || rule(rec, CodeSeverity).Count != 1 {
		t.Errorf("prod blocks MEDIUM: %s %q", rec.Verdict, rec.Reasons)
	}
	if rec.Inputs.Rules.Severity != "MEDIUM" || rec.Inputs.Environment != "prod" {
		t.Errorf("the record carries the resolved rules: %+v", rec.Inputs.Rules)
	}
}

func TestUnknownsBudget(t *testing.T) {
	in := baseInput(t, mustPolicy(t, "apiVersion: ferry.dev/policy/v1\ndefault: {unknowns: {max: 1, medium: 0}}\n"))
	for i := range in.Findings {
		in.Findings[i].Consensus = Consensus{Status: StatusUnknown}
	}
	rec := evaluate(t, in)
	u := rule(rec, CodeUnknowns)
	if u.Outcome != OutcomeBlock || u.Count != 3 || *u.Limit != 1 {
		t.Fatalf("unknowns: %+v", u)
	}
	if u.Summary != "3 unknown > budget 1; 1 unknown MEDIUM > budget 0 (findings no VEX issuer has spoken about)" {
		t.Errorf("summary %q", u.Summary)
	}
	// Within the overall budget, the per-severity budget alone blocks.
	in.Findings = in.Findings[1:]
	in.Findings[0].Consensus.Status = StatusAffected
	rec = evaluate(t, in)
	if u := rule(rec, CodeUnknowns); u.Outcome != OutcomeBlock || len(u.Findings) != 1 || !strings.HasPrefix(u.Findings[0], "GO-2020-0015") {
		t.Errorf("per-severity: %+v", u)
	}
}

func TestAnalysisSuppression(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprint("analysis=", allow), func(t *testing.T) {
			in := baseInput(t, mustPolicy(t, fmt.Sprintf("apiVersion: ferry.dev/policy/v1\ndefault: {block: {severity: high}, vex: {analysis: %v}}\n", allow)))
			in.Findings = in.Findings[:1]
			in.Findings[0].Consensus = Consensus{Status: StatusNotAffected, Justification: "vulnerable_code_not_present", Issuer: "ferry:symbols", Tier: TierAnalysis}
			in.Findings[0].Evidence = "module"
			rec := evaluate(t, in)
			if allow != (rec.Verdict == VerdictPass) {
				t.Errorf("verdict %s", rec.Verdict)
			}
			if !allow && rec.Findings[0].Effective != StatusUnknown {
				t.Errorf("refused analysis counts as unknown, got %s", rec.Findings[0].Effective)
			}
		})
	}
}

func TestConflictAndInvestigationBlock(t *testing.T) {
	for _, st := range []string{StatusConflict, StatusUnderInvestigation, StatusAffected, StatusUnknown, ""} {
		in := baseInput(t, mustPolicy(t, "apiVersion: ferry.dev/policy/v1\ndefault: {block: {severity: low}}\n"))
		in.Findings = in.Findings[:1]
		in.Findings[0].Consensus = Consensus{Status: st, Resolution: StatusAffected}
		if rec := evaluate(t, in); rec.Verdict != VerdictBlock {
			t.Errorf("status %q must block", st)
		}
	}
	for _, st := range []string{StatusNotAffected, StatusFixed} {
		in := baseInput(t, mustPolicy(t, "apiVersion: ferry.dev/policy/v1\ndefault: {block: {severity: low}}\n"))
		in.Findings = in.Findings[:1]
		in.Findings[0].Consensus = Consensus{Status: st, Tier: "vendor"}
		if rec := evaluate(t, in); rec.Verdict != VerdictPass {
			t.Errorf("status %q must not block", st)
		}
	}
}

func TestEPSS(t *testing.T) {
	in := baseInput(t, mustPolicy(t, "apiVersion: ferry.dev/policy/v1\ndefault: {block: {epss: 0.01}}\n"))
	rec := evaluate(t, in)
	if e := rule(rec, CodeEPSS); e.Outcome != OutcomeBlock || e.Count != 1 {
		t.Errorf("epss: %+v", e)
	}
	in.Policy = mustPolicy(t, "apiVersion: ferry.dev/policy/v1\ndefault: {block: {epss: 0.5}}\n")
	if e := rule(evaluate(t, in), CodeEPSS); e.Outcome != OutcomePass {
		t.Errorf("epss 0.02 < 0.5: %+v", e)
	}
}

func TestCoverageFailsClosed(t *testing.T) {
	in := baseInput(t, mustPolicy(t, "apiVersion: ferry.dev/policy/v1\n"))
	in.Findings = nil
	in.NoAdvisoryData = []string{"npm", "PyPI"}
	rec := evaluate(t, in)
	if rec.Verdict != VerdictBlock || rule(rec, CodeNoAdvisoryData).Summary != "no advisories in the store for PyPI, npm: those packages were not checked" {
		t.Errorf("%s %+v", rec.Verdict, rule(rec, CodeNoAdvisoryData))
	}
}

func TestSignatureChecks(t *testing.T) {
	p := mustPolicy(t, `apiVersion: ferry.dev/policy/v1
default:
  signatures: [{key: cosign.pub}]
  attestations: [{predicateType: https://slsa.dev/provenance/v1, identity: builder, issuer: https://issuer}]
`)
	in := baseInput(t, p)
	in.SignatureChecks = []Check{{Requirement: "key cosign.pub", Verified: false, Detail: "no signature"}}
	in.AttestationChecks = []Check{{Requirement: "builder (issuer https://issuer)", PredicateType: "https://slsa.dev/provenance/v1", Verified: false, Detail: "no attestation"}}
	rec := evaluate(t, in)
	if !rec.VerificationFailed() || rec.Verdict != VerdictBlock {
		t.Fatalf("unsigned image: %s", rec.Verdict)
	}
	if diff := cmp.Diff([]Code{CodeSignature, CodeAttestation}, blockingCodes(rec)); diff != "" {
		t.Error(diff)
	}
	in.SignatureChecks[0].Verified = true
	in.AttestationChecks[0].Verified = true
	if rec := evaluate(t, in); rec.VerificationFailed() || rec.Verdict != VerdictPass {
		t.Errorf("signed image: %s %q", rec.Verdict, rec.Reasons)
	}
	in.SignatureChecks = nil
	if _, err := Evaluate(in); err == nil {
		t.Error("checks that do not match the policy's requirements must be refused")
	}
}

func TestDataAge(t *testing.T) {
	in := baseInput(t, mustPolicy(t, "apiVersion: ferry.dev/policy/v1\ndefault: {maxAge: {advisories: 1d, vex: 3d}}\n"))
	rec := evaluate(t, in)
	a := rule(rec, CodeDataAge)
	if a.Outcome != OutcomeBlock || a.Summary != "advisories data is 2d old > 1d" {
		t.Errorf("data age: %+v", a)
	}
	// The time the data was fetched, where the kit says, counts.
	in.Channels[0].DataTimes = []DataTime{{Kind: "advisories", Time: now.Add(-12 * time.Hour)}}
	if a := rule(evaluate(t, in), CodeDataAge); a.Outcome != OutcomePass || a.Summary != "advisories 12h0m0s old ≤ 1d; vex 2d old ≤ 3d" {
		t.Errorf("data times: %+v", a)
	}
	in.Policy = mustPolicy(t, "apiVersion: ferry.dev/policy/v1\ndefault: {maxAge: {enrich: 30d}}\n")
	if a := rule(evaluate(t, in), CodeDataAge); a.Outcome != OutcomeBlock || a.Summary != "no enrich data in the store (limit 30d)" {
		t.Errorf("absent data: %+v", a)
	}
}

// Every rule is evaluated, whatever blocks first, in the documented order.
func TestAllRulesEvaluatedInOrder(t *testing.T) {
	in := baseInput(t, contractPolicy(t))
	in.NoAdvisoryData = []string{"npm"}
	rec := evaluate(t, in)
	var got []Code
	for _, r := range rec.Rules {
		got = append(got, r.Code)
	}
	if diff := cmp.Diff(Codes, got); diff != "" {
		t.Error(diff)
	}
}

// Same inputs in any order give the same bytes.
func TestRecordDeterministic(t *testing.T) {
	in := baseInput(t, contractPolicy(t))
	first, err := evaluate(t, in).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		in := baseInput(t, contractPolicy(t))
		r.Shuffle(len(in.Findings), func(i, j int) { in.Findings[i], in.Findings[j] = in.Findings[j], in.Findings[i] })
		for k := range in.Findings {
			ids := in.Findings[k].IDs
			r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		}
		in.At = in.At.In(time.FixedZone("X", 3600))
		b, err := evaluate(t, in).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, b) {
			t.Fatalf("shuffle %d gave other bytes", i)
		}
	}
	rec, err := ParseRecord(first)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := rec.Marshal()
	if !bytes.Equal(first, again) {
		t.Error("a parsed record does not marshal to the same bytes")
	}
}

func TestParseRecordRefusesEdits(t *testing.T) {
	canon, err := evaluate(t, baseInput(t, contractPolicy(t))).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][]byte{
		"whitespace":    bytes.Replace(canon, []byte(`{"findings"`), []byte(`{ "findings"`), 1),
		"unknown field": bytes.Replace(canon, []byte(`{"findings"`), []byte(`{"extra":1,"findings"`), 1),
		"truncated":     canon[:len(canon)-1],
		"other schema":  bytes.Replace(canon, []byte(RecordSchema), []byte("https://example.com/v9"), 1),
		"key order":     bytes.Replace(canon, []byte(`"verdict":"block"`), []byte(`"verdict":"block","waivers":[]`), 1),
	} {
		if _, err := ParseRecord(edit); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
