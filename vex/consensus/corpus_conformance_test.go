//go:build conformance

package consensus_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/vex"
	"github.com/ferry-dev/ferry/vex/consensus"
)

// corpus is the shared real-data corpus.
const corpus = "../../../shared/corpus/vex"

// TestCorpusConsensus runs the consensus over every vexhub document and
// Red Hat's CSAF VEX document of the corpus.
func TestCorpusConsensus(t *testing.T) {
	var inputs []consensus.Input
	add := func(f vex.Format, p string) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := vex.Parse(f, data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, s := range doc.Statements {
			inputs = append(inputs, consensus.Input{Statement: s, DocumentVersion: doc.Version, Source: filepath.Base(p)})
		}
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "openvex/vexhub/*.openvex.json"))
	more, _ := filepath.Glob(filepath.Join(corpus, "openvex/vexhub/*.vex.json"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatalf("no vexhub documents under %s", corpus)
	}
	for _, f := range files {
		add(vex.FormatOpenVEX, f)
	}
	add(vex.FormatCSAF, filepath.Join(corpus, "csaf/redhat/rhsa-2020_1358.json"))
	rep := consensus.Evaluate(inputs, realIssuers(t), consensus.Options{At: realAt})
	if len(rep.Results) < 100 {
		t.Fatalf("%d results, counts %v", len(rep.Results), rep.Counts)
	}
	reasons := map[string]int{}
	for _, r := range rep.Results {
		if r.Status != consensus.StatusUnknown {
			continue
		}
		// A pair some statement names is unknown only when every statement
		// about it was dropped, with a reason.
		if len(r.Statements) == 0 {
			t.Errorf("%s %s: unknown without a statement", r.Vulnerability, r.Product)
		}
		for _, c := range r.Statements {
			if c.Role != consensus.RoleDropped {
				t.Errorf("%s %s: unknown with a live statement %+v", r.Vulnerability, r.Product, c)
			}
			reasons[c.Reason]++
		}
	}
	t.Logf("%d results, counts %v, dropped in unknown pairs %v", len(rep.Results), rep.Counts, reasons)
	if _, err := rep.OpenVEX(); err != nil {
		t.Fatal(err)
	}
	r := consensus.Evaluate(inputs, realIssuers(t), consensus.Options{At: realAt, Queries: []consensus.Query{{
		IDs: []string{"CVE-2020-1711"}, Product: "AppStream-8.1.0.Z.MAIN.EUS:SLOF-0:20171214-6.gitfa98132.module+el8.1.0+4066+0f1aadab.noarch"}}}).Results[0]
	if r.Status != consensus.StatusFixed || r.Issuer != "https://www.redhat.com" || !strings.Contains(r.ActionStatement+r.Statements[0].DocumentDigest, "sha256:") {
		t.Errorf("Red Hat SLOF: %+v", r)
	}
}
