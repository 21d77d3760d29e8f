package storescan_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/storescan"
)

// BenchmarkScanImageEvidence is the scan of `make bench` step 5c in one
// process, for profiling: a docker archive holding the stripped ferry
// binary and a Debian 12 dpkg database of 700 packages (175 source
// packages), scanned with --evidence against a store holding two Debian
// records per source package (one covering the installed versions) and
// Go records, and written as JSON, as `ferry scan --store --evidence
// --format json` does (without the VEX consensus). The Go records are the
// Go vulndb when FERRY_CORPUS names the corpus, else one per module of the
// binary.
//
//	go test ./storescan -run '^$' -bench ScanImageEvidence -benchtime 20x -cpuprofile cpu.out
//
// A warm process: what a new ferry process adds (loading the binary,
// package initialisation, first touches of fresh memory) is not in it;
// see docs/scan.md.
func BenchmarkScanImageEvidence(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, "../cmd/ferry")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building ferry: %v\n%s", err, out)
	}
	binData, err := os.ReadFile(bin)
	if err != nil {
		b.Fatal(err)
	}
	var status strings.Builder
	for i := range 700 {
		fmt.Fprintf(&status, "Package: pkg%03d\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nSource: src%03d\nVersion: 1.%d-1\nDescription: synthetic package %d\n\n", i, i/4, i, i)
	}
	archive := filepath.Join(dir, "image.tar")
	writeDockerArchive(b, archive, []tarFile{
		{"etc/os-release", []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"), 0o644},
		{"usr/local/bin/app", binData, 0o755},
		{"var/lib/dpkg/status", []byte(status.String()), 0o644},
	})

	var deb []string
	for s := range 175 {
		for _, r := range []struct{ kind, fixed string }{{"A", fmt.Sprintf("1.%d-1", 4*s+100)}, {"B", fmt.Sprintf("0.%d-1", s)}} {
			deb = append(deb, fmt.Sprintf(`{"id":"DEBIAN-BENCH-%03d-%s","modified":"2025-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"src%03d"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":%q}]}]}]}`, s, r.kind, s, r.fixed))
		}
	}
	goRecs := goRecords(b, bin)
	ch := fixtures.NewChannel("bench")
	kit := fixtures.Kit(ch, map[string][]byte{
		"advisories/govulndb/osv.jsonl": []byte(strings.Join(goRecs, "\n") + "\n"),
		"advisories/debian/osv.jsonl":   []byte(strings.Join(deb, "\n") + "\n"),
	}, fixtures.KitOptions{})
	s, err := store.Open(b.Context(), filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Import(b.Context(), bytes.NewReader(kit), store.ImportOptions{At: fixtures.Created.Add(time.Hour), Root: ch.Root()}); err != nil {
		b.Fatal(err)
	}
	opts := scan.Options{Evidence: true, Time: fixtures.Created.Add(time.Hour)}
	var findings int
	for b.Loop() {
		rep, err := storescan.Scan(b.Context(), s, "docker-archive:"+archive, opts, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := scan.Write(io.Discard, rep, "json"); err != nil {
			b.Fatal(err)
		}
		findings = len(rep.Findings)
	}
	if findings < 700 {
		b.Fatalf("%d findings, want the 700 Debian ones at least", findings)
	}
	b.ReportMetric(float64(findings), "findings")
}

// goRecords returns the Go vulndb's records (FERRY_CORPUS/osv/go, one per
// line), else one record affecting each module of the binary bin.
func goRecords(b *testing.B, bin string) []string {
	if c := os.Getenv("FERRY_CORPUS"); c != "" {
		dir := filepath.Join(c, "osv", "go")
		names, err := os.ReadDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		var out []string
		for _, n := range names {
			if !strings.HasSuffix(n.Name(), ".json") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, n.Name()))
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, data); err != nil {
				b.Fatalf("%s: %v", n.Name(), err)
			}
			out = append(out, buf.String())
		}
		return out
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		b.Fatal(err)
	}
	var recs []string
	for i, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "dep" {
			recs = append(recs, fmt.Sprintf(`{"id":"GO-2099-%04d","modified":"2025-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":%q},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.0.1"}]}]}]}`, i, f[1]))
		}
	}
	return recs
}

type tarFile struct {
	name string
	data []byte
	mode int64
}

// writeDockerArchive writes a 'docker save' tarball of one image whose
// one uncompressed layer holds files.
func writeDockerArchive(b *testing.B, path string, files []tarFile) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			b.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	sum := func(p []byte) string { h := sha256.Sum256(p); return hex.EncodeToString(h[:]) }
	ld := sum(layer.Bytes())
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:` + ld + `"]}}`)
	cd := sum(cfg)
	manifest := []byte(`[{"Config":"` + cd + `.json","RepoTags":["bench/holdout:1"],"Layers":["` + ld + `/layer.tar"]}]`)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	aw := tar.NewWriter(f)
	for _, e := range []tarFile{{ld + "/layer.tar", layer.Bytes(), 0o644}, {cd + ".json", cfg, 0o644}, {"manifest.json", manifest, 0o644}} {
		if err := aw.WriteHeader(&tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			b.Fatal(err)
		}
		if _, err := aw.Write(e.data); err != nil {
			b.Fatal(err)
		}
	}
	if err := aw.Close(); err != nil {
		b.Fatal(err)
	}
}
