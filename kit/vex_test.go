package kit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/vex"
)

// vexCorpusFile reads one of the real VEX documents in testdata/vex
// (origins in testdata/vex/SOURCES.md).
func vexCorpusFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vex", path.Base(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestVEXKitCarriesDocumentsByteExact(t *testing.T) {
	openvexDocs := map[string][]byte{
		"trivy.openvex.json": vexCorpusFile(t, "openvex/vexhub/aquasecurity__trivy__trivy.openvex.json"),
		"kine/scan.json":     vexCorpusFile(t, "openvex/vexhub/k3s-io__kine__scan.openvex.json"),
		"legacy-v0.0.1.json": vexCorpusFile(t, "openvex/go-vex/vex__v0.0.1.json"),
		"copy-of-trivy.json": vexCorpusFile(t, "openvex/vexhub/aquasecurity__trivy__trivy.openvex.json"),
		"README.md":          []byte("not a document\n"),
	}
	csafDoc := vexCorpusFile(t, "csaf/oasis-csaf_2.0/csaf_vex__2022-evd-uc-08-001.json")
	dir := t.TempDir()
	for name, b := range openvexDocs {
		p := filepath.Join(dir, "openvex", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	csafPath := filepath.Join(dir, "uc8.json")
	os.WriteFile(csafPath, csafDoc, 0o644)
	spec := specIn(t, "name: f\nchannel: f\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nvex:\n"+
		"  - name: vendor-a\n    openvex: {dir: "+filepath.Join(dir, "openvex")+"}\n"+
		"  - name: vendor-b\n    csaf: {file: "+csafPath+"}\n")
	res, files := buildAndVerify(t, spec, nil)

	var want []string
	for name, b := range openvexDocs {
		if strings.HasSuffix(name, ".json") {
			p := "vex/vendor-a/" + sha256Hex(b) + ".json"
			if !bytes.Equal(files[p], b) {
				t.Errorf("%s is not carried byte-exact at %s", name, p)
			}
			want = append(want, p)
		}
	}
	pb := "vex/vendor-b/" + sha256Hex(csafDoc) + ".json"
	if !bytes.Equal(files[pb], csafDoc) {
		t.Errorf("the CSAF document is not carried byte-exact at %s", pb)
	}
	want = append(want, pb)
	var got []string
	for p := range files {
		if strings.HasPrefix(p, "vex/") {
			got = append(got, p)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	want = slices.Compact(want) // the copy of trivy's document is carried once
	if !slices.Equal(got, want) {
		t.Errorf("vex files in the kit:\n%v\nwant\n%v", got, want)
	}

	a, b := res.Manifest.Sources[0], res.Manifest.Sources[1]
	// trivy 21 + kine 10 + the v0.0.1 example 1 statements.
	if a.Kind != "vex/openvex" || a.Counts["documents"] != 3 || a.Counts["statements"] != 32 || a.Files != 3 || len(a.Skipped) != 2 {
		t.Errorf("openvex provenance %+v", a)
	}
	// Use case 8: 10 statements (see vex.TestCSAFHandCounted).
	if b.Kind != "vex/csaf" || b.Counts["documents"] != 1 || b.Counts["statements"] != 10 || b.Digest != "sha256:"+sha256Hex(csafDoc) {
		t.Errorf("csaf provenance %+v", b)
	}
}

func TestVEXInvalidDocumentFailsSource(t *testing.T) {
	variant := vexCorpusFile(t, "openvex-variant/canonical/CVE-2015-0211.json")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a-good.json"), vexCorpusFile(t, "openvex/go-vex/vex__v0.2.0.json"), 0o644)
	os.WriteFile(filepath.Join(dir, "CVE-2015-0211.json"), variant, 0o644)
	spec := specIn(t, "name: f\nchannel: f\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nvex:\n  - name: canonical\n    openvex: {dir: "+dir+"}\n")
	ch := fixtures.NewChannel("f")
	_, err := kit.Build(t.Context(), &bytes.Buffer{}, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()})
	if !errors.Is(err, vex.ErrNestedHeader) || !strings.Contains(err.Error(), "CVE-2015-0211.json") || !strings.Contains(err.Error(), `"metadata"`) {
		t.Fatalf("got %v, want ErrNestedHeader naming the file and metadata", err)
	}

	csafDir := t.TempDir()
	os.WriteFile(filepath.Join(csafDir, "info.json"), vexCorpusFile(t, "csaf/oasis-csaf_2.0/rhsa-2019_1862.json"), 0o644)
	spec = specIn(t, "name: f\nchannel: f\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nvex:\n  - name: rh\n    csaf: {dir: "+csafDir+"}\n")
	_, err = kit.Build(t.Context(), &bytes.Buffer{}, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()})
	if !errors.Is(err, vex.ErrCSAFCategory) || !strings.Contains(err.Error(), "info.json") {
		t.Fatalf("got %v, want ErrCSAFCategory naming info.json", err)
	}
}

func TestVEXFromURL(t *testing.T) {
	doc := vexCorpusFile(t, "csaf/oasis-csaf_2.0/rhsa-2021_5186.json")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(doc) }))
	defer srv.Close()
	spec := specIn(t, "name: f\nchannel: f\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nvex:\n  - name: redhat\n    csaf: {url: "+srv.URL+"/rhsa-2021_5186.json}\n")
	res, files := buildAndVerify(t, spec, func(o *kit.BuildOptions) { o.HTTPClient = srv.Client() })
	if !bytes.Equal(files["vex/redhat/"+sha256Hex(doc)+".json"], doc) {
		t.Error("the downloaded document is not carried byte-exact")
	}
	if p := res.Manifest.Sources[0]; p.FetchedAt == "" || p.Counts["documents"] != 1 || p.Counts["statements"] != 4 {
		t.Errorf("provenance %+v", p)
	}
}

func TestVEXSpecErrors(t *testing.T) {
	base := "name: f\nchannel: f\nversion: 1\n"
	cases := map[string]struct {
		yaml string
		code kit.SpecCode
	}{
		"oci field":     {"vex:\n  - name: x\n    oci: {image: registry.example.com/app}\n", kit.SpecUnknownField},
		"no format":     {"vex:\n  - name: x\n", kit.SpecMissingSourceKind},
		"two formats":   {"vex:\n  - name: x\n    openvex: {url: https://a/b.json}\n    csaf: {url: https://a/c.json}\n", kit.SpecMissingSourceKind},
		"no name":       {"vex:\n  - openvex: {url: https://a/b.json}\n", kit.SpecMissingName},
		"not a list":    {"vex: {name: x}\n", kit.SpecInvalidYAML},
		"plain http":    {"vex:\n  - name: x\n    csaf: {url: http://a/b.json}\n", kit.SpecInsecureURL},
		"zip":           {"vex:\n  - name: x\n    openvex: {zip: a.zip}\n", kit.SpecUnknownField},
		"dir missing":   {"vex:\n  - name: x\n    openvex: {dir: ./nope}\n", kit.SpecSourceNotFound},
		"unknown field": {"vex:\n  - name: x\n    cyclonedx: {url: https://a/b.json}\n", kit.SpecUnknownField},
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
}
