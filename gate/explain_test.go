package gate

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestExplain(t *testing.T) {
	in := baseInput(t, contractPolicy(t))
	in.Environment = "prod"
	rec := evaluate(t, in)
	canon, _ := rec.Marshal()
	var text bytes.Buffer
	if err := Explain(&text, rec, canon, "text", "out/decision.json"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Verdict: BLOCK",
		"Decision: " + ID(canon),
		"environment prod",
		fmt.Sprintf("%-5s %-22s %s", "BLOCK", CodeSeverity, "1 finding at or above MEDIUM"),
		fmt.Sprintf("%-5s %-22s %s", "BLOCK", CodeKEV, "1 finding in CISA's Known Exploited Vulnerabilities catalog; 0 allowed"),
		"GO-2022-1059 (CVE-2022-32149)",
		"package:   golang.org/x/text v0.3.5 (Go), fixed in v0.3.8",
		"severity:  HIGH, in CISA KEV, EPSS 0.020",
		"consensus: affected on the word of acme (tier vendor, document sha256:aa)",
		"blocks:    severity, kev",
		"product: pkg:golang/golang.org/x/text\n",
		"environments: [prod]",
		"Waived (1)",
		"ferry gate replay out/decision.json --store DIR",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text explanation lacks %q:\n%s", want, text.String())
		}
	}
	var md bytes.Buffer
	if err := Explain(&md, rec, canon, "markdown", ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## ferry gate: BLOCK", "### GO-2022-1059 (CVE-2022-32149)", "```yaml\n- vuln: GO-2022-1059", "- **BLOCK** `GATE_KEV`"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if err := Explain(&md, rec, canon, "html", ""); err == nil {
		t.Error("an unknown format is accepted")
	}
}

func TestCompare(t *testing.T) {
	in := baseInput(t, contractPolicy(t))
	old := evaluate(t, in)
	oc, _ := old.Marshal()
	if d := Compare(old, old, oc, oc); !d.Identical || len(d.Inputs) != 0 {
		t.Errorf("a record against itself: %+v", d)
	}
	in.Channels[0].Version = 8
	in.At = in.At.Add(time.Hour)
	in.Findings[1].Consensus = Consensus{Status: StatusNotAffected, Issuer: "acme", Tier: "vendor", Document: "sha256:cc", Justification: "component_not_present"}
	in.Findings = append(in.Findings[1:], Finding{ID: "GO-2024-1", IDs: []string{"GO-2024-1"}, Severity: "LOW",
		Package: Package{Name: "x", Version: "1", Ecosystem: "Go", PURL: "pkg:golang/x@1"}})
	nw := evaluate(t, in)
	nc, _ := nw.Marshal()
	d := Compare(old, nw, oc, nc)
	if d.Identical || d.Verdict.Old != "block" || d.Verdict.New != "pass" {
		t.Errorf("verdict %+v", d.Verdict)
	}
	if len(d.Inputs) != 2 || d.Inputs[0] != "channel acme-feeds v7 → v8" {
		t.Errorf("inputs %q", d.Inputs)
	}
	if len(d.Added) != 1 || d.Added[0] != "GO-2024-1 pkg:golang/x@1" ||
		len(d.Removed) != 1 || d.Removed[0] != "GO-2021-0113 pkg:golang/golang.org/x/text@v0.3.5" {
		t.Errorf("added %q removed %q", d.Added, d.Removed)
	}
	if len(d.Changed) != 1 || d.Changed[0].What["consensus"] != (Change{"affected", "not_affected"}) ||
		d.Changed[0].What["decidedBy"].New != "acme (vendor) sha256:cc" {
		t.Errorf("changed %+v", d.Changed)
	}
	var b bytes.Buffer
	if err := WriteDiff(&b, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "+ GO-2024-1 pkg:golang/x@1") || !strings.Contains(b.String(), "rule GATE_KEV: block → pass (1 → 0)") {
		t.Errorf("diff text:\n%s", b.String())
	}
	ptrs, err := Pointers(oc, nc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ptrs) == 0 || ptrs[0] == "/" {
		t.Errorf("pointers %q", ptrs)
	}
	for _, p := range ptrs {
		if p == "/inputs/channels/0/version" {
			return
		}
	}
	t.Errorf("pointers %q lack /inputs/channels/0/version", ptrs)
}
