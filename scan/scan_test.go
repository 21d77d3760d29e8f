package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/google/go-cmp/cmp"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

type entry struct {
	name string
	body []byte
	mode int64
}

func tarLayer(t testing.TB, es ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: mode, Size: int64(len(e.body)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.body)
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// goBinary returns the bytes of a real Go binary: the toolchain's gofmt.
func goBinaryBytes(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "bin", "gofmt"))
	if err != nil {
		t.Skipf("SKIPPED: no gofmt binary in GOROOT to use as a Go binary: %v", err)
	}
	return b
}

const dpkgStatus = `Package: libssl3
Status: install ok installed
Source: openssl
Version: 3.0.11-1~deb12u1
Architecture: amd64

Package: gone
Status: install ok installed
Version: 1.0
Architecture: amd64
`

const osRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"

// testImage: layer 0 has os-release, dpkg status and two Go binaries;
// layer 1 deletes one binary (whiteout) and hides /opt (opaque dir) and
// adds the dpkg status again with one package less.
func testImage(t testing.TB) (v1.Image, []v1.Layer) {
	gob := goBinaryBytes(t)
	l0 := tarLayer(t,
		entry{name: "etc/os-release", body: []byte(osRelease)},
		entry{name: "var/lib/dpkg/status", body: []byte(dpkgStatus)},
		entry{name: "usr/local/bin/app", body: gob, mode: 0o755},
		entry{name: "usr/local/bin/old", body: gob, mode: 0o755},
		entry{name: "opt/x/app2", body: gob, mode: 0o755},
	)
	l1 := tarLayer(t,
		entry{name: "usr/local/bin/.wh.old"},
		entry{name: "opt/.wh..wh..opq"},
		entry{name: "var/lib/dpkg/status", body: []byte(strings.Split(dpkgStatus, "\n\n")[0] + "\n")},
	)
	img, err := mutate.AppendLayers(empty.Image, l0, l1)
	if err != nil {
		t.Fatal(err)
	}
	return img, []v1.Layer{l0, l1}
}

func digestOf(t testing.TB, l v1.Layer) string {
	d, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestImageLayersAndWhiteouts(t *testing.T) {
	img, layers := testImage(t)
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("example.com/app:1")
	if err := tarball.WriteToFile(filepath.Join(dir, "image.tar"), tag, img); err != nil {
		t.Fatal(err)
	}
	adv := NewMemory(rec(t, goRec))
	var outs [][]byte
	for _, target := range []string{"oci:" + filepath.Join(dir, "layout"), "docker-archive:" + filepath.Join(dir, "image.tar")} {
		rep, err := Scan(context.Background(), target, adv, Options{})
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		var got []string
		for _, pk := range rep.Packages {
			if pk.Name == "stdlib" || pk.Ecosystem == "Debian:12" {
				got = append(got, pk.Ecosystem+" "+pk.Name+" "+pk.Location.Path+" "+map[string]string{digestOf(t, layers[0]): "L0", digestOf(t, layers[1]): "L1"}[pk.Location.Layer])
			}
		}
		want := []string{
			"Debian:12 libssl3 var/lib/dpkg/status L1",
			"Go stdlib usr/local/bin/app L0",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: packages:\n%s\nwant:\n%s", target, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if len(rep.Summary.NoAdvisoryData) != 1 || rep.Summary.NoAdvisoryData[0] != "Debian:12" {
			t.Errorf("no advisory data: %v", rep.Summary.NoAdvisoryData)
		}
		var src bytes.Buffer
		for _, pk := range rep.Packages {
			if pk.Name == "libssl3" {
				src.WriteString(pk.SourceName)
			}
		}
		if src.String() != "openssl" {
			t.Errorf("source package: %q", src.String())
		}
		j, _ := json.Marshal(rep.Packages)
		outs = append(outs, j)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("OCI layout and docker archive of the same image give different inventories")
	}
}

// TestImageProgress: a scan of an image tells its progress layer by layer,
// for an OCI layout and a docker archive alike; other targets tell none.
func TestImageProgress(t *testing.T) {
	img, _ := testImage(t)
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("example.com/app:1")
	if err := tarball.WriteToFile(filepath.Join(dir, "image.tar"), tag, img); err != nil {
		t.Fatal(err)
	}
	adv := NewMemory(rec(t, goRec))
	for _, target := range []string{"oci:" + filepath.Join(dir, "layout"), "docker-archive:" + filepath.Join(dir, "image.tar")} {
		var got []string
		opts := Options{Progress: func(done, layers int) { got = append(got, fmt.Sprintf("%d/%d", done, layers)) }}
		if _, err := Scan(context.Background(), target, adv, opts); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if want := "0/2 1/2 2/2"; strings.Join(got, " ") != want {
			t.Errorf("%s: progress %q, want %q", target, strings.Join(got, " "), want)
		}
	}
	sbom := filepath.Join(dir, "app.cdx.json")
	if err := os.WriteFile(sbom, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	called := false
	if _, err := Scan(context.Background(), "sbom:"+sbom, adv, Options{Progress: func(int, int) { called = true }}); err != nil {
		t.Fatal(err)
	}
	if called {
		t.Error("progress for an SBOM")
	}
}

// TestLayerEntryNames: a layer entry whose name leaves the root refuses
// the image; names that only look odd are read where they point.
func TestLayerEntryNames(t *testing.T) {
	for _, c := range []struct {
		name   string
		unsafe bool
	}{
		{"../../etc/passwd", true},
		{"etc/../../passwd", true},
		{"./../passwd", true},
		{"a/b/../../../c", true},
		{"..", false}, // names the root itself: skipped, like "."
		{"./etc/os-release", false},
		{"/etc/os-release", false},
		{"etc//os-release", false},
		{"etc/..dots/file", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			img, err := mutate.AppendLayers(empty.Image, tarLayer(t, entry{name: c.name, body: []byte("ID=x\n")}))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = imageInventory(context.Background(), img, t.TempDir(), nil, nil, nil)
			if refused := err != nil && errors.Is(err, ErrUnsafePath); refused != c.unsafe || (err != nil && !c.unsafe) {
				t.Fatalf("got %v, want unsafe=%v", err, c.unsafe)
			}
		})
	}
}

// testReport scans a directory holding a real Go binary against records
// that match its stdlib, with a fixed time.
func testReport(t testing.TB) *Report {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app"), goBinaryBytes(t), 0o755); err != nil {
		t.Fatal(err)
	}
	ver := strings.TrimPrefix(runtime.Version(), "go")
	r1 := rec(t, `{"id":"GO-2099-0100","modified":"2021-01-01T00:00:00Z","aliases":["CVE-2099-0100"],"summary":"stdlib bug",
	 "affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"99.0.0"}]}]}]}`)
	r2 := rec(t, `{"id":"GHSA-aaaa-bbbb-cccc","modified":"2021-01-01T00:00:00Z","aliases":["CVE-2099-0100"],"summary":"ghsa",
	 "severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
	 "affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"versions":["`+ver+`"]}]}`)
	adv := NewMemory(r1, r2)
	adv.SetKEV([]string{"CVE-2099-0100"})
	adv.SetEPSS("CVE-2099-0100", 0.5, 0.9)
	rep, err := Scan(context.Background(), "dir:"+dir, adv, Options{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Tool: "ferry test"})
	if err != nil {
		t.Fatal(err)
	}
	rep.Target.Ref = "dir:ROOT" // the temp dir differs between runs
	return rep
}

func TestReportFormatsDeterministic(t *testing.T) {
	a, b := testReport(t), testReport(t)
	if len(a.Findings) != 1 || !a.Findings[0].KEV || a.Findings[0].EPSS == nil || a.Findings[0].Severity.Rating != RatingCritical {
		t.Fatalf("findings: %+v", a.Findings)
	}
	for _, f := range Formats {
		var x, y bytes.Buffer
		if err := Write(&x, a, f); err != nil {
			t.Fatal(err)
		}
		if err := Write(&y, b, f); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x.Bytes(), y.Bytes()) {
			t.Errorf("%s: two scans of the same input differ", f)
		}
		if x.Len() == 0 {
			t.Errorf("%s: empty output", f)
		}
	}
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	f, err := os.Open(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	const id = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	c.AssertFormat()
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	validate := func(name string, b []byte) error {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return sch.Validate(v)
	}
	// The validator accepts a real scanner's SARIF (the corpus's grype run),
	// when make conformance points FERRY_CORPUS at the corpus.
	if corpus := os.Getenv("FERRY_CORPUS"); corpus != "" {
		real, err := os.ReadFile(filepath.Join(corpus, "scanner-output", "nginx-grype.sarif.json"))
		if err == nil {
			if err := validate("grype", real); err != nil {
				t.Errorf("the corpus's real SARIF does not validate: %v", err)
			}
		}
	}
	// ... and refuses a broken one, so the check has teeth.
	if err := validate("broken", []byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`)); err == nil {
		t.Error("a driver without name validated")
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, rep := range []*Report{testReport(t), {Schema: SchemaVersion, Findings: []Finding{}, Time: &at}} {
		var buf bytes.Buffer
		if err := Write(&buf, rep, "sarif"); err != nil {
			t.Fatal(err)
		}
		if err := validate("ferry", buf.Bytes()); err != nil {
			t.Errorf("ferry's SARIF does not validate: %v\n%s", err, buf.String())
		}
	}
}

func TestSBOMInventory(t *testing.T) {
	dir := t.TempDir()
	cdx := `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
	 {"type":"library","bom-ref":"c1","name":"golang.org/x/text","version":"v0.3.5","purl":"pkg:golang/golang.org/x/text@v0.3.5"},
	 {"type":"library","bom-ref":"c2","name":"openssl","version":"3.0.11-1~deb12u1","purl":"pkg:deb/debian/openssl@3.0.11-1~deb12u1?distro=debian-12"},
	 {"type":"library","bom-ref":"c3","name":"nopurl","version":"1"}]}`
	spdx := `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"x","documentNamespace":"https://example.com/x",
	 "creationInfo":{"created":"2024-01-01T00:00:00Z","creators":["Tool: test"]},
	 "packages":[{"name":"golang.org/x/text","SPDXID":"SPDXRef-text","versionInfo":"v0.3.5","downloadLocation":"NOASSERTION",
	   "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:golang/golang.org/x/text@v0.3.5"}]}]}`
	os.WriteFile(filepath.Join(dir, "a.cdx.json"), []byte(cdx), 0o644)
	os.WriteFile(filepath.Join(dir, "a.spdx.json"), []byte(spdx), 0o644)
	adv := testAdvisories(t)
	for _, c := range []struct {
		file string
		want []string // SBOM reference and finding id
	}{
		{"a.cdx.json", []string{"c2 DSA-0001-1", "c1 CVE-2021-38561"}},
		{"a.spdx.json", []string{"SPDXRef-text CVE-2021-38561"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			rep, err := Scan(context.Background(), "sbom:"+filepath.Join(dir, c.file), adv, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.Locations[0].SBOMRef+" "+f.ID)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
		})
	}
}

// TestScanOffline runs ferry scan inside a network namespace without
// interfaces and checks the output equals a normal run's.
func TestScanOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry")
	}
	if err := exec.Command("unshare", "-n", "true").Run(); err != nil {
		t.Skipf("SKIPPED LOUDLY: cannot create a network namespace here (unshare -n: %v); the offline guarantee rests on internal/depcheck alone", err)
	}
	dir := t.TempDir()
	ferry := filepath.Join(dir, "ferry")
	if out, err := exec.Command("go", "build", "-o", ferry, "../cmd/ferry").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "root")
	os.MkdirAll(root, 0o755)
	os.WriteFile(filepath.Join(root, "app"), goBinaryBytes(t), 0o755)
	advDir := filepath.Join(dir, "adv")
	os.MkdirAll(advDir, 0o755)
	os.WriteFile(filepath.Join(advDir, "a.json"), []byte(goRec), 0o644)
	os.WriteFile(filepath.Join(advDir, "b.json"), []byte(anyRec), 0o644)
	run := func(prefix ...string) []byte {
		args := append(prefix, ferry, "scan", "dir:"+root, "--advisories", advDir, "--format", "json", "--at", "2026-01-01T00:00:00Z")
		cmd := exec.Command(args[0], args[1:]...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		return out.Bytes()
	}
	online, offline := run(), run("unshare", "-n")
	if !bytes.Equal(online, offline) {
		t.Errorf("output differs without network:\n%s\n---\n%s", online, offline)
	}
	if !bytes.Contains(offline, []byte(`"stdlib"`)) {
		t.Errorf("offline scan found no stdlib:\n%s", offline)
	}
}
