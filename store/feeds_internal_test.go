package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/enrich"
	"github.com/ferry-dev/ferry/fixtures"
	bolt "go.etcd.io/bbolt"
)

func osvLine(id string, aliases []string, pkgs ...string) string {
	var aff []string
	for _, p := range pkgs {
		eco, name, _ := strings.Cut(p, "/")
		aff = append(aff, fmt.Sprintf(`{"package":{"ecosystem":%q,"name":%q},"versions":["1.0.0"]}`, eco, name))
	}
	al, _ := json.Marshal(aliases)
	return fmt.Sprintf(`{"id":%q,"modified":"2026-01-01T00:00:00Z","aliases":%s,"affected":[%s]}`, id, al, strings.Join(aff, ","))
}

func jsonl(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

func view(t *testing.T, s *Store, fn func(r *Reader) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func advIDs(as []Advisory) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.ID+"@"+a.Channel+"/"+a.Source)
	}
	return out
}

func TestAdvisoriesReplacedWithTheKit(t *testing.T) {
	c := fixtures.NewChannel("feeds")
	s := newStore(t)
	v1 := map[string][]byte{"advisories/db/osv.jsonl": jsonl(
		osvLine("GO-1", []string{"CVE-1"}, "Go/a"),
		osvLine("GO-2", []string{"CVE-2"}, "Go/b"),
		`{"id":"GO-3","modified":"2026-01-01T00:00:00Z","withdrawn":"2026-01-01T00:00:00Z"}`,
	)}
	mustImport(t, s, fixtures.Kit(c, v1, fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	view(t, s, func(r *Reader) error {
		if got, _ := r.Advisory("CVE-2"); len(got) != 1 || got[0].ID != "GO-2" {
			t.Errorf("v1: CVE-2 -> %v", advIDs(got))
		}
		if got, _ := r.Advisory("GO-3"); len(got) != 0 {
			t.Errorf("a withdrawn record was indexed: %v", advIDs(got))
		}
		return nil
	})
	v2 := map[string][]byte{"advisories/db/osv.jsonl": jsonl(osvLine("GO-1", []string{"CVE-9"}, "Go/c"))}
	mustImport(t, s, fixtures.Kit(c, v2, fixtures.KitOptions{Version: 2}), ImportOptions{})
	view(t, s, func(r *Reader) error {
		for q, want := range map[string][]string{"GO-1": {"GO-1@feeds/db"}, "CVE-9": {"GO-1@feeds/db"}, "CVE-1": {}, "GO-2": {}, "CVE-2": {}} {
			if got, _ := r.Advisory(q); !slices.Equal(advIDs(got), want) {
				t.Errorf("v2: %s -> %v, want %v", q, advIDs(got), want)
			}
		}
		for p, want := range map[string][]string{"a": {}, "b": {}, "c": {"GO-1"}} {
			if got, _ := r.AdvisoryIDs("Go", p); !slices.Equal(got, want) {
				t.Errorf("v2: package %s -> %v, want %v", p, got, want)
			}
		}
		return nil
	})
}

func TestAdvisoriesAcrossChannelsAndSources(t *testing.T) {
	s := newStore(t)
	a, b := fixtures.NewChannel("alpha"), fixtures.NewChannel("beta")
	mustImport(t, s, fixtures.Kit(a, map[string][]byte{
		"advisories/one/osv.jsonl": jsonl(osvLine("GHSA-x", []string{"CVE-7"}, "PyPI/Django")),
		"advisories/two/osv.jsonl": jsonl(osvLine("GHSA-x", []string{"CVE-7"}, "PyPI/Django"), osvLine("PYSEC-1", []string{"CVE-7"}, "PyPI/django")),
		"advisories/README.md":     []byte("not an advisory file\n"),
	}, fixtures.KitOptions{}), ImportOptions{Root: a.Root()})
	mustImport(t, s, fixtures.Kit(b, map[string][]byte{
		"advisories/osv/osv.jsonl": jsonl(osvLine("GHSA-x", nil, "PyPI/Django"), osvLine("DSA-1", nil, "Debian:12/openssl")),
	}, fixtures.KitOptions{}), ImportOptions{Root: b.Root()})
	view(t, s, func(r *Reader) error {
		got, _ := r.Advisory("CVE-7")
		if want := []string{"GHSA-x@alpha/one", "GHSA-x@alpha/two", "PYSEC-1@alpha/two"}; !slices.Equal(advIDs(got), want) {
			t.Errorf("CVE-7 -> %v, want %v", advIDs(got), want)
		}
		advs, _ := r.AdvisoriesForPackage("PyPI", "DJANGO")
		if want := []string{"GHSA-x@alpha/one", "GHSA-x@alpha/two", "GHSA-x@beta/osv", "PYSEC-1@alpha/two"}; !slices.Equal(advIDs(advs), want) {
			t.Errorf("PyPI/DJANGO -> %v, want %v", advIDs(advs), want)
		}
		// In place: the same records, the store's bytes, not copies.
		inPlace, _ := r.AdvisoriesForPackageInPlace("PyPI", "DJANGO")
		if !slices.EqualFunc(inPlace, advs, func(a, b Advisory) bool {
			return a.ID == b.ID && a.Channel == b.Channel && a.Source == b.Source && bytes.Equal(a.Record, b.Record)
		}) {
			t.Errorf("in place: %v, copied: %v", inPlace, advs)
		}
		if again, _ := r.AdvisoriesForPackageInPlace("PyPI", "DJANGO"); &again[0].Record[0] != &inPlace[0].Record[0] {
			t.Error("a record read in place twice is at two addresses: a copy")
		}
		if &advs[0].Record[0] == &inPlace[0].Record[0] {
			t.Error("AdvisoriesForPackage returned the store's bytes, not a copy")
		}
		ids, _ := r.AdvisoryIDs("PyPI", "django")
		if !slices.Equal(ids, []string{"GHSA-x", "PYSEC-1"}) {
			t.Errorf("ids %v", ids)
		}
		ecos, _ := r.Ecosystems()
		if d := diff([]Ecosystem{{"Debian:12", 1}, {"PyPI", 4}}, ecos); d != "" {
			t.Errorf("ecosystems: %s", d)
		}
		if ok, _ := r.HasAdvisoryData("Debian"); ok {
			t.Error("Debian has data, but only Debian:12 was carried")
		}
		chs, _ := r.Channels()
		if !slices.Equal(chs, []string{"alpha", "beta"}) {
			t.Errorf("channels %v", chs)
		}
		return nil
	})
}

func TestPackageKey(t *testing.T) {
	for _, tt := range [][3]string{
		{"PyPI", "Django", "django"},
		{"PyPI", "zope.interface", "zope-interface"},
		{"PyPI", "Foo__Bar-._baz", "foo-bar-baz"},
		{"Go", "github.com/Foo/Bar", "github.com/Foo/Bar"},
		{"npm", "@Scope/Name", "@Scope/Name"},
	} {
		if got := PackageKey(tt[0], tt[1]); got != tt[2] {
			t.Errorf("PackageKey(%s, %s) = %s, want %s", tt[0], tt[1], got, tt[2])
		}
	}
}

func TestMalformedAdvisoriesFailTheImport(t *testing.T) {
	for name, data := range map[string][]byte{
		"not JSON":      jsonl(osvLine("GO-1", nil, "Go/a"), `{"id":"GO-2",`),
		"no id":         jsonl(`{"modified":"2026-01-01T00:00:00Z"}`),
		"NUL in id":     jsonl(`{"id":"GO-\u0000"}`),
		"NUL in alias":  jsonl(`{"id":"GO-1","aliases":["a\u0000b"]}`),
		"trailing data": jsonl(`{"id":"GO-1"} x`),
	} {
		t.Run(name, func(t *testing.T) {
			c := fixtures.NewChannel("feeds")
			s := newStore(t)
			_, err := s.Import(context.Background(), bytes.NewReader(fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": data}, fixtures.KitOptions{})), ImportOptions{At: at, Root: c.Root()})
			var ie *IndexError
			if !errors.As(err, &ie) || ie.Indexer != "advisories" || ie.Path != "advisories/db/osv.jsonl" {
				t.Fatalf("got %v, want an IndexError of the advisories indexer", err)
			}
			if v := activeVersion(t, s, "feeds"); v != 0 {
				t.Errorf("activated version %d", v)
			}
		})
	}
}

func TestForEachLineOffsets(t *testing.T) {
	long := `{"id":"L","x":"` + strings.Repeat("y", 600<<10) + `"}`
	data := []byte("  {\"id\":\"A\"}\r\n\n" + long + "\n\t{\"id\":\"B\"}")
	var got []string
	err := forEachLine(bytes.NewReader(data), 1<<20, func(n int, off int64, line []byte) error {
		if !bytes.Equal(data[off:off+int64(len(line))], line) {
			t.Errorf("line %d: offset %d does not point at the line", n, off)
		}
		got = append(got, strconv.Itoa(n)+":"+string(line[:7]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`1:{"id":"`, `3:{"id":"`, `4:{"id":"`}; !slices.Equal(got, want) {
		t.Errorf("lines %v, want %v", got, want)
	}
	if err := forEachLine(bytes.NewReader([]byte(long)), 1<<10, func(int, int64, []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("an overlong line: %v", err)
	}
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEnrichKEVAndEPSS(t *testing.T) {
	c := fixtures.NewChannel("feeds")
	s := newStore(t)
	files := map[string][]byte{
		"enrich/kev/kev.json":      []byte(`{"catalogVersion":"2026.11.27","dateReleased":"2026-11-27T00:00:00Z","count":2,"vulnerabilities":[{"cveID":"CVE-2021-44228","vendorProject":"Apache","product":"Log4j2","dateAdded":"2021-12-10","knownRansomwareCampaignUse":"Known","cwes":["CWE-20"]},{"cveID":"CVE-2023-4863","dateAdded":"2023-09-13"}]}`),
		"enrich/epss/epss.csv.gz":  gz(t, []byte("#model_version:v2025.03.14,score_date:2026-11-27T00:00:00+0000\ncve,epss,percentile\nCVE-2021-44228,0.94358,0.99961\nCVE-2023-4863,0.00043,0.0762\n")),
		"enrich/other/epss.csv":    []byte("cve,epss,percentile\nCVE-2021-44228,0.5,0.5\n"),
		"enrich/other/notes.txt":   []byte("ignored\n"),
		"advisories/db/osv.jsonl":  jsonl(osvLine("GO-1", []string{"CVE-2021-44228"}, "Go/a")),
		"docs/enrich/kev/kev.json": []byte("not enrichment: another content type"),
	}
	mustImport(t, s, fixtures.Kit(c, files, fixtures.KitOptions{}), ImportOptions{Root: c.Root()})
	view(t, s, func(r *Reader) error {
		e, ok, err := r.KEV("CVE-2021-44228")
		if err != nil || !ok {
			t.Fatalf("KEV: %v %v", ok, err)
		}
		want := KEVEntry{KEVEntry: enrich.KEVEntry{CVE: "CVE-2021-44228", VendorProject: "Apache", Product: "Log4j2", DateAdded: "2021-12-10", KnownRansomwareCampaignUse: "Known", CWEs: []string{"CWE-20"}}, CatalogVersion: "2026.11.27", Channel: "feeds", Source: "kev"}
		if d := diff(want, *e); d != "" {
			t.Errorf("KEV entry: %s", d)
		}
		if _, ok, _ := r.KEV("CVE-2020-0001"); ok {
			t.Error("an unlisted CVE is in KEV")
		}
		sc, ok, err := r.EPSS("CVE-2023-4863")
		if err != nil || !ok {
			t.Fatalf("EPSS: %v %v", ok, err)
		}
		if d := diff(EPSSScore{CVE: "CVE-2023-4863", EPSS: 0.00043, Percentile: 0.0762, ModelVersion: "v2025.03.14", ScoreDate: "2026-11-27T00:00:00+0000", Channel: "feeds", Source: "epss"}, *sc); d != "" {
			t.Errorf("EPSS: %s", d)
		}
		// Two sources score CVE-2021-44228: the first by name answers.
		if sc, _, _ := r.EPSS("CVE-2021-44228"); sc.Source != "epss" || sc.EPSS != 0.94358 {
			t.Errorf("EPSS with two sources: %+v", sc)
		}
		return nil
	})
	res, err := s.Query(context.Background(), Query{Advisory: "GO-1"})
	if err != nil || res.KEV == nil || res.EPSS == nil || res.EPSS.CVE != "CVE-2021-44228" {
		t.Errorf("query enrichment: %+v %v", res, err)
	}
}

func TestEnrichRefusesBadFiles(t *testing.T) {
	for name, files := range map[string]map[string][]byte{
		"KEV not JSON":         {"enrich/kev/kev.json": []byte(`{"vulnerabilities":[`)},
		"KEV bad CVE":          {"enrich/kev/kev.json": []byte(`{"vulnerabilities":[{"cveID":"CVE-21"}]}`)},
		"EPSS bad header":      {"enrich/epss/epss.csv": []byte("cve,score\nCVE-2021-44228,0.5\n")},
		"EPSS out of range":    {"enrich/epss/epss.csv": []byte("cve,epss,percentile\nCVE-2021-44228,1.5,0.5\n")},
		"EPSS bad gzip":        {"enrich/epss/epss.csv.gz": append([]byte{0x1f, 0x8b}, "garbage"...)},
		"EPSS decompress bomb": {"enrich/epss/epss.csv.gz": gz(t, append([]byte("cve,epss,percentile\n"), make([]byte, 4<<20)...))},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "EPSS decompress bomb" {
				old := epssCap
				epssCap = 1 << 20
				t.Cleanup(func() { epssCap = old })
			}
			c := fixtures.NewChannel("feeds")
			s := newStore(t)
			_, err := s.Import(context.Background(), bytes.NewReader(fixtures.Kit(c, files, fixtures.KitOptions{})), ImportOptions{At: at, Root: c.Root()})
			var ie *IndexError
			if !errors.As(err, &ie) || ie.Indexer != "enrich" {
				t.Fatalf("got %v, want an IndexError of the enrich indexer", err)
			}
			if name == "EPSS decompress bomb" && !strings.Contains(err.Error(), "decompression bomb") {
				t.Errorf("bomb: %v", err)
			}
		})
	}
}

func TestVEXWithoutMediaType(t *testing.T) {
	csaf, err := os.ReadFile("testdata/vex/csaf_vex__2022-evd-uc-01-na-001.json")
	if err != nil {
		t.Fatalf("the test reads a CSAF document of the corpus: %v", err)
	}
	c := fixtures.NewChannel("feeds")
	s := newStore(t)
	files := map[string][]byte{
		"vex/vendor/" + sha256Hex(csaf) + ".json":       csaf,
		"vex/vendor/extra/" + sha256Hex(csaf) + ".json": csaf, // deeper: not indexed (attestations/ must verify)
	}
	mustImport(t, s, fixtures.Kit(c, files, fixtures.KitOptions{}), ImportOptions{Root: c.Root()})
	view(t, s, func(r *Reader) error {
		docs, _ := r.VEXDocuments()
		if len(docs) != 1 || docs[0].Format != "csaf" || docs[0].Path != "vex/vendor/"+sha256Hex(csaf)+".json" || docs[0].Statements == 0 {
			t.Fatalf("documents %+v", docs)
		}
		d, ok, _ := r.VEXDocument(docs[0].Digest)
		if !ok || d.Issuer == "" {
			t.Errorf("document by digest: %+v", d)
		}
		sts, _ := r.VEXStatements("CVE-2021-44228")
		if len(sts) != docs[0].Statements || sts[0].Source != "vendor" || sts[0].Channel != "feeds" || sts[0].DocumentDigest != docs[0].Digest {
			t.Errorf("statements %+v", sts)
		}
		return nil
	})
	// A document whose name is not its digest fails the import.
	c2 := fixtures.NewChannel("other")
	_, err = s.Import(context.Background(), bytes.NewReader(fixtures.Kit(c2, map[string][]byte{"vex/vendor/x.json": []byte(`{"not":"vex"}`)}, fixtures.KitOptions{})), ImportOptions{At: at, Root: c2.Root()})
	var ie *IndexError
	if !errors.As(err, &ie) || ie.Indexer != "vex" {
		t.Errorf("a document that is not VEX: %v", err)
	}
}

func TestReaderAfterView(t *testing.T) {
	c := fixtures.NewChannel("feeds")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, map[string][]byte{"advisories/db/osv.jsonl": jsonl(osvLine("GO-1", nil, "Go/a"))}, fixtures.KitOptions{}), ImportOptions{Root: c.Root()})
	var kept *Reader
	var rec []byte
	view(t, s, func(r *Reader) error {
		kept = r
		advs, err := r.Advisory("GO-1")
		if len(advs) == 1 {
			rec = advs[0].Record
		}
		return err
	})
	if _, err := kept.Advisory("GO-1"); !errors.Is(err, ErrReaderClosed) {
		t.Errorf("a Reader after its View: %v", err)
	}
	if _, err := kept.Ecosystems(); !errors.Is(err, ErrReaderClosed) {
		t.Errorf("a Reader after its View: %v", err)
	}
	if !json.Valid(rec) || !bytes.Contains(rec, []byte(`"GO-1"`)) {
		t.Errorf("a record returned by a View is not the caller's after it: %q", rec)
	}
}

// TestMigrateSchema2 opens a schema-2 store, which has the files index
// only, and finds its advisories after the migration.
func TestMigrateSchema2(t *testing.T) {
	c := fixtures.NewChannel("feeds")
	dir := filepath.Join(t.TempDir(), "store")
	old, err := Open(context.Background(), dir, Options{Indexers: []Indexer{FilesIndexer{}}})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"advisories/db/osv.jsonl": jsonl(osvLine("GO-1", []string{"CVE-1"}, "Go/a")),
		"kit.json":                []byte(`{"schema":"ferry.dev/kit/v1","sources":[{"name":"db","kind":"advisories/osv","from":"x","files":1,"bytes":9,"counts":{"records":1,"withdrawn":0}}]}`),
	}
	mustImport(t, old, fixtures.Kit(c, files, fixtures.KitOptions{}), ImportOptions{Root: c.Root()})
	db, err := bolt.Open(dbPath(dir), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("2")) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dir, Options{}) // migrates
	view(t, s, func(r *Reader) error {
		if got, _ := r.Advisory("CVE-1"); len(got) != 1 || got[0].ID != "GO-1" {
			t.Errorf("after migration: CVE-1 -> %v", advIDs(got))
		}
		return nil
	})
	in, err := s.Info(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	if src := in.Channels[0].Sources; len(src) != 1 || src[0].Counts["records"] != 1 {
		t.Errorf("sources after migration: %+v", src)
	}
}

// BenchmarkAdvisoriesIndexer indexes the 4291 Go records of the corpus,
// without I/O:
//
//	go test ./store -run '^$' -bench AdvisoriesIndexer
func BenchmarkAdvisoriesIndexer(b *testing.B) {
	data := osvJSONL(b)
	for b.Loop() {
		if _, err := recordEntries(context.Background(), bytes.NewReader(data), int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(4291*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
