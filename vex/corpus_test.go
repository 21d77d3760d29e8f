//go:build conformance

// Tests against the real-data corpus kept beside the repository (set
// FERRY_CORPUS, or it is looked for at ../../shared/corpus); make
// conformance runs them.

package vex_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/vex"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

// corpus holds the corpus's VEX documents.
var corpus = filepath.Join(corpusRoot(), "vex")

func corpusRoot() string {
	if c := os.Getenv("FERRY_CORPUS"); c != "" {
		return c
	}
	return "../../shared/corpus"
}

// With the corpus at hand, the fuzz targets start from its documents too.
func init() {
	corpusSeeds = func(f *testing.F, dir string) {
		paths, _ := filepath.Glob(filepath.Join(corpus, dir, "*", "*.json"))
		for _, p := range paths {
			if fi, err := os.Stat(p); err == nil && fi.Size() < 64<<10 {
				if b, err := os.ReadFile(p); err == nil {
					f.Add(b)
				}
			}
		}
	}
}

// corpusFiles returns the JSON files under dir (relative to the corpus),
// or skips the test loudly when the corpus is not there.
func corpusFiles(t *testing.T, dir string) []string {
	t.Helper()
	root := filepath.Join(corpus, dir)
	if _, err := os.Stat(root); err != nil {
		t.Skipf("SKIPPING: the VEX corpus is not available at %s (%v); these conformance tests did not run", root, err)
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			rel, _ := filepath.Rel(corpus, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no JSON files under %s", root)
	}
	return files
}

func readCorpus(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// notOpenVEX are files under openvex/ that are not VEX documents.
var notOpenVEX = map[string]string{
	"openvex/spec/openvex_json_schema.json":             "the OpenVEX JSON schema",
	"openvex/spec/ns-v0.2.0-context.json":               "the JSON-LD context of the OpenVEX vocabulary",
	"openvex/vexhub/index.json":                         "vexhub's repository index (package → document location)",
	"openvex/vexhub/aquasecurity__trivy__manifest.json": "a vexhub manifest (where a project's documents come from)",
}

func TestOpenVEXCorpus(t *testing.T) {
	files := corpusFiles(t, "openvex")
	parsed := 0
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			data := readCorpus(t, rel)
			doc, err := vex.ParseOpenVEX(data)
			if why, skip := notOpenVEX[rel]; skip {
				// Not a VEX document: it must be refused, not read as an
				// empty one.
				if !errors.Is(err, vex.ErrNotOpenVEX) {
					t.Errorf("%s (%s): got %v, want ErrNotOpenVEX", rel, why, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			parsed++
			if doc.Issuer == "" || len(doc.Statements) == 0 || len(doc.Statements) != len(doc.OpenVEX.Statements) {
				t.Errorf("issuer %q, %d statements (go-vex: %d)", doc.Issuer, len(doc.Statements), len(doc.OpenVEX.Statements))
			}
			for i, s := range doc.Statements {
				if s.Vulnerability == "" || !s.Status.Valid() || s.DocumentDigest != doc.Digest || s.Issuer != doc.Issuer {
					t.Errorf("statement %d: %+v", i, s)
				}
			}
			if !slices.IsSortedFunc(doc.Statements, func(a, b vex.Statement) int { return strings.Compare(a.Vulnerability, b.Vulnerability) }) {
				t.Error("statements are not sorted by vulnerability")
			}
		})
	}
	if want := len(files) - len(notOpenVEX); parsed != want && !t.Failed() {
		t.Errorf("parsed %d documents, want %d", parsed, want)
	}
}

func TestOpenVEXVariantRefused(t *testing.T) {
	for _, rel := range corpusFiles(t, "openvex-variant") {
		_, err := vex.ParseOpenVEX(readCorpus(t, rel))
		var de *vex.DocumentError
		if !errors.Is(err, vex.ErrNestedHeader) || !errors.As(err, &de) || de.Field != "metadata" {
			t.Fatalf("%s: got %v, want ErrNestedHeader on field metadata", rel, err)
		}
		for _, want := range []string{`"metadata"`, "author", "@context", "top level"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: the error %q does not mention %s", rel, err, want)
			}
		}
	}
}

// TestLegacyMigrationMatchesGoVEX checks that v0.0.1 documents are migrated
// exactly as go-vex's vex.Open migrates them (ParseOpenVEX repeats that
// migration because go-vex offers it only for file paths).
func TestLegacyMigrationMatchesGoVEX(t *testing.T) {
	n := 0
	for _, rel := range corpusFiles(t, "openvex") {
		if _, skip := notOpenVEX[rel]; skip {
			continue
		}
		data := readCorpus(t, rel)
		if strings.Contains(string(data), openvex.Context+"/v0.2.0") {
			continue
		}
		n++
		want, err := openvex.Open(filepath.Join(corpus, rel))
		if err != nil {
			t.Fatalf("%s: go-vex: %v", rel, err)
		}
		doc, err := vex.ParseOpenVEX(data)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		got := *doc.OpenVEX
		// The only field go-vex does not take from the document is the
		// @context, which it sets to the current one; the version defaults
		// to 1 in both.
		if got.Context != want.Context {
			t.Errorf("%s: context %q, go-vex %q", rel, got.Context, want.Context)
		}
		g, _ := vex.CanonicalDigest(&got)
		w, _ := vex.CanonicalDigest(want)
		if g != w || len(got.Statements) != len(want.Statements) {
			t.Errorf("%s: migrated document differs from go-vex's (digest %s vs %s)", rel, g, w)
		}
	}
	if n < 5 {
		t.Errorf("only %d v0.0.1 documents in the corpus, expected at least 5", n)
	}
}

// notCSAF are files under csaf/ that are not CSAF documents.
var notCSAF = map[string]string{
	"csaf/oasis-csaf_2.0/csaf_json_schema.json":              "the CSAF 2.0 JSON schema",
	"csaf/oasis-csaf_2.0/provider-metadata__example-01.json": "a CSAF provider-metadata.json (a trusted provider's directory, not an advisory)",
}

// csafRefused are real CSAF documents that must be refused, and why.
var csafRefused = map[string]error{
	// An informational advisory: no vulnerabilities, nothing to carry.
	"csaf/oasis-csaf_2.0/rhsa-2019_1862.json": vex.ErrCSAFCategory,
	// go-vex's own test file is not valid CSAF: its relationship points at
	// "ABC" (a branch name, not a product_id) and its product_status names
	// "ABC:CSAFPID-0002", which nothing defines (CSAF 2.0 mandatory test
	// 6.1.1, missing definition of product id).
	"csaf/go-vex/csaf__csaf.json": vex.ErrUnknownProduct,
}

func TestCSAFCorpus(t *testing.T) {
	for _, rel := range corpusFiles(t, "csaf") {
		t.Run(rel, func(t *testing.T) {
			doc, err := vex.ParseCSAF(readCorpus(t, rel))
			if _, skip := notCSAF[rel]; skip {
				if !errors.Is(err, vex.ErrNotCSAF) {
					t.Errorf("got %v, want ErrNotCSAF", err)
				}
				return
			}
			if want, refused := csafRefused[rel]; refused {
				if !errors.Is(err, want) {
					t.Errorf("got %v, want %v", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if doc.Issuer == "" || doc.IssuerNamespace == "" || doc.ID == "" || doc.Timestamp.IsZero() || len(doc.Statements) == 0 {
				t.Errorf("document %+v", doc)
			}
			for i, s := range doc.Statements {
				if s.Vulnerability == "" || !s.Status.Valid() || len(s.Products) == 0 {
					t.Errorf("statement %d: %+v", i, s)
				}
				for _, p := range s.Products {
					if p.ID == "" || p.Name == "" {
						t.Errorf("statement %d: product without id or name: %+v", i, p)
					}
				}
			}
		})
	}
}

// statusCounts counts products per vulnerability and status.
func statusCounts(doc *vex.Document) map[string]map[openvex.Status]int {
	out := map[string]map[openvex.Status]int{}
	for _, s := range doc.Statements {
		if out[s.Vulnerability] == nil {
			out[s.Vulnerability] = map[openvex.Status]int{}
		}
		out[s.Vulnerability][s.Status] += len(s.Products)
	}
	return out
}

func TestCSAFHandCounted(t *testing.T) {
	corpusFiles(t, "csaf")
	cases := []struct {
		file string
		want map[string]map[openvex.Status]int
		stmt int
	}{
		{
			// OASIS use case 8, counted by hand from the file:
			// CVE-2021-44228: known_affected 4 ids (CSAFPID-0002, -0003,
			// -0004, -0008), known_not_affected 5 (-0001, -0005, -0006,
			// -0007, -0009), fixed 2 (-0010, -0011), recommended 1 (-0011,
			// not a status: ignored).
			// CVE-2021-45105: known_affected 4 (-0002, -0003, -0004,
			// -0010), known_not_affected 5 (the same five), fixed 1 (-0011).
			// Statements: per vulnerability 2 affected (two remediation
			// texts), 2 not_affected (two impact threat texts), 1 fixed.
			file: "csaf/oasis-csaf_2.0/csaf_vex__2022-evd-uc-08-001.json",
			want: map[string]map[openvex.Status]int{
				"CVE-2021-44228": {openvex.StatusAffected: 4, openvex.StatusNotAffected: 5, openvex.StatusFixed: 2},
				"CVE-2021-45105": {openvex.StatusAffected: 4, openvex.StatusNotAffected: 5, openvex.StatusFixed: 1},
			},
			stmt: 10,
		},
		{
			// Red Hat RHSA-2021:5186 (csaf_security_advisory), by hand:
			// CVE-2021-4104 and CVE-2021-4125 each: fixed 1 id (the
			// ose-metering-hive image on 8Base-RHOSE-4.6), known_not_affected
			// 2 (the ose-metering-ansible-operator and its bundle). All three
			// are relationship products (default_component_of). The impact
			// threats name no products (they carry the severity), so the two
			// not-affected products share one statement.
			file: "csaf/oasis-csaf_2.0/rhsa-2021_5186.json",
			want: map[string]map[openvex.Status]int{
				"CVE-2021-4104": {openvex.StatusFixed: 1, openvex.StatusNotAffected: 2},
				"CVE-2021-4125": {openvex.StatusFixed: 1, openvex.StatusNotAffected: 2},
			},
			stmt: 4,
		},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			doc, err := vex.ParseCSAF(readCorpus(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			got := statusCounts(doc)
			if len(got) != len(c.want) {
				t.Errorf("vulnerabilities %v, want %v", got, c.want)
			}
			for v, w := range c.want {
				for st, n := range w {
					if got[v][st] != n {
						t.Errorf("%s %s: %d products, want %d", v, st, got[v][st], n)
					}
				}
				if len(got[v]) != len(w) {
					t.Errorf("%s: statuses %v, want %v", v, got[v], w)
				}
			}
			if len(doc.Statements) != c.stmt {
				t.Errorf("%d statements, want %d", len(doc.Statements), c.stmt)
			}
		})
	}

	// The Red Hat products resolve through relationships to their
	// component and platform, with the platform's CPE.
	doc, err := vex.ParseCSAF(readCorpus(t, "csaf/oasis-csaf_2.0/rhsa-2021_5186.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fixed *vex.Product
	for _, s := range doc.Statements {
		if s.Vulnerability == "CVE-2021-4104" && s.Status == openvex.StatusFixed {
			fixed = &s.Products[0]
		}
	}
	if fixed == nil || fixed.Relationship == nil {
		t.Fatalf("fixed product %+v has no relationship", fixed)
	}
	r := fixed.Relationship
	if r.Category != "default_component_of" || r.Platform.ID != "8Base-RHOSE-4.6" || r.Platform.CPE != "cpe:/a:redhat:openshift:4.6::el8" ||
		!strings.HasPrefix(r.Component.ID, "openshift4/ose-metering-hive:") || !strings.Contains(fixed.Name, "as a component of Red Hat OpenShift") {
		t.Errorf("relationship %+v of %q", r, fixed.Name)
	}
	uc8, err := vex.ParseCSAF(readCorpus(t, "csaf/oasis-csaf_2.0/csaf_vex__2022-evd-uc-08-001.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range uc8.Statements {
		switch {
		case s.Status == openvex.StatusAffected && s.ActionStatement == "":
			t.Errorf("affected statement without the remediation as action: %+v", s)
		case s.Status == openvex.StatusNotAffected && s.ImpactStatement == "":
			t.Errorf("not_affected statement without the impact threat: %+v", s)
		case s.Products[0].Name == "":
			t.Errorf("product without its full name: %+v", s.Products[0])
		}
	}
}
