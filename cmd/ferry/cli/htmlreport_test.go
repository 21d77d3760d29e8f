package cli_test

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/fixtures"
)

// htmlReportKits builds a store holding version 1 of a channel and a
// version 2 that adds an advisory and a vendor VEX document; it returns
// the directory, the store, the root and version 2's kit.
func htmlReportKits(t *testing.T) (dir, st, root, kit2 string) {
	t.Helper()
	dir = t.TempDir()
	c := fixtures.NewChannel("feeds")
	rec := func(id, cve, sev string) string {
		return `{"id":"` + id + `","modified":"2026-11-01T00:00:00Z","aliases":["` + cve + `"],"database_specific":{"severity":"` + sev +
			`"},"affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}` + "\n"
	}
	issuers := []byte(`{"issuers":[{"id":"https://vendor.example","name":"Vendor","rank":1,"tier":"vendor"}],"schema":"ferry.dev/issuers/v1"}`)
	v1 := map[string][]byte{
		"advisories/govulndb/osv.jsonl": []byte(rec("GO-2026-1001", "CVE-2026-1001", "HIGH") + rec("GO-2026-1003", "CVE-2026-1003", "LOW")),
		"trust/issuers.json":            issuers,
	}
	v2 := map[string][]byte{
		"advisories/govulndb/osv.jsonl":                            []byte(rec("GO-2026-1001", "CVE-2026-1001", "HIGH") + rec("GO-2026-1002", "CVE-2026-1002", "HIGH") + rec("GO-2026-1003", "CVE-2026-1003", "LOW")),
		"trust/issuers.json":                                       issuers,
		"vex/vendor/" + sha256Hex([]byte(gateVendorVEX)) + ".json": []byte(gateVendorVEX),
	}
	root = filepath.Join(dir, "root.json")
	write(t, root, string(c.Root()))
	kit1 := filepath.Join(dir, "feeds-1.kit.tar.zst")
	write(t, kit1, string(fixtures.Kit(c, v1, fixtures.KitOptions{Version: 1})))
	kit2 = filepath.Join(dir, "feeds-2.kit.tar.zst")
	write(t, kit2, string(fixtures.Kit(c, v2, fixtures.KitOptions{Version: 2, Created: fixtures.Created.Add(time.Hour)})))
	write(t, filepath.Join(dir, "app.cdx.json"), gateSBOM)
	st = filepath.Join(dir, "store")
	mustFerry(t, dir, "import", kit1, "--store", st, "--root", root, "--at=2026-11-28T01:00:00Z", "--reason", "test clock")
	return dir, st, root, kit2
}

// TestHTMLReports writes the verification report of a kit against the
// store's older version and the report of a signed gate decision, opens
// each in a real headless Chromium, checks that what a reader needs is
// visible, and keeps a screenshot and an A4 PDF of each in the artefact
// directory ($FERRY_ARTEFACTS/html-reports, else a ferry-artefacts folder
// in the system's temp dir), and checks that nothing is wider than the
// printable width of A4.
func TestHTMLReports(t *testing.T) {
	dir, st, _, kit2 := htmlReportKits(t)
	at := "--at=2026-12-01T00:00:00Z"
	verifyHTML := filepath.Join(dir, "verify.html")
	out := mustFerry(t, dir, "verify", kit2, "--store", st, at, "--html", verifyHTML).stdout
	if !strings.Contains(out, "OK") {
		t.Logf("verify output:\n%s", out)
	}

	policy := filepath.Join(dir, "policy.yaml")
	write(t, policy, gatePolicy)
	keyDir := filepath.Join(dir, "keys")
	mustFerry(t, dir, "keys", "generate", "--out", keyDir, "--name", "gate")
	record := filepath.Join(dir, "decision.json")
	// The store still holds version 1: CVE-2026-1001 (HIGH) blocks.
	if r := ferry(t, dir, "gate", "sbom:"+filepath.Join(dir, "app.cdx.json"), "--store", st, "--policy", policy, at,
		"-o", record, "--sign", filepath.Join(keyDir, "gate.key")); r.code != cli.ExitBlocked {
		t.Fatalf("gate: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	decisionHTML := filepath.Join(dir, "decision.html")
	mustFerry(t, dir, "gate", "explain", record, "--html", decisionHTML)
	// gate --html writes the same page as gate explain --html.
	fromGate := filepath.Join(dir, "decision-gate.html")
	if r := ferry(t, dir, "gate", "sbom:"+filepath.Join(dir, "app.cdx.json"), "--store", st, "--policy", policy, at,
		"-o", record, "--sign", filepath.Join(keyDir, "gate.key"), "--html", fromGate); r.code != cli.ExitBlocked {
		t.Fatalf("gate --html: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if readFile(t, fromGate) != readFile(t, decisionHTML) {
		t.Error("gate --html and gate explain --html differ for one record")
	}

	// The same input gives the same bytes.
	again := filepath.Join(dir, "decision-again.html")
	mustFerry(t, dir, "gate", "explain", record, "--html", again)
	if a, b := readFile(t, decisionHTML), readFile(t, again); a != b {
		t.Error("two renderings of one decision differ")
	}
	for _, f := range []string{verifyHTML, decisionHTML} {
		s := readFile(t, f)
		for _, bad := range []string{"<script", "src=\"http", "href=\"http", "@import", "url("} {
			if strings.Contains(s, bad) {
				t.Errorf("%s is not self-contained: it holds %q", filepath.Base(f), bad)
			}
		}
	}

	browser := chromiumPath(t)
	arts := artefactDir(t, "html-reports")
	ctx := chromiumContext(t, browser)
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"verify", verifyHTML, []string{"VERIFIED", "Who signed it", "Signer key id", "PASS",
			"Every file has the signed length and sha256", "Not older than the version the site trusts (rollback)",
			"What the kit holds", "advisories", "What changed since the store's version", "holds version 1 of channel feeds",
			"this kit is version 2", "new in this kit"}},
		{"decision", decisionHTML, []string{"Gate decision: BLOCK", "GATE_SEVERITY", "Blocking findings (1)", "CVE-2026-1001",
			"example.com/lib", "To waive it", "- vuln: CVE-2026-1001", "Evidence chain", "decision.intoto.jsonl",
			"ferry gate verify", "Signed targets metadata", "feeds", "ferry gate replay"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			text, fits := renderInChromium(t, ctx, c.file, filepath.Join(arts, c.name))
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("the page does not show %q; it shows:\n%s", w, text)
				}
			}
			if !fits {
				t.Errorf("%s is wider than the printable width of A4", c.name)
			}
		})
	}
	t.Logf("artefacts (HTML, PNG screenshots, A4 PDFs) in %s", arts)
	for _, f := range []string{verifyHTML, decisionHTML} {
		if err := os.WriteFile(filepath.Join(arts, filepath.Base(f)), []byte(readFile(t, f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// chromiumPath finds Chromium ($FERRY_CHROMIUM, chromium, chromium-browser,
// google-chrome), or skips loudly; under FERRY_REQUIRE_TOOLS=1 it fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FERRY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "Chromium is not on PATH (chromium, chromium-browser, google-chrome or $FERRY_CHROMIUM), so the HTML reports were not opened in a browser. " +
		"Install it with: bash scripts/install-tools.sh chromium"
	if os.Getenv("FERRY_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg + " (FERRY_REQUIRE_TOOLS=1)")
	}
	t.Skip("SKIPPED: " + msg)
	return ""
}

// artefactDir returns (and makes) the directory a test keeps what a person
// may want to look at: $FERRY_ARTEFACTS/name, else ferry-artefacts/name in
// the system's temp dir.
func artefactDir(t *testing.T, name string) string {
	t.Helper()
	base := os.Getenv("FERRY_ARTEFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "ferry-artefacts")
	}
	d := filepath.Join(base, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// chromiumContext starts one headless Chromium for the test.
func chromiumContext(t *testing.T, browser string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // containers run tests as root
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", browser, err)
	}
	return ctx
}

// A4 at 96 CSS pixels per inch, less the report's @page margins (12 mm
// left and right): the width printed content must fit.
const (
	a4WidthInches    = 210 / 25.4
	a4HeightInches   = 297 / 25.4
	a4PrintableWidth = (210 - 2*12) / 25.4 * 96
)

// renderInChromium opens file, returns the text a reader sees, saves a
// full-page screenshot (base.png) and an A4 PDF (base.pdf), and tells
// whether the page, laid out for print at A4's printable width, has no
// horizontal overflow.
func renderInChromium(t *testing.T, parent context.Context, file, base string) (text string, fits bool) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	defer cancel()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("chromium, %s of %s: %v", what, file, err)
		}
	}
	fail("opening", chromedp.Do(ctx, chromedp.Navigate("file://"+abs), chromedp.WaitReady("body")))
	text, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	fail("reading the text", err)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; less is JPEG
	fail("the screenshot", err)
	pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperSize{Width: a4WidthInches, Height: a4HeightInches}),
		chromedp.PDFPreferCSSPageSize(), chromedp.PDFPrintBackground()))
	fail("printing to PDF", err)
	printMedia := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
		return chromedp.Void{}, err
	}
	fail("laying out for print", chromedp.Do(ctx, printMedia, chromedp.EmulateViewport(int64(math.Floor(a4PrintableWidth)), 1123)))
	fits, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= document.documentElement.clientWidth`))
	fail("measuring the width", err)
	if len(pdf) < 1000 || !strings.HasPrefix(string(pdf), "%PDF") {
		t.Errorf("the PDF of %s is not a PDF (%d bytes)", file, len(pdf))
	}
	if err := os.WriteFile(base+".png", png, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".pdf", pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	return text, fits
}
