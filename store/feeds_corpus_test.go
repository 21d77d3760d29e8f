//go:build conformance

// The store's conformance tests on the real-data corpus: they read
// $FERRY_CORPUS, so they build only with -tags conformance (make
// conformance), never on a clean clone.

package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/osv"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/vex"
	"google.golang.org/protobuf/proto"
)

// corpusRecords reads the corpus records that are not withdrawn at the
// kit's creation, by id.
func corpusRecords(t testing.TB, dir string) (map[string]*osv.Vulnerability, int) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*osv.Vulnerability{}
	withdrawn := 0
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		v, err := osv.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if osv.Withdrawn(v, fixtures.Created) {
			withdrawn++
			continue
		}
		out[v.GetId()] = v
	}
	return out, withdrawn
}

// TestAdvisoriesGoCorpus builds a kit of the 4291 Go vulndb records of the
// corpus, imports it and checks that every record is found by its id and
// by each of its aliases, and every package by (ecosystem, name).
func TestAdvisoriesGoCorpus(t *testing.T) {
	dir := needCorpus(t, corpusOSVGo)
	records, withdrawn := corpusRecords(t, dir)
	if len(records) != 4274 || withdrawn != 17 {
		t.Fatalf("corpus: %d records and %d withdrawn, want 4274 and 17", len(records), withdrawn)
	}
	ch := fixtures.NewChannel("feeds")
	data, _ := buildKit(t, ch, "advisories:\n  - name: govulndb\n    osv: {dir: "+dir+"}\n")
	s := importKit(t, nil, ch, data)

	// ferry inspect shows the same counts before the import.
	insp, err := kit.Inspect(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var inspText bytes.Buffer
	if err := insp.WriteText(&inspText, importAt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inspText.String(), "records=4274 skipped=0 withdrawn=17") {
		t.Errorf("ferry inspect lacks the source counts:\n%s", inspText.String())
	}

	wantPkgs := map[[2]string][]string{}
	for id, v := range records {
		for _, p := range osv.Packages(v) {
			wantPkgs[p] = append(wantPkgs[p], id)
		}
	}
	err = s.View(context.Background(), func(r *store.Reader) error {
		n := 0
		if err := r.ForEachAdvisory(func(a store.Advisory) error {
			n++
			if a.Channel != "feeds" || a.Source != "govulndb" {
				t.Errorf("%s: channel %q source %q", a.ID, a.Channel, a.Source)
			}
			return nil
		}); err != nil {
			return err
		}
		if n != 4274 {
			t.Errorf("%d records indexed, want 4274 (4291 minus 17 withdrawn)", n)
		}
		aliases := 0
		for _, id := range slices.Sorted(maps.Keys(records)) {
			v := records[id]
			got, err := r.Advisory(id)
			if err != nil {
				return err
			}
			if !hasID(got, id) {
				t.Errorf("advisory %s is not found by its id (got %v)", id, ids(got))
				continue
			}
			for _, a := range got {
				if a.ID == id && !sameJSON(t, a.Record, v) {
					t.Errorf("advisory %s: stored record differs from the corpus record", id)
				}
			}
			for _, alias := range v.GetAliases() {
				aliases++
				got, err := r.Advisory(alias)
				if err != nil {
					return err
				}
				if !hasID(got, id) {
					t.Errorf("advisory %s is not found by its alias %s (got %v)", id, alias, ids(got))
				}
			}
		}
		if aliases < 4000 {
			t.Errorf("only %d aliases checked", aliases)
		}
		for p, want := range wantPkgs {
			slices.Sort(want)
			got, err := r.AdvisoryIDs(p[0], p[1])
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				t.Errorf("package %s/%s: ids %v, want %v", p[0], p[1], got, want)
			}
		}
		ecos, err := r.Ecosystems()
		if err != nil {
			return err
		}
		if len(ecos) != 1 || ecos[0].Name != "Go" || ecos[0].Records != 4274 {
			t.Errorf("ecosystems %+v, want [{Go 4274}]", ecos)
		}
		if ok, _ := r.HasAdvisoryData("Go"); !ok {
			t.Error("HasAdvisoryData(Go) = false")
		}
		if ok, _ := r.HasAdvisoryData("npm"); ok {
			t.Error("HasAdvisoryData(npm) = true without npm records")
		}
		// A known package: golang.org/x/net's records, parsed.
		advs, err := r.AdvisoriesForPackage("Go", "golang.org/x/net")
		if err != nil {
			return err
		}
		if len(advs) != len(wantPkgs[[2]string{"Go", "golang.org/x/net"}]) || len(advs) < 10 {
			t.Errorf("golang.org/x/net: %d records", len(advs))
		}
		for _, a := range advs {
			v, err := a.Vulnerability()
			if err != nil || v.GetId() != a.ID {
				t.Errorf("%s: %v", a.ID, err)
			}
		}
		if got, _ := r.AdvisoryIDs("Go", "example.com/no/such/module"); len(got) != 0 {
			t.Errorf("unknown package: %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The counts of kit.json are kept per source.
	in, err := s.Info(context.Background(), importAt)
	if err != nil {
		t.Fatal(err)
	}
	src := in.Channels[0].Sources
	if len(src) != 1 || src[0].Name != "govulndb" || src[0].Counts["records"] != 4274 || src[0].Counts["withdrawn"] != 17 {
		t.Errorf("info sources: %+v", src)
	}
}

// TestVEXCorpus imports a kit of every OpenVEX and CSAF document of the
// corpus that parses and finds each statement by its vulnerability, each
// alias and each product.
func TestVEXCorpus(t *testing.T) {
	root := needCorpus(t, corpusVEX)
	stage := t.TempDir()
	docs := map[string]*vex.Document{} // by digest
	for _, f := range []vex.Format{vex.FormatOpenVEX, vex.FormatCSAF} {
		os.MkdirAll(filepath.Join(stage, string(f)), 0o755)
		filepath.WalkDir(filepath.Join(root, string(f)), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			doc, err := vex.Parse(f, data)
			if err != nil {
				return nil // not a VEX document (schemas, indexes); vex's own tests name them
			}
			docs[doc.Digest] = doc
			return os.WriteFile(filepath.Join(stage, string(f), strings.TrimPrefix(doc.Digest, "sha256:")+".json"), data, 0o644)
		})
	}
	if len(docs) < 30 {
		t.Fatalf("only %d corpus documents parse", len(docs))
	}
	ch := fixtures.NewChannel("vex")
	data, _ := buildKit(t, ch, "vex:\n  - name: community\n    openvex: {dir: "+filepath.Join(stage, "openvex")+"}\n  - name: vendors\n    csaf: {dir: "+filepath.Join(stage, "csaf")+"}\n")
	s := importKit(t, nil, ch, data)

	var csafStatements, openvexStatements int
	err := s.View(context.Background(), func(r *store.Reader) error {
		// found answers a lookup once per key, as a set of statements in
		// JSON (a large CSAF document names thousands of products).
		cache := map[string]map[string]bool{}
		found := func(byProduct bool, key string, st vex.Statement) (bool, error) {
			ck := fmt.Sprint(byProduct, key)
			set, ok := cache[ck]
			if !ok {
				var got []store.VEXStatement
				var err error
				if byProduct {
					got, err = r.VEXStatementsForProduct(key)
				} else {
					got, err = r.VEXStatements(key)
				}
				if err != nil {
					return false, err
				}
				set = map[string]bool{}
				for _, g := range got {
					set[mustJSON(g.Statement)] = true
				}
				cache[ck] = set
			}
			return set[mustJSON(st)], nil
		}
		gotDocs, err := r.VEXDocuments()
		if err != nil {
			return err
		}
		if len(gotDocs) != len(docs) {
			t.Errorf("%d documents indexed, want %d", len(gotDocs), len(docs))
		}
		for _, d := range gotDocs {
			want := docs[d.Digest]
			if want == nil || d.Statements != len(want.Statements) || d.Issuer != want.Issuer || d.Format != want.Format {
				t.Errorf("document %s: %+v", d.Digest, d)
			}
			wantSource := map[vex.Format]string{vex.FormatOpenVEX: "community", vex.FormatCSAF: "vendors"}[d.Format]
			if d.Source != wantSource || d.Channel != "vex" {
				t.Errorf("document %s: channel %s source %s", d.Digest, d.Channel, d.Source)
			}
		}
		for _, digest := range slices.Sorted(maps.Keys(docs)) {
			doc := docs[digest]
			for i, st := range doc.Statements {
				if doc.Format == vex.FormatCSAF {
					csafStatements++
				} else {
					openvexStatements++
				}
				for _, id := range append([]string{st.Vulnerability}, st.Aliases...) {
					ok, err := found(false, id, st)
					if err != nil {
						return err
					}
					if !ok {
						t.Errorf("%s statement %d is not found by vulnerability %s", digest, i, id)
					}
				}
				// Red Hat's CSAF statements name thousands of products:
				// the first and the last few of each are checked.
				ps := st.Products
				if len(ps) > 6 {
					ps = append(slices.Clone(ps[:3]), ps[len(ps)-3:]...)
				}
				for _, p := range ps {
					for _, key := range []string{p.ID, p.PURL, p.CPE} {
						if key == "" {
							continue
						}
						ok, err := found(true, key, st)
						if err != nil {
							return err
						}
						if !ok {
							t.Errorf("%s statement %d is not found by product %s", digest, i, key)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if csafStatements == 0 || openvexStatements == 0 {
		t.Errorf("statements checked: %d CSAF, %d OpenVEX", csafStatements, openvexStatements)
	}
	// The CLI's query: a vulnerability of the corpus, with its issuer and
	// source document.
	res, err := s.Query(context.Background(), store.Query{Vuln: "CVE-2021-44228"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Found {
		t.Fatal("no statement about CVE-2021-44228")
	}
	for _, st := range res.Statements {
		if st.Issuer == "" || docs[st.DocumentDigest] == nil {
			t.Errorf("statement without issuer or source document: %+v", st)
		}
	}
	in, err := s.Info(context.Background(), importAt)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range in.Channels[0].Sources {
		if src.Counts["documents"] == 0 || src.Counts["statements"] == 0 {
			t.Errorf("source counts %+v", src)
		}
	}
	if got := in.Channels[0].Sources; len(got) != 2 || got[0].Counts["statements"]+got[1].Counts["statements"] != csafStatements+openvexStatements {
		t.Errorf("sources %+v: want %d statements in all", got, csafStatements+openvexStatements)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func hasID(as []store.Advisory, id string) bool {
	return slices.ContainsFunc(as, func(a store.Advisory) bool { return a.ID == id })
}

// sameJSON reports whether a stored record holds the same JSON as the
// parsed corpus record.
func sameJSON(t testing.TB, raw []byte, want *osv.Vulnerability) bool {
	t.Helper()
	got, err := osv.Parse(raw)
	if err != nil {
		t.Errorf("stored record does not parse: %v", err)
		return false
	}
	return proto.Equal(got, want)
}
