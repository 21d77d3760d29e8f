//go:build conformance

// Tests against the real-data corpus kept beside the repository (set
// FERRY_CORPUS, or it is looked for at ../../shared/corpus); make
// conformance runs them.

package kit_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corpusGo is the Go vulnerability database of the corpus.
var corpusGo = filepath.Join(cmpOr(os.Getenv("FERRY_CORPUS"), "../../shared/corpus"), "osv", "go")

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestAdvisoriesOSVCorpus(t *testing.T) {
	if _, err := os.Stat(corpusGo); err != nil {
		t.Skip("corpus not available:", err)
	}
	abs, _ := filepath.Abs(corpusGo)
	spec := specIn(t, "name: feeds\nchannel: feeds\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nadvisories:\n  - name: govulndb\n    osv: {dir: "+abs+"}\n")
	res, files := buildAndVerify(t, spec, nil)
	data := files["advisories/govulndb/osv.jsonl"]
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		i := bytes.Index(line, []byte(`"id":"`))
		if i < 0 {
			t.Fatalf("line without id: %.80s", line)
		}
		rest := line[i+6:]
		ids = append(ids, string(rest[:bytes.IndexByte(rest, '"')]))
	}
	if len(ids) != 4291-17 {
		t.Errorf("%d records in the kit, want 4274 (4291 minus 17 withdrawn)", len(ids))
	}
	if !slices.IsSorted(ids) {
		t.Error("records are not sorted by id")
	}
	prov := res.Manifest.Sources[0]
	if prov.Counts["records"] != 4274 || prov.Counts["withdrawn"] != 17 || !strings.HasPrefix(prov.Digest, "sha256:") {
		t.Errorf("provenance %+v", prov)
	}
}
