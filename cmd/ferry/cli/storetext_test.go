package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/enrich"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/verify"
	"github.com/ferry-dev/ferry/vex"
)

func testInfo() *store.Info {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	return &store.Info{
		Schema: store.InfoSchema, Dir: "/srv/ferry", SchemaVersion: 3, At: at, Imports: 2,
		Channels: []store.ChannelInfo{{
			Channel: "feeds", Name: "feeds-7", Version: 7, Created: at.Add(-72 * time.Hour), Expires: at.Add(-time.Hour), Expired: true,
			Types: []store.TypeInfo{
				{Type: "advisories", Files: 1, Bytes: 10, DataTime: at.Add(-10 * 24 * time.Hour), AgeSeconds: 10 * 24 * 3600, Budget: "7d", Freshness: store.FreshStale},
				{Type: "kit", Files: 1, Bytes: 2, Freshness: store.FreshNoBudget},
			},
			Sources: []store.SourceCounts{
				{Name: "govulndb", Kind: "advisories", Files: 1, Bytes: 10, Counts: map[string]int{"withdrawn": 17, "records": 4274, "skipped": 0}},
				{Name: "none", Kind: "files"},
			},
			TUF: []store.TUFInfo{
				{TUFStatus: store.TUFStatus{Repository: "trust/sigstore", Roots: []int64{1, 2}, State: store.TUFFresh, Expires: at.Add(24 * time.Hour)}},
				{TUFStatus: store.TUFStatus{Repository: "trust/other", Roots: []int64{4}, State: store.TUFExpired,
					Expired: []verify.TUFFailure{{Entry: "metadata/timestamp.json", Message: "expired"}}}, ExpiredNow: true},
			},
		}},
	}
}

func TestWriteStoreInfo(t *testing.T) {
	var buf bytes.Buffer
	if err := writeStoreInfo(&buf, testInfo()); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		"store     /srv/ferry",
		"active version  7 (feeds-7)",
		"(EXPIRED)",
		"advisories  1      10     10d  7d      STALE",
		"kit         1      2      -    -       NO-BUDGET",
		"trust/sigstore  2     0        fresh until 2026-12-02T00:00:00Z",
		"EXPIRED: metadata/timestamp.json expired",
		"govulndb  advisories  1      10     records=4274 skipped=0 withdrawn=17",
		"none      files       0      0      -",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("store info text lacks %q:\n%s", want, text)
		}
	}
}

func TestWriteQueryResult(t *testing.T) {
	has := false
	tests := []struct {
		name string
		res  store.QueryResult
		want []string
	}{
		{"advisory not found", store.QueryResult{Query: store.Query{Advisory: "GO-1"}}, []string{"advisory GO-1: not found"}},
		{"package in an ecosystem without data", store.QueryResult{Query: store.Query{Ecosystem: "npm", Package: "x"}, EcosystemHasData: &has},
			[]string{"package npm/x: no advisories", `no advisory data for ecosystem "npm" at all (NO_ADVISORY_DATA)`}},
		{"advisory with enrichment", store.QueryResult{Query: store.Query{Advisory: "GO-1"}, Found: true,
			Advisories: []store.Advisory{{ID: "GO-1", Channel: "feeds", Source: "db", Record: []byte(`{"id":"GO-1"}`)}},
			KEV:        &store.KEVEntry{KEVEntry: enrich.KEVEntry{CVE: "CVE-1", DateAdded: "2026-01-02"}, Channel: "feeds", Source: "kev"},
			EPSS:       &store.EPSSScore{CVE: "CVE-1", EPSS: 0.5, Percentile: 0.25, Channel: "feeds", Source: "epss"}},
			[]string{"# GO-1 (channel feeds, source db)\n{\n  \"id\": \"GO-1\"\n}\n", "KEV: CVE-1 listed since 2026-01-02 (feeds/kev)", "EPSS: CVE-1 0.50000 (percentile 0.25000) (feeds/epss)"}},
		{"statements", store.QueryResult{Query: store.Query{Vuln: "CVE-1"}, Found: true, Statements: []store.VEXStatement{{
			Statement: vex.Statement{Vulnerability: "CVE-1", Status: "not_affected", Issuer: "acme", DocumentDigest: "sha256:0123456789abcdef0123",
				Products: []vex.Product{{PURL: "pkg:a"}, {ID: "b"}, {Name: "c"}, {CPE: "d"}}},
			Channel: "feeds", Source: "vendor"}}},
			[]string{"VULNERABILITY", "CVE-1          not_affected  -              pkg:a, b, c, (+1)  acme    feeds/vendor  sha256:0123456789ab…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeQueryResult(&buf, &tt.res); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("text lacks %q:\n%s", want, buf.String())
				}
			}
		})
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

var errWrite = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errWrite
	}
	f.n -= len(p)
	return len(p), nil
}

// TestRenderersReportWriteErrors: text output that could not be written
// fails the command, wherever the write failed.
func TestRenderersReportWriteErrors(t *testing.T) {
	var full bytes.Buffer
	if err := writeStoreInfo(&full, testInfo()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 40, full.Len() / 2, full.Len() - 1} {
		if err := writeStoreInfo(&failWriter{n: n}, testInfo()); !errors.Is(err, errWrite) {
			t.Errorf("store info, write failing after %d bytes: %v", n, err)
		}
	}
	res := &store.QueryResult{Query: store.Query{Ecosystem: "Go", Package: "m"}, Found: true, IDs: []string{"GO-1", "GO-2"}}
	if err := writeQueryResult(&failWriter{n: 5}, res); !errors.Is(err, errWrite) {
		t.Errorf("query: %v", err)
	}
}

func TestFormatCounts(t *testing.T) {
	if got := formatCounts(nil); got != "-" {
		t.Errorf("no counts: %q", got)
	}
	if got := formatCounts(map[string]int{"b": 2, "a": 1, "c": 0}); got != "a=1 b=2 c=0" {
		t.Errorf("counts: %q", got)
	}
}
