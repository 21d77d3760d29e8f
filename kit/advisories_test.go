package kit_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/internal/attestverify"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/verify"
)

// buildAndVerify builds spec into a kit, verifies it and returns the
// content of every file by path.
func buildAndVerify(t *testing.T, spec *kit.Spec, env func(*kit.BuildOptions)) (*kit.BuildResult, map[string][]byte) {
	t.Helper()
	ch := fixtures.NewChannel(spec.Channel)
	opts := kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()}
	if env != nil {
		env(&opts)
	}
	var buf bytes.Buffer
	res, err := kit.Build(t.Context(), &buf, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	rep, err := verify.Kit(t.Context(), bytes.NewReader(buf.Bytes()), verify.Static(verify.Trust{Root: ch.Root()}), verify.Options{
		At: fixtures.Created.Add(time.Hour),
		// The site's check of carried attestations, as ferry verify runs it.
		Attestations: attestverify.Verifier{},
		Content: func(tg verify.Target, r io.Reader) error {
			b := new(bytes.Buffer)
			_, err := b.ReadFrom(r)
			files[tg.Path] = b.Bytes()
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("kit does not verify: %v", rep.Err())
	}
	return res, files
}

func TestAdvisoriesInvalidRecord(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "A-1.json"), []byte(`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "B-2.json"), []byte(`{"id":"B-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"fixed":"1.0.0"}]}]}]}`), 0o644)
	strict := specIn(t, "name: f\nchannel: f\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nadvisories:\n  - name: db\n    osv: {dir: "+dir+"}\n")
	ch := fixtures.NewChannel("f")
	_, err := kit.Build(t.Context(), &bytes.Buffer{}, strict, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()})
	if err == nil || !strings.Contains(err.Error(), "B-2") || !strings.Contains(err.Error(), "no introduced event") {
		t.Fatalf("invalid record: got %v, want an error naming B-2 and the reason", err)
	}
	lenient := specIn(t, "name: f\nchannel: f\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nadvisories:\n  - name: db\n    osv: {dir: "+dir+"}\n    skip-invalid: true\n")
	res, files := buildAndVerify(t, lenient, nil)
	if p := res.Manifest.Sources[0]; p.Counts["records"] != 1 || p.Counts["skipped"] != 1 || len(p.Skipped) != 1 || p.Skipped[0].ID != "B-2" {
		t.Errorf("provenance %+v", p)
	}
	if n := bytes.Count(files["advisories/db/osv.jsonl"], []byte("\n")); n != 1 {
		t.Errorf("%d records carried, want 1", n)
	}
}

func TestEnrichFromHTTPSWithCache(t *testing.T) {
	kev := `{"title":"KEV","catalogVersion":"2026.11.27","count":2,"vulnerabilities":[{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10"},{"cveID":"CVE-2023-4863","dateAdded":"2023-09-13"}]}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("#model_version:v2025.03.14,score_date:2026-11-27T00:00:00+0000\ncve,epss,percentile\nCVE-2021-44228,0.97,0.99\n"))
	zw.Close()
	hits := map[string]int{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits[r.URL.Path]++
		if r.Header.Get("If-None-Match") == `"1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"1"`)
		if r.URL.Path == "/kev.json" {
			w.Write([]byte(kev))
		} else {
			w.Write(gz.Bytes())
		}
	}))
	defer srv.Close()
	spec := specIn(t, "name: f\nchannel: f\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nadvisories:\n  - name: kev\n    kev: {url: "+srv.URL+"/kev.json}\n  - name: epss\n    epss: {url: "+srv.URL+"/epss.csv.gz}\n")
	cache := t.TempDir()
	withEnv := func(o *kit.BuildOptions) { o.HTTPClient, o.Cache = srv.Client(), cache }
	res, files := buildAndVerify(t, spec, withEnv)
	if string(files["enrich/kev/kev.json"]) != kev || !bytes.Equal(files["enrich/epss/epss.csv.gz"], gz.Bytes()) {
		t.Errorf("carried files differ from the served ones: %v", slices.Sorted(mapsKeys(files)))
	}
	if res.Manifest.Sources[0].Counts["entries"] != 2 || res.Manifest.Sources[1].Counts["scores"] != 1 {
		t.Errorf("counts %+v %+v", res.Manifest.Sources[0].Counts, res.Manifest.Sources[1].Counts)
	}
	res2, _ := buildAndVerify(t, spec, withEnv)
	if hits["/kev.json"] != 2 || res2.TargetsSHA256 == "" {
		t.Errorf("kev fetched %d times, want 2 (the second one conditional)", hits["/kev.json"])
	}
}

func mapsKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestAdvisorySpecErrors(t *testing.T) {
	base := "name: f\nchannel: f\nversion: 1\n"
	cases := map[string]struct {
		yaml string
		code kit.SpecCode
	}{
		"no feed":          {"advisories:\n  - name: x\n", kit.SpecMissingSourceKind},
		"two feeds":        {"advisories:\n  - name: x\n    kev: {url: https://a/b}\n    epss: {url: https://a/c}\n", kit.SpecMissingSourceKind},
		"no name":          {"advisories:\n  - osv: {url: https://a/all.zip}\n", kit.SpecMissingName},
		"plain http":       {"advisories:\n  - name: x\n    osv: {url: http://a/all.zip}\n", kit.SpecInsecureURL},
		"not a url":        {"advisories:\n  - name: x\n    kev: {url: 'file:///etc/passwd'}\n", kit.SpecInvalidURL},
		"dir missing":      {"advisories:\n  - name: x\n    osv: {dir: ./nope}\n", kit.SpecSourceNotFound},
		"osv has no file":  {"advisories:\n  - name: x\n    osv: {file: a.json}\n", kit.SpecUnknownField},
		"skip-invalid kev": {"advisories:\n  - name: x\n    kev: {url: https://a/b}\n    skip-invalid: true\n", kit.SpecUnknownField},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "kit.yaml")
			os.WriteFile(path, []byte(base+c.yaml), 0o644)
			_, err := kit.LoadSpec(path)
			var errs kit.SpecErrors
			if !errors.As(err, &errs) || !slices.Contains(errs.Codes(), c.code) {
				t.Fatalf("got %v, want %s", err, c.code)
			}
		})
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "kit.yaml")
	os.WriteFile(path, []byte(base+"advisories:\n  - name: x\n    osv: {url: http://127.0.0.1:1/all.zip, insecure: true}\n"), 0o644)
	if _, err := kit.LoadSpec(path); err != nil {
		t.Errorf("insecure: true refused: %v", err)
	}
}
