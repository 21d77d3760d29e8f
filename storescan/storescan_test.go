package storescan_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/storescan"
	"github.com/google/go-cmp/cmp"
)

// record is an OSV record of a Go module, affected below v1.2.0.
func record(id, module string) string {
	return fmt.Sprintf(`{"id":%q,"modified":"2026-11-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":%q},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.0"}]}]}]}`, id, module)
}

// newStore imports one kit with a record for example.com/lib and
// manyRecords for example.com/big (enough to parse them in parallel).
func newStore(t *testing.T, manyRecords int) *store.Store {
	t.Helper()
	lines := []string{record("GO-2026-0001", "example.com/lib")}
	for i := range manyRecords {
		lines = append(lines, record(fmt.Sprintf("GO-2026-1%03d", i), "example.com/big"))
	}
	return storeOf(t, lines...)
}

// storeOf imports one kit whose Go advisories are lines.
func storeOf(t *testing.T, lines ...string) *store.Store {
	t.Helper()
	ch := fixtures.NewChannel("feeds")
	kit := fixtures.Kit(ch, map[string][]byte{"advisories/govulndb/osv.jsonl": []byte(strings.Join(lines, "\n") + "\n")}, fixtures.KitOptions{})
	s, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(t.Context(), bytes.NewReader(kit), store.ImportOptions{At: fixtures.Created.Add(time.Hour), Root: ch.Root()}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAdvisoriesForPackage(t *testing.T) {
	const many = 40
	s := newStore(t, many)
	var big []string
	for i := range many {
		big = append(big, fmt.Sprintf("GO-2026-1%03d", i))
	}
	for _, tc := range []struct {
		name, pkg string
		want      []string
	}{
		{"one record, parsed in line", "example.com/lib", []string{"GO-2026-0001"}},
		{"many records, parsed in parallel, in the store's order", "example.com/big", big},
		{"no record", "example.com/other", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.View(t.Context(), func(r *store.Reader) error {
				a := storescan.NewAdvisories(r)
				first, err := a.ForPackage("Go", tc.pkg)
				if err != nil {
					return err
				}
				var got []string
				for _, v := range first {
					got = append(got, v.GetId())
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
				// Asked again, the same parsed records come back.
				again, err := a.ForPackage("Go", tc.pkg)
				if err != nil {
					return err
				}
				for i := range again {
					if again[i] != first[i] {
						t.Errorf("record %d parsed twice", i)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAdvisoriesEcosystemsKEVAndEPSS(t *testing.T) {
	s := newStore(t, 0)
	err := s.View(t.Context(), func(r *store.Reader) error {
		a := storescan.NewAdvisories(r)
		es, err := a.Ecosystems()
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]string{"Go"}, es); diff != "" {
			t.Errorf("ecosystems (-want +got):\n%s", diff)
		}
		if kev, err := a.KEV("CVE-2026-0001"); err != nil || kev {
			t.Errorf("KEV of a store without a catalog: %v, %v", kev, err)
		}
		if _, _, ok, err := a.EPSS("CVE-2026-0001"); err != nil || ok {
			t.Errorf("EPSS of a store without scores: %v, %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	s := newStore(t, 0)
	sbom := filepath.Join(t.TempDir(), "app.cdx.json")
	cdx := `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
	 {"type":"library","bom-ref":"c1","name":"example.com/lib","version":"v1.0.0","purl":"pkg:golang/example.com/lib@v1.0.0"},
	 {"type":"library","bom-ref":"c2","name":"example.com/other","version":"v1.0.0","purl":"pkg:golang/example.com/other@v1.0.0"}]}`
	if err := os.WriteFile(sbom, []byte(cdx), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, target string
		want         []string
		wantErr      error
	}{
		{"an SBOM against the store's advisories", "sbom:" + sbom, []string{"GO-2026-0001"}, nil},
		{"an image the store does not hold", "sha256:" + strings.Repeat("0", 64), nil, store.ErrImageNotFound},
		{"not a target", "ftp://example.com", nil, scan.ErrTarget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := storescan.Scan(t.Context(), s, tc.target, scan.Options{}, nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.ID)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestForPackageMatchableThenWhole: ForPackage decodes only what matching
// reads; Whole gives the record whole (summary, aliases), once, and a scan
// of a store finds the vulnerability with the whole record in its finding
// (summary, aliases, the record's severity).
func TestForPackageMatchableThenWhole(t *testing.T) {
	const line = `{"id":"GO-2026-0002","modified":"2026-11-01T00:00:00Z","aliases":["CVE-2026-0002"],"summary":"a flaw in lib",` +
		`"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],` +
		`"affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.0"}]}]}]}`
	s := storeOf(t, line)
	err := s.View(t.Context(), func(r *store.Reader) error {
		a := storescan.NewAdvisories(r)
		recs, err := a.ForPackage("Go", "example.com/lib")
		if err != nil || len(recs) != 1 {
			t.Fatalf("ForPackage: %d records, %v", len(recs), err)
		}
		part := recs[0]
		if part.GetId() != "GO-2026-0002" || len(part.GetAffected()) != 1 || part.GetSummary() != "" || len(part.GetAliases()) != 0 {
			t.Errorf("ForPackage decoded more or less than what matching reads: %v", part)
		}
		whole, err := a.Whole(part)
		if err != nil {
			return err
		}
		if whole.GetSummary() != "a flaw in lib" || !cmp.Equal(whole.GetAliases(), []string{"CVE-2026-0002"}) {
			t.Errorf("Whole: %v", whole)
		}
		if again, _ := a.Whole(part); again != whole {
			t.Error("the record was parsed whole twice")
		}
		if w, _ := a.Whole(whole); w != whole {
			t.Error("Whole of a whole record is not the record itself")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A scan finds the vulnerability with its summary and aliases.
	sbom := filepath.Join(t.TempDir(), "app.cdx.json")
	os.WriteFile(sbom, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"library","name":"example.com/lib","version":"v1.1.0","purl":"pkg:golang/example.com/lib@v1.1.0"}]}`), 0o644)
	rep, err := storescan.Scan(t.Context(), s, "sbom:"+sbom, scan.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Summary != "a flaw in lib" || !cmp.Equal(rep.Findings[0].IDs, []string{"CVE-2026-0002", "GO-2026-0002"}) ||
		rep.Findings[0].Severity.Rating != scan.RatingCritical {
		t.Fatalf("findings: %+v", rep.Findings)
	}
}

// TestWholeRecordInvalid: a record whose matchable part matches but which
// fails validation whole (no modified time) fails the scan with its id, as
// parsing it whole at lookup did; one that matches nothing is not parsed
// whole.
func TestWholeRecordInvalid(t *testing.T) {
	const bad = `{"id":"GO-2026-0003","affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.0"}]}]}]}`
	s := storeOf(t, bad)
	scanAt := func(version string) error {
		sbom := filepath.Join(t.TempDir(), "app.cdx.json")
		os.WriteFile(sbom, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"library","name":"example.com/lib","version":"`+version+`","purl":"pkg:golang/example.com/lib@`+version+`"}]}`), 0o644)
		_, err := storescan.Scan(t.Context(), s, "sbom:"+sbom, scan.Options{}, nil)
		return err
	}
	if err := scanAt("v1.1.0"); err == nil || !strings.Contains(err.Error(), "GO-2026-0003") || !strings.Contains(err.Error(), "modified") {
		t.Fatalf("scan of an affected version: %v, want the record's validation error", err)
	}
	if err := scanAt("v1.3.0"); err != nil {
		t.Fatalf("scan of a fixed version: %v", err)
	}
}
