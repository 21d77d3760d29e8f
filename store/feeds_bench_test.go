package store_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/store"
)

// BenchmarkFeedsBuild builds a kit from the 4291 Go OSV records of the
// corpus (kit.Build: read, validate, sort, write, sign) and reports
// records/s:
//
//	go test ./store -run '^$' -bench FeedsBuild -benchtime 3x
func BenchmarkFeedsBuild(b *testing.B) {
	dir := needCorpus(b, corpusOSVGo)
	ch := fixtures.NewChannel("feeds")
	for b.Loop() {
		buildKit(b, ch, "advisories:\n  - name: govulndb\n    osv: {dir: "+dir+"}\n")
	}
	b.ReportMetric(4291*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkFeedsImport imports the kit of the 4291 Go OSV records (4274
// carried) into an empty store: verify, stage, index, commit. It reports
// records/s against the target of 20,000 records/s:
//
//	go test ./store -run '^$' -bench FeedsImport -benchtime 5x
func BenchmarkFeedsImport(b *testing.B) {
	dir := needCorpus(b, corpusOSVGo)
	ch := fixtures.NewChannel("feeds")
	data, _ := buildKit(b, ch, "advisories:\n  - name: govulndb\n    osv: {dir: "+dir+"}\n")
	var total time.Duration
	var tm store.Timings
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		s, err := store.Open(context.Background(), filepath.Join(b.TempDir(), fmt.Sprint("store", i)), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		res, err := s.Import(context.Background(), bytes.NewReader(data), store.ImportOptions{At: importAt, Root: ch.Root(), Clock: wallClock{}})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		tm.Verify += res.Timings.Verify
		tm.Stage += res.Timings.Stage
		tm.Commit += res.Timings.Commit
	}
	rate := 4274 * float64(b.N) / total.Seconds()
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(rate/20000, "x-target")
	n := float64(b.N)
	b.ReportMetric(tm.Verify.Seconds()/n, "verify-s")
	b.ReportMetric(tm.Stage.Seconds()/n, "stage+index-s")
	b.ReportMetric(tm.Commit.Seconds()/n, "commit-s")
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// synthRecords returns n synthetic OSV records, one per line, sorted by
// id; record i affects package i%pkgs of one of four ecosystems, and every
// tenth record a second package. Each has two aliases.
func synthRecords(n, pkgs int) []byte {
	ecos := []string{"Go", "npm", "PyPI", "Maven"}
	var buf bytes.Buffer
	for i := range n {
		p := i % pkgs
		eco := ecos[p%len(ecos)]
		affected := fmt.Sprintf(`{"package":{"ecosystem":%q,"name":"pkg-%d"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.%d.0"}]}]}`, eco, p, i%50)
		if i%10 == 0 {
			q := (p + 7) % pkgs
			affected += fmt.Sprintf(`,{"package":{"ecosystem":%q,"name":"pkg-%d"},"versions":["2.0.%d"]}`, ecos[q%len(ecos)], q, i%9)
		}
		fmt.Fprintf(&buf, `{"id":"SYN-%07d","modified":"2026-01-01T00:00:00Z","aliases":["CVE-2026-%07d","GHSA-syn-%07d"],"summary":"synthetic record %d with some text to give it a realistic size","details":"%s","affected":[%s]}`+"\n",
			i, i, i, i, strings.Repeat("lorem ipsum ", 40), affected)
	}
	return buf.Bytes()
}

// BenchmarkPackageLookups matches 10,000 packages (three in four have
// advisories) against an index of 50,000 synthetic records in one read
// transaction, fetching every matching record:
//
//	go test ./store -run '^$' -bench PackageLookups -benchtime 10x
func BenchmarkPackageLookups(b *testing.B) {
	const records, pkgs, lookups = 50000, 7500, 10000
	ch := fixtures.NewChannel("synth")
	kitData := fixtures.Kit(ch, map[string][]byte{"advisories/synth/osv.jsonl": synthRecords(records, pkgs)}, fixtures.KitOptions{})
	s := importKit(b, nil, ch, kitData)
	ecos := []string{"Go", "npm", "PyPI", "Maven"}
	for b.Loop() {
		matched := 0
		err := s.View(context.Background(), func(r *store.Reader) error {
			for i := range lookups {
				advs, err := r.AdvisoriesForPackage(ecos[i%len(ecos)], fmt.Sprintf("pkg-%d", i))
				if err != nil {
					return err
				}
				matched += len(advs)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if matched < records {
			b.Fatalf("%d records matched, want at least %d", matched, records)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/10k-lookups")
}
