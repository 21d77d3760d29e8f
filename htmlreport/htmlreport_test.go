package htmlreport

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/gate"
	"github.com/ferry-dev/ferry/verify"
)

func failedReport() *verify.Report {
	created := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	return &verify.Report{
		Schema: verify.ReportSchema, CheckedAt: created.Add(72 * time.Hour), Name: "acme", Channel: "acme-feeds", Version: 3,
		Created: &created, SignerKeyIDs: []string{"abc123"}, Counts: map[string]verify.TypeCount{"vex": {Files: 1, Bytes: 9}, "advisories": {Files: 2, Bytes: 40}},
		Failures: []verify.Failure{
			{Code: bundle.CodeDigestMismatch, Entry: "advisories/osv/<evil>.json", Message: "sha256 is 00, want 11"},
			{Code: bundle.CodeSignatureInvalid, Entry: "trust/sigstore/metadata/2.root.json", Message: "carried TUF repository does not re-verify"},
		},
	}
}

func render1(t *testing.T, f func(*bytes.Buffer) error) string {
	t.Helper()
	var a, b bytes.Buffer
	if err := f(&a); err != nil {
		t.Fatal(err)
	}
	if err := f(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two renderings of the same input differ")
	}
	return a.String()
}

func TestVerifyFailed(t *testing.T) {
	rep := failedReport()
	out := render1(t, func(b *bytes.Buffer) error {
		return Verify(b, VerifyInput{Kit: "acme-3.kit.tar.zst", Report: rep, Trust: "the root root.json", FerryVersion: "test"})
	})
	for _, w := range []string{
		"FAILED", "2 failures (KIT_DIGEST_MISMATCH, KIT_SIGNATURE_INVALID)",
		"advisories/osv/&lt;evil&gt;.json", // escaped, never markup
		`<span class="status bad">FAIL</span></td><td>Every file has the signed length and sha256`,
		`<span class="status bad">FAIL</span></td><td>Carried trust re-verifies`,
		// The signature check itself did not fail: the carried one did.
		`<span class="status warn">NOT PROVEN</span></td><td>TUF metadata signatures verify`,
		"docs/runbooks/security-officer.md",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q", w)
		}
	}
	if strings.Contains(out, "<evil>") {
		t.Error("an entry name went into the page unescaped")
	}
	if strings.Index(out, "advisories</td>") > strings.Index(out, "vex</td>") {
		t.Error("content types are not sorted")
	}
}

func TestVerifyStoreChanges(t *testing.T) {
	rep := failedReport()
	rep.OK, rep.Failures = true, nil
	rep.Base = &bundle.Base{Channel: "acme-feeds", Version: 2}
	out := render1(t, func(b *bytes.Buffer) error {
		return Verify(b, VerifyInput{Kit: "k", Report: rep, Store: &StoreVersion{Dir: "/srv/ferry", Known: true, Version: 2,
			Types: map[string]verify.TypeCount{"advisories": {Files: 1, Bytes: 20}, "images": {Files: 5, Bytes: 500}}}})
	})
	for _, w := range []string{"VERIFIED", "holds version 2 of channel acme-feeds", "This kit is a delta",
		"&#43;1 files, &#43;20 bytes", "not in the delta (unchanged)", "new in this kit"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q", w)
		}
	}
}

func TestDecision(t *testing.T) {
	epss := 0.42
	rec := &gate.Record{
		Schema:  gate.RecordSchema,
		Verdict: gate.VerdictBlock,
		Reasons: []string{"GATE_KEV: 1 finding in KEV"},
		Inputs: gate.Inputs{
			Subject:  gate.Subject{Ref: "oci:./app", Digest: "sha256:feed", Kind: "image"},
			Channels: []gate.Channel{{Name: "feeds", Version: 7, TargetsSHA256: "beef", Kinds: []string{"advisories", "vex"}}},
			Policy:   gate.PolicyRef{Name: "policy.yaml", Digest: "sha256:0011"},
		},
		Rules: []gate.RuleOutcome{{Rule: "kev", Code: gate.CodeKEV, Outcome: gate.OutcomeBlock, Summary: "1 finding in KEV"}},
		Findings: []gate.FindingOutcome{{
			Finding:  gate.Finding{ID: "CVE-2026-1", IDs: []string{"CVE-2026-1", "GHSA-x"}, Package: gate.Package{Name: "lib", Version: "1.0", Ecosystem: "Go", PURL: "pkg:golang/lib@1.0"}, Severity: "HIGH", KEV: true, EPSS: &epss},
			Blocking: []string{"kev"},
		}},
	}
	canon, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := render1(t, func(b *bytes.Buffer) error {
		return Decision(b, DecisionInput{Record: rec, Canonical: canon, RecordFile: "d.json", Envelope: "d.intoto.jsonl"})
	})
	for _, w := range []string{"Gate decision: BLOCK", "GATE_KEV", "CVE-2026-1", "(GHSA-x)", "in CISA KEV, EPSS 0.420",
		"- vuln: CVE-2026-1", "product: pkg:golang/lib", gate.ID(canon), "ferry gate verify d.intoto.jsonl --key GATE.pub --record d.json",
		"sha256:beef", "ferry gate replay d.json --store DIR"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q", w)
		}
	}
}
