//go:build e2e

// Package e2e_test is the whole journey across a real network boundary
// (make e2e). The connected side runs the real distribution registry on
// loopback and an HTTPS server for the OSV, CISA KEV, EPSS and VEX feeds and
// a TUF repository (whose target the kit carries), and builds a
// signed kit. The kit file is the only thing that crosses. The offline side
// runs in a network namespace whose only interface is loopback (unshare -rn,
// or unshare -n as root): verify, import, push the images into a registry
// started inside the namespace, scan, VEX consensus, a signed gate, replay,
// explain, and the real cosign verifying the decision. The next day a new
// advisory and a VEX update are published: the connected side builds a
// delta kit against day 1's kit in two parts, and only the parts and their
// signed index cross; the offline side verifies and imports the delta,
// re-runs the signed gates, shows what changed (gate diff, kit diff) and
// replays day 1's records from the store's history. Then the offline
// commands run once more in Go's FIPS 140-3 mode. Every command's
// output is kept in the artefact directory (FERRY_E2E_OUT, printed at the
// end); every offline ferry command runs under strace, when installed, and
// the test fails if one of them opens a socket to a non-loopback address.
package e2e_test

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	mrand "math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/tuftest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// offlineEnv carries the offline half's configuration (JSON) to the copy of
// the test binary that runs inside the namespace.
const offlineEnv = "FERRY_E2E_OFFLINE"

// config is what the offline half gets: tool paths and the directory
// holding what crossed. Nothing else of the connected side.
type config struct {
	Ferry     string // the ferry binary
	Registry  string // the distribution registry binary
	Cosign    string
	Strace    string // "" when not installed
	Dir       string // the offline side's directory: the kit and the pinned root
	Artefacts string
	Image     string // sha256:… of the image the kit carries
	At        string // evaluation time of the gates, RFC 3339
	Delta     string // the day-2 delta kit's name (its parts are Delta.001, …)
	At2       string // the next day's evaluation time, RFC 3339
}

func required() bool { return os.Getenv("CI") == "true" || os.Getenv("FERRY_REQUIRE_TOOLS") == "1" }

// tool finds an external tool in the tools cache or on PATH; missing, it
// skips (fails in CI and under FERRY_REQUIRE_TOOLS=1).
func tool(t *testing.T, names ...string) string {
	t.Helper()
	cache := os.Getenv("FERRY_TOOLS_CACHE")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "ferry", "bin")
		}
	}
	for _, n := range names {
		if p := filepath.Join(cache, n); cache != "" {
			if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
				return p
			}
		}
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s is neither in %s nor on PATH: install it with bash scripts/install-tools.sh %s", names[0], cache, names[0])
	if required() {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED: " + msg)
	return ""
}

// artefacts is the directory every command's output goes to.
func artefacts(t *testing.T) string {
	dir := os.Getenv("FERRY_E2E_OUT")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ferry-e2e-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// steps runs commands, keeping each one's command line, output and exit
// code in the artefact directory as NN-name.txt.
type steps struct {
	t      *testing.T
	out    string // artefact directory
	prefix string // "connected" or "offline"
	n      int
	env    []string
	strace string // run ferry under strace and check its connections
}

// run runs argv in dir, wants exit code want, and returns its stdout.
func (s *steps) run(name, dir string, want int, argv ...string) string {
	s.t.Helper()
	s.n++
	base := filepath.Join(s.out, fmt.Sprintf("%s-%02d-%s", s.prefix, s.n, name))
	cmdline := argv
	trace := ""
	if s.strace != "" {
		trace = base + ".strace"
		cmdline = append([]string{s.strace, "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", trace}, argv...)
	}
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), s.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%s: %v", name, err)
	}
	var log bytes.Buffer
	fmt.Fprintf(&log, "$ %s\n(in %s)\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(argv, " "), dir, code, stdout.Bytes(), stderr.Bytes())
	if err := os.WriteFile(base+".txt", log.Bytes(), 0o644); err != nil {
		s.t.Fatal(err)
	}
	if code != want {
		s.t.Fatalf("%s: exit %d, want %d\n%s", name, code, want, log.Bytes())
	}
	if trace != "" {
		if bad := nonLoopback(s.t, trace); len(bad) > 0 {
			s.t.Errorf("%s opened sockets to non-loopback addresses:\n%s", name, strings.Join(bad, "\n"))
		}
	}
	return stdout.String()
}

var sockaddr = regexp.MustCompile(`inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"`)

// nonLoopback returns the strace lines of a trace that address anything
// but loopback.
func nonLoopback(t *testing.T, trace string) []string {
	t.Helper()
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, l := range strings.Split(string(data), "\n") {
		for _, m := range sockaddr.FindAllStringSubmatch(l, -1) {
			addr := m[1] + m[2]
			if ip := net.ParseIP(addr); ip == nil || !ip.IsLoopback() && !ip.IsUnspecified() {
				bad = append(bad, l)
			}
		}
	}
	return bad
}

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startRegistry runs the real distribution registry on a loopback address,
// anonymous, its log kept as an artefact; it returns host:port.
func startRegistry(t *testing.T, bin, dir, logName string) string {
	t.Helper()
	addr := freePort(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "version: 0.1\nlog: {level: info}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s}\n",
		filepath.Join(dir, "registry-data"), addr), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(logName)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait(); logf.Close() })
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if i > 200 {
			t.Fatalf("the registry on %s did not come up: %v (log: %s)", addr, err, logName)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	write(t, to, string(data))
}

// The feeds: three Go advisories for example.com/lib v1.0.0 (two HIGH, one
// LOW), and the vendor's not_affected for one of the HIGH ones. The next
// day a fourth advisory (HIGH) is published and the vendor's VEX document,
// version 2, also says not_affected for CVE-2026-1001.
func osvRecord(id, cve, sev string) string {
	return `{"id":"` + id + `","modified":"2026-11-01T00:00:00Z","aliases":["` + cve + `"],"database_specific":{"severity":"` + sev +
		`"},"affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}`
}

const vendorVEX = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://vendor.example/vex/7",
  "author": "https://vendor.example",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2026-1002"},
    "products": [{"@id": "pkg:golang/example.com/lib"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}
`

// vendorVEX2 is the next day's update of the vendor's document.
const vendorVEX2 = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://vendor.example/vex/7",
  "author": "https://vendor.example",
  "timestamp": "2026-11-02T00:00:00Z",
  "version": 2,
  "statements": [{
    "vulnerability": {"name": "CVE-2026-1002"},
    "products": [{"@id": "pkg:golang/example.com/lib"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }, {
    "vulnerability": {"name": "CVE-2026-1001"},
    "products": [{"@id": "pkg:golang/example.com/lib"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_present"
  }]
}
`

const appSBOM = `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[
 {"type":"library","bom-ref":"lib","name":"example.com/lib","version":"v1.0.0","purl":"pkg:golang/example.com/lib@v1.0.0"}]}
`

const policy = `apiVersion: ferry.dev/policy/v1
default:
  block:
    severity: high
    kev: true
  unknowns: {max: 10}
`

func osvZip(t *testing.T, records [][3]string) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	for _, r := range records {
		w, err := zw.Create(r[0] + ".json")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(osvRecord(r[0], r[1], r[2])))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// kevCatalog is a CISA KEV catalog in its published shape.
const kevCatalog = `{"title":"CISA Catalog of Known Exploited Vulnerabilities","catalogVersion":"2026.11.01","dateReleased":"2026-11-01T12:00:00.000Z","count":1,
"vulnerabilities":[{"cveID":"CVE-2026-1001","vendorProject":"Example","product":"lib","vulnerabilityName":"Example lib flaw","dateAdded":"2026-10-30","shortDescription":"-","requiredAction":"Apply updates.","dueDate":"2026-11-20","knownRansomwareCampaignUse":"Unknown","notes":"","cwes":[]}]}
`

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// feeds serves the OSV zip and the VEX document over HTTPS; it returns the
// base URL, the PEM file of the server's certificate, which the mirror
// trusts through SSL_CERT_FILE, and a function that turns the feeds to the
// next day's.
func feeds(t *testing.T, dir string) (string, string, func()) {
	t.Helper()
	day1 := [][3]string{{"GO-2026-1001", "CVE-2026-1001", "HIGH"}, {"GO-2026-1002", "CVE-2026-1002", "HIGH"}, {"GO-2026-1003", "CVE-2026-1003", "LOW"}}
	zips := [2][]byte{osvZip(t, day1), osvZip(t, append(day1, [3]string{"GO-2026-1004", "CVE-2026-1004", "HIGH"}))}
	vexes := [2]string{vendorVEX, vendorVEX2}
	var day atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/osv/all.zip", func(w http.ResponseWriter, _ *http.Request) { w.Write(zips[day.Load()]) })
	mux.HandleFunc("/vex/vendor.openvex.json", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(vexes[day.Load()])) })
	// CISA KEV and EPSS, in their published formats: CVE-2026-1001 is
	// known exploited and likely to be (the gate's record says both).
	mux.HandleFunc("/kev/known_exploited_vulnerabilities.json", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(kevCatalog)) })
	epss := gzipped(t, "#model_version:v2025.03.14,score_date:2026-11-01T00:00:00+0000\ncve,epss,percentile\nCVE-2026-1001,0.91000,0.99000\nCVE-2026-1002,0.00100,0.10000\n")
	mux.HandleFunc("/epss/epss_scores-current.csv.gz", func(w http.ResponseWriter, _ *http.Request) { w.Write(epss) })
	// A TUF repository (root rotated 1 → 2, consistent snapshots) whose
	// target the kit carries; the site re-verifies it from the pinned root.
	repo := tuftest.New(t, time.Now().UTC(), map[string][]byte{
		"trusted_root.json": []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[]}` + "\n"),
	})
	write(t, filepath.Join(dir, "tuf-root.json"), string(repo.Root1))
	mux.Handle("/tuf/", http.StripPrefix("/tuf", repo))
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	ca := filepath.Join(dir, "feeds-ca.pem")
	write(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	return srv.URL, ca, func() { day.Store(1) }
}

// namespace returns the unshare command that gives a network namespace
// with only loopback, or skips (fails in CI).
func namespace(t *testing.T) []string {
	t.Helper()
	bin, err := exec.LookPath("unshare")
	if err == nil {
		for _, args := range [][]string{{bin, "-rn"}, {bin, "-n"}} {
			if exec.Command(args[0], append(args[1:], "true")...).Run() == nil {
				return args
			}
		}
		err = fmt.Errorf("neither unshare -rn nor unshare -n is permitted")
	}
	if required() {
		t.Fatalf("no network namespace: %v", err)
	}
	t.Skipf("SKIPPED: no network namespace: %v", err)
	return nil
}

func TestE2E(t *testing.T) {
	unshare := namespace(t)
	cfg := config{
		Registry: tool(t, "registry", "docker-registry"),
		Cosign:   tool(t, "cosign"),
	}
	if p, err := exec.LookPath("strace"); err == nil {
		cfg.Strace = p
	} else if required() {
		t.Fatal("strace is not installed: the offline side's connections cannot be checked (apt-get install strace)")
	}
	out := artefacts(t)
	cfg.Artefacts = out
	t.Logf("artefacts: %s", out)
	work := t.TempDir()
	cfg.Ferry = filepath.Join(work, "bin", "ferry")
	build := exec.Command("go", "build", "-o", cfg.Ferry, "./cmd/ferry")
	build.Dir = ".."
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}

	// The connected side.
	conn := filepath.Join(work, "connected")
	reg := startRegistry(t, cfg.Registry, conn, filepath.Join(out, "connected-registry.log"))
	img, err := random.Image(4096, 3, random.WithSource(mrand.New(mrand.NewSource(1))))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(reg+"/app/api:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	cfg.Image = digest.String()
	base, ca, nextDay := feeds(t, conn)
	write(t, filepath.Join(conn, "issuers.yaml"), "issuers:\n  - id: https://vendor.example\n    name: Vendor\n    tier: vendor\n")
	spec := `name: e2e
channel: e2e-feeds
version: %[3]d
expires: 30d
advisories:
  - name: govulndb
    osv: {url: %[1]s/osv/all.zip}
  - name: kev
    kev: {url: %[1]s/kev/known_exploited_vulnerabilities.json}
  - name: epss
    epss: {url: %[1]s/epss/epss_scores-current.csv.gz}
vex:
  - name: vendor
    openvex: {url: %[1]s/vex/vendor.openvex.json}
trust:
  - name: sigstore
    tuf:
      url: %[1]s/tuf
      root: tuf-root.json
      targets: [trusted_root.json]
issuers: issuers.yaml
images:
  - ref: %[2]s/app/api:1
registries:
  %[2]s: {insecure: true}
`
	write(t, filepath.Join(conn, "kit.yaml"), fmt.Sprintf(spec, base, reg, 1))
	c := &steps{t: t, out: out, prefix: "connected", env: []string{"SSL_CERT_FILE=" + ca, "NO_COLOR=1"}}
	c.run("keys-root", conn, 0, cfg.Ferry, "keys", "generate", "--out", "keys", "--name", "root")
	c.run("keys-signer", conn, 0, cfg.Ferry, "keys", "generate", "--out", "keys", "--name", "signer")
	c.run("trust-init", conn, 0, cfg.Ferry, "trust", "init", "--channel", "e2e-feeds", "--root-key", "keys/root.key",
		"--signing-key", "keys/signer.pub", "--out", "trust/root.json")
	c.run("mirror-check", conn, 0, cfg.Ferry, "mirror", "--check", "-f", "kit.yaml")
	c.run("mirror", conn, 0, cfg.Ferry, "mirror", "-f", "kit.yaml", "-o", "e2e-1.kit.tar.zst", "--key", "keys/signer.key", "--no-progress")
	c.run("inspect", conn, 0, cfg.Ferry, "inspect", "e2e-1.kit.tar.zst")

	// The next day: a new advisory and the vendor's VEX update. The delta
	// kit against day 1's kit is built once whole, to learn its size, then
	// again in two parts of half that size (the same inputs and time give
	// the same bytes); only the parts and their signed index cross.
	nextDay()
	write(t, filepath.Join(conn, "kit.yaml"), fmt.Sprintf(spec, base, reg, 2))
	d := &steps{t: t, out: out, prefix: "connected-day2", env: append(slices.Clone(c.env), "SOURCE_DATE_EPOCH="+strconv.FormatInt(time.Now().Unix(), 10))}
	cfg.Delta = "e2e-2.delta.kit.tar.zst"
	d.run("mirror-delta-whole", conn, 0, cfg.Ferry, "mirror", "-f", "kit.yaml", "--base", "e2e-1.kit.tar.zst", "-o", "whole.delta.kit.tar.zst",
		"--key", "keys/signer.key", "--no-progress")
	fi, err := os.Stat(filepath.Join(conn, "whole.delta.kit.tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	half := strconv.FormatInt((fi.Size()+1)/2, 10)
	d.run("mirror-delta-split", conn, 0, cfg.Ferry, "mirror", "-f", "kit.yaml", "--base", "e2e-1.kit.tar.zst", "-o", cfg.Delta,
		"--key", "keys/signer.key", "--no-progress", "--split", half)
	parts := []string{cfg.Delta + ".001", cfg.Delta + ".002", cfg.Delta + ".parts.json"}
	if _, err := os.Stat(filepath.Join(conn, cfg.Delta+".003")); err == nil {
		t.Fatalf("the delta (%d bytes) in parts of %s bytes has a third part", fi.Size(), half)
	}
	if _, err := os.Stat(filepath.Join(conn, cfg.Delta)); err == nil {
		t.Fatalf("mirror --split wrote the whole delta %s beside its parts", cfg.Delta)
	}
	d.run("inspect-delta", conn, 0, cfg.Ferry, "inspect", "whole.delta.kit.tar.zst")

	// What crosses: the kit file. The channel's root was pinned at the
	// site beforehand, out of band (it is what the site trusts).
	off := filepath.Join(work, "offline")
	cfg.Dir = off
	copyFile(t, filepath.Join(conn, "e2e-1.kit.tar.zst"), filepath.Join(off, "e2e-1.kit.tar.zst"))
	copyFile(t, filepath.Join(conn, "trust", "root.json"), filepath.Join(off, "pinned-root.json"))
	for _, p := range parts {
		copyFile(t, filepath.Join(conn, p), filepath.Join(off, p))
	}
	now := time.Now().UTC().Truncate(time.Second)
	cfg.At = now.Add(time.Hour).Format(time.RFC3339)
	cfg.At2 = now.Add(2 * time.Hour).Format(time.RFC3339)

	js, _ := json.Marshal(cfg)
	cmd := exec.Command(unshare[0], append(unshare[1:], os.Args[0], "-test.run=^TestE2EOffline$", "-test.count=1", "-test.v", "-test.timeout=10m")...)
	cmd.Env = append(os.Environ(), offlineEnv+"="+string(js))
	combined, err := cmd.CombinedOutput()
	write(t, filepath.Join(out, "offline.log"), string(combined))
	if err != nil || !bytes.Contains(combined, []byte("--- PASS: TestE2EOffline")) {
		t.Fatalf("the offline side (%s) failed: %v\n%s", strings.Join(unshare, " "), err, combined)
	}
	t.Logf("the journey passed; every command's output is in %s", out)
}

// TestE2EOffline is the offline half of TestE2E, run inside the network
// namespace; on its own it does nothing.
func TestE2EOffline(t *testing.T) {
	js := os.Getenv(offlineEnv)
	if js == "" {
		return
	}
	var cfg config
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		t.Fatal(err)
	}
	// The namespace has loopback and nothing else: no route leaves it.
	dev, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(dev), "\n")[2:] {
		if f := strings.Fields(l); len(f) > 0 && f[0] != "lo:" {
			t.Fatalf("the offline side has an interface other than loopback: %s\n%s", f[0], dev)
		}
	}
	write(t, filepath.Join(cfg.Artefacts, "offline-interfaces.txt"), string(dev))
	if b, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, b)
	}
	if cfg.Strace == "" {
		t.Log("strace is not installed: sockets are checked by the namespace alone (loopback only)")
	}
	dir := cfg.Dir
	s := &steps{t: t, out: cfg.Artefacts, prefix: "offline", env: []string{"NO_COLOR=1"}, strace: cfg.Strace}
	ferry := cfg.Ferry
	at := "--at=" + cfg.At
	write(t, filepath.Join(dir, "policy.yaml"), policy)
	write(t, filepath.Join(dir, "app.cdx.json"), appSBOM)

	s.run("verify", dir, 0, ferry, "verify", "e2e-1.kit.tar.zst", "--root", "pinned-root.json", at)
	s.run("import", dir, 0, ferry, "import", "e2e-1.kit.tar.zst", "--store", "store", "--root", "pinned-root.json", at, "--reason", "e2e clock")
	s.run("store-info", dir, 0, ferry, "store", "info", "--store", "store")

	// The site registry, inside the namespace.
	site := startRegistry(t, cfg.Registry, dir, filepath.Join(cfg.Artefacts, "offline-registry.log"))
	s.run("images-push", dir, 0, ferry, "images", "push", "--store", "store", "--to", site, "--insecure")
	if d, err := remote.Head(mustRef(t, site+"/app/api@"+cfg.Image)); err != nil || d.Digest.String() != cfg.Image {
		t.Fatalf("the site registry does not hold %s: %v", cfg.Image, err)
	}

	s.run("scan-sbom", dir, 1, ferry, "scan", "sbom:app.cdx.json", "--store", "store", "--fail-on", "high", at)
	s.run("scan-image", dir, 0, ferry, "scan", cfg.Image, "--store", "store", at)
	cons := s.run("vex-consensus", dir, 0, ferry, "vex", "consensus", "--store", "store", at)
	if !strings.Contains(cons, "CVE-2026-1002") || !strings.Contains(cons, "not_affected") {
		t.Errorf("consensus lacks the vendor's not_affected for CVE-2026-1002:\n%s", cons)
	}

	s.run("keys-gate", dir, 0, ferry, "keys", "generate", "--out", "gk", "--name", "gate", "--algorithm", "ecdsa-p256")
	blocked := s.run("gate-sbom", dir, 1, ferry, "gate", "sbom:app.cdx.json", "--store", "store", "--policy", "policy.yaml", at,
		"--sign", "gk/gate.key", "-o", "sbom-decision.json")
	if !strings.Contains(blocked, "CVE-2026-1001") || strings.Contains(blocked, "CVE-2026-1002 ") {
		t.Errorf("the SBOM's gate should block on CVE-2026-1001 alone:\n%s", blocked)
	}
	// KEV and EPSS crossed in the kit and reached the decision.
	if rec, err := os.ReadFile(filepath.Join(dir, "sbom-decision.json")); err != nil {
		t.Error(err)
	} else if !strings.Contains(string(rec), `"kev":true`) || !strings.Contains(string(rec), `"epss":0.91`) {
		t.Errorf("the SBOM's decision does not carry KEV and EPSS for CVE-2026-1001:\n%s", rec)
	}
	s.run("gate-image", dir, 0, ferry, "gate", cfg.Image, "--store", "store", "--policy", "policy.yaml", at,
		"--sign", "gk/gate.key", "-o", "decision.json")
	for _, rec := range []string{"sbom-decision.json", "decision.json"} {
		if r := s.run("gate-replay", dir, 0, ferry, "gate", "replay", rec, "--store", "store"); !strings.Contains(r, "identical") {
			t.Errorf("replay of %s: %s", rec, r)
		}
	}
	s.run("gate-explain", dir, 0, ferry, "gate", "explain", "sbom-decision.json")
	s.run("gate-explain-md", dir, 0, ferry, "gate", "explain", "sbom-decision.json", "--format", "markdown")
	s.run("gate-verify", dir, 0, ferry, "gate", "verify", "decision.intoto.jsonl", "--key", "gk/gate.pub")

	// The real cosign, offline, on the signed decision: against the record
	// file and against the image digest, its two subjects. cosign is not
	// traced: even with --offline it first tries to refresh Sigstore's TUF
	// root (a DNS lookup, refused here: no route leaves the namespace) and
	// then verifies with the key alone; the socket check is for ferry.
	cosign := &steps{t: t, out: cfg.Artefacts, prefix: "offline-cosign", env: []string{"HOME=" + dir, "TUF_ROOT=" + filepath.Join(dir, "tuf")}}
	base := []string{cfg.Cosign, "verify-blob-attestation", "--offline", "--insecure-ignore-tlog=true", "--key", "gk/gate.pub",
		"--type", "https://ferry.dev/gate/decision/v1", "--signature", "decision.intoto.jsonl"}
	cosign.run("verify-blob-attestation-record", dir, 0, append(base, "decision.json")...)
	alg, hexd, _ := strings.Cut(cfg.Image, ":")
	cosign.run("verify-blob-attestation-image", dir, 0, append(base, "--digest", hexd, "--digestAlg", alg)...)

	nextDayOffline(t, s, cfg)

	fipsPass(t, cfg)
}

// nextDayOffline applies the day-2 delta kit, which crossed in two parts,
// re-runs the gates and shows what changed: verify from the first part,
// import (streamed across the parts), a signed gate of the SBOM and of the
// image, gate diff of day 1's and day 2's records, kit diff of the two
// kits, and replay of day 1's records, which the store's history still
// answers identically.
func nextDayOffline(t *testing.T, s *steps, cfg config) {
	t.Helper()
	dir, ferry, at := cfg.Dir, cfg.Ferry, "--at="+cfg.At2
	first := cfg.Delta + ".001"
	v := s.run("day2-verify-delta", dir, 0, ferry, "verify", first, "--root", "pinned-root.json", at)
	if !strings.Contains(v, "delta of") || !strings.Contains(v, "e2e-feeds v1") || !strings.Contains(v, "parts            2 of") {
		t.Errorf("verify of the delta does not name its base and its two parts:\n%s", v)
	}
	s.run("day2-verify-part", dir, 0, ferry, "verify", cfg.Delta+".002", "--part-only", "--root", "pinned-root.json", at)
	s.run("day2-import-delta", dir, 0, ferry, "import", first, "--store", "store", "--root", "pinned-root.json", at, "--reason", "e2e clock")
	s.run("day2-store-info", dir, 0, ferry, "store", "info", "--store", "store")

	blocked := s.run("day2-gate-sbom", dir, 1, ferry, "gate", "sbom:app.cdx.json", "--store", "store", "--policy", "policy.yaml", at,
		"--sign", "gk/gate.key", "-o", "sbom-decision-2.json")
	if !strings.Contains(blocked, "CVE-2026-1004") {
		t.Errorf("the next day's gate of the SBOM should block on the new CVE-2026-1004:\n%s", blocked)
	}
	s.run("day2-gate-image", dir, 0, ferry, "gate", cfg.Image, "--store", "store", "--policy", "policy.yaml", at,
		"--sign", "gk/gate.key", "-o", "decision-2.json")
	diff := s.run("day2-gate-diff-sbom", dir, 0, ferry, "gate", "diff", "sbom-decision.json", "sbom-decision-2.json")
	for _, want := range []string{"CVE-2026-1004", "CVE-2026-1001"} {
		if !strings.Contains(diff, want) {
			t.Errorf("gate diff of the SBOM's two records does not show %s:\n%s", want, diff)
		}
	}
	// The new advisory blocks; the vendor's update turns CVE-2026-1001
	// not_affected, so it blocks no more.
	var jd struct {
		Inputs  []string `json:"inputs"`
		Added   []string `json:"added"`
		Removed []string `json:"removed"`
		Changed []struct {
			Key  string                       `json:"key"`
			What map[string]map[string]string `json:"what"`
		} `json:"changed"`
	}
	if err := json.Unmarshal([]byte(s.run("day2-gate-diff-sbom-json", dir, 0, ferry, "gate", "diff", "sbom-decision.json", "sbom-decision-2.json", "--json")), &jd); err != nil {
		t.Errorf("gate diff --json: %v", err)
	}
	if len(jd.Added) != 1 || !strings.HasPrefix(jd.Added[0], "CVE-2026-1004 ") || len(jd.Removed) != 0 {
		t.Errorf("gate diff --json: added %q, removed %q; want CVE-2026-1004 added alone", jd.Added, jd.Removed)
	}
	found := false
	for _, c := range jd.Changed {
		if strings.HasPrefix(c.Key, "CVE-2026-1001 ") {
			found = c.What["consensus"]["new"] == "not_affected" && c.What["blocking"]["new"] == ""
		}
	}
	if !found || !slices.Contains(jd.Inputs, "channel e2e-feeds v1 → v2") {
		t.Errorf("gate diff --json does not say CVE-2026-1001 became not_affected on channel v2: %+v", jd)
	}
	s.run("day2-gate-diff-image", dir, 0, ferry, "gate", "diff", "decision.json", "decision-2.json")

	kd := s.run("day2-kit-diff", dir, 0, ferry, "kit", "diff", "e2e-1.kit.tar.zst", first, "--root", "pinned-root.json", at)
	// The vendor's document of day 1 is replaced by its version 2: the
	// delta names it removed.
	for _, want := range []string{"+ govulndb: GO-2026-1004", "VEX  +1 -1 ~0, 0 unchanged"} {
		if !strings.Contains(kd, want) {
			t.Errorf("kit diff of day 1's kit and the delta does not show %s:\n%s", want, kd)
		}
	}
	s.run("day2-kit-diff-json", dir, 0, ferry, "kit", "diff", "e2e-1.kit.tar.zst", first, "--root", "pinned-root.json", at, "--json")

	for _, rec := range []string{"sbom-decision.json", "decision.json"} {
		if r := s.run("day2-gate-replay-day1", dir, 0, ferry, "gate", "replay", rec, "--store", "store"); !strings.HasPrefix(r, "identical:") ||
			!strings.Contains(r, "replayed at the recorded versions") {
			t.Errorf("replay of day 1's %s after the delta: %s", rec, r)
		}
	}
	s.run("day2-gate-explain", dir, 0, ferry, "gate", "explain", "sbom-decision-2.json")
}

// fipsPass runs the offline commands once more in Go's FIPS 140-3 mode
// (GODEBUG=fips140=only), on a store of their own: verify, import, scan,
// consensus, a gate signed with an ECDSA P-256 key, replay, explain and
// gate verify. Their outputs are kept as offline-fips-*.
func fipsPass(t *testing.T, cfg config) {
	dir := filepath.Join(cfg.Dir, "fips")
	for _, f := range []string{"e2e-1.kit.tar.zst", "pinned-root.json", "policy.yaml", "app.cdx.json"} {
		copyFile(t, filepath.Join(cfg.Dir, f), filepath.Join(dir, f))
	}
	s := &steps{t: t, out: cfg.Artefacts, prefix: "offline-fips", env: []string{"NO_COLOR=1", "GODEBUG=fips140=only"}, strace: cfg.Strace}
	ferry, at := cfg.Ferry, "--at="+cfg.At
	s.run("verify", dir, 0, ferry, "verify", "e2e-1.kit.tar.zst", "--root", "pinned-root.json", at)
	s.run("import", dir, 0, ferry, "import", "e2e-1.kit.tar.zst", "--store", "store", "--root", "pinned-root.json", at, "--reason", "e2e clock")
	s.run("scan-sbom", dir, 1, ferry, "scan", "sbom:app.cdx.json", "--store", "store", "--fail-on", "high", at)
	s.run("vex-consensus", dir, 0, ferry, "vex", "consensus", "--store", "store", at)
	s.run("keys-gate", dir, 0, ferry, "keys", "generate", "--out", "gk", "--name", "gate", "--algorithm", "ecdsa-p256")
	s.run("gate-image", dir, 0, ferry, "gate", cfg.Image, "--store", "store", "--policy", "policy.yaml", at,
		"--sign", "gk/gate.key", "-o", "decision.json")
	if r := s.run("gate-replay", dir, 0, ferry, "gate", "replay", "decision.json", "--store", "store"); !strings.Contains(r, "identical") {
		t.Errorf("replay in FIPS mode: %s", r)
	}
	s.run("gate-explain", dir, 0, ferry, "gate", "explain", "decision.json")
	s.run("gate-verify", dir, 0, ferry, "gate", "verify", "decision.intoto.jsonl", "--key", "gk/gate.pub")
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The socket check flags what a process in the namespace would try first
// without a network (a DNS lookup to the host's resolver) and passes
// loopback and Unix sockets.
func TestNonLoopback(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "trace")
	write(t, trace, `7 connect(5, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT
7 connect(5, {sa_family=AF_INET, sin_port=htons(33839), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS
7 connect(6, {sa_family=AF_INET6, sin6_port=htons(5000), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0
8 connect(7, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = -1 ENETUNREACH
8 sendto(7, "x", 1, 0, {sa_family=AF_INET6, sin6_port=htons(443), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr)}, 28) = -1 ENETUNREACH
`)
	bad := nonLoopback(t, trace)
	if len(bad) != 2 || !strings.Contains(bad[0], "10.255.255.53") || !strings.Contains(bad[1], "2001:db8::1") {
		t.Errorf("flagged %q", bad)
	}
}
