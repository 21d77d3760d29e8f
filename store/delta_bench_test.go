package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// The typical day of BenchmarkDeltaDay: 20 images on shared base layers,
// one of them rebuilt; 1 % of the advisories modified; 2 of 10 VEX
// documents updated.
const (
	dayImages     = 20
	dayRebuilt    = 7
	dayAppMiB     = 4
	dayAdvisories = 4291
	dayVEX        = 10
)

// dayBaseMiB are the sizes of the base layers every image shares.
var dayBaseMiB = []int64{24, 16, 8}

// dayAdvisoryLines returns the advisories of the day: the Go OSV corpus
// (FERRY_CORPUS), else dayAdvisories generated records, one compact record
// a line. On day 2 every 100th record is modified.
func dayAdvisoryLines(b *testing.B, day int) []byte {
	b.Helper()
	var lines [][]byte
	if dir := osvCorpusDir(); dir != "" {
		if ents, err := os.ReadDir(dir); err == nil {
			for _, e := range ents {
				data, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					b.Fatal(err)
				}
				var out bytes.Buffer
				if err := json.Compact(&out, data); err != nil {
					b.Fatalf("%s: %v", e.Name(), err)
				}
				lines = append(lines, out.Bytes())
			}
		}
	}
	if lines == nil {
		for i := range dayAdvisories {
			lines = append(lines, fmt.Appendf(nil, `{"schema_version":"1.6.0","id":"GO-2024-%04d","modified":"2026-11-01T00:00:00Z",`+
				`"published":"2024-03-01T00:00:00Z","aliases":["CVE-2024-%05d","GHSA-%04x-%04x-%04x"],`+
				`"summary":"Improper input validation in example.com/mod%d/pkg","details":"The parser in example.com/mod%d/pkg does not bound `+
				`the length of a header it reads, so a crafted request makes it allocate without limit. Versions before v1.%d.3 are affected.",`+
				`"affected":[{"package":{"name":"example.com/mod%d","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.%d.3"}]}],`+
				`"ecosystem_specific":{"imports":[{"path":"example.com/mod%d/pkg","symbols":["Parse","Reader.Next"]}]}}],`+
				`"references":[{"type":"FIX","url":"https://example.com/mod%d/commit/%040x"}]}`,
				i, 20000+i, i*7, i*13, i*31, i, i, i%40, i, i%40, i, i, i*977))
		}
	}
	if day > 1 {
		for i := 0; i < len(lines); i += 100 {
			var rec map[string]any
			if err := json.Unmarshal(lines[i], &rec); err != nil {
				b.Fatal(err)
			}
			rec["modified"] = "2026-11-29T00:00:00Z"
			rec["details"] = fmt.Sprint(rec["details"], " Updated: the fixed version was corrected.")
			line, err := json.Marshal(rec)
			if err != nil {
				b.Fatal(err)
			}
			lines[i] = line
		}
	}
	return append(bytes.Join(lines, []byte("\n")), '\n')
}

// dayBlob is one content-addressed blob of the day's image layout.
type dayBlob struct {
	mediaType string
	digest    string
	size      int64
	open      func() (io.ReadCloser, error)
}

func newDayBlob(b *testing.B, mediaType string, open func() (io.ReadCloser, error)) dayBlob {
	b.Helper()
	digest, n := hashOpened(b, open)
	return dayBlob{mediaType: mediaType, digest: digest, size: n, open: open}
}

// hashOpened reads what open opens to its end: its hex sha256 and length.
func hashOpened(b *testing.B, open func() (io.ReadCloser, error)) (string, int64) {
	b.Helper()
	rc, err := open()
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		b.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func bytesBlob(b *testing.B, mediaType string, data []byte) dayBlob {
	return newDayBlob(b, mediaType, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

func (d dayBlob) descriptor() string {
	return fmt.Sprintf(`{"mediaType":%q,"digest":"sha256:%s","size":%d}`, d.mediaType, d.digest, d.size)
}

// dayFiles returns the kit content of day 1 or 2.
func dayFiles(b *testing.B, day int) []bundle.File {
	b.Helper()
	const layerType = "application/vnd.oci.image.layer.v1.tar+gzip"
	var blobs []dayBlob
	var base []dayBlob
	for i, mib := range dayBaseMiB {
		base = append(base, newDayBlob(b, layerType, randomBlob(uint64(1000+i), mib<<20)))
	}
	blobs = append(blobs, base...)
	var index []string
	for i := range dayImages {
		build := 1
		if i == dayRebuilt && day > 1 {
			build = 2
		}
		app := newDayBlob(b, layerType, randomBlob(uint64(2000+100*i+build), dayAppMiB<<20))
		cfg := bytesBlob(b, "application/vnd.oci.image.config.v1+json", fmt.Appendf(nil,
			`{"architecture":"amd64","os":"linux","config":{"Cmd":["/srv/app%d"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s","sha256:%s","sha256:%s"]}}`,
			i, base[0].digest, base[1].digest, base[2].digest, app.digest))
		man := bytesBlob(b, "application/vnd.oci.image.manifest.v1+json", fmt.Appendf(nil,
			`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s,%s,%s,%s]}`,
			cfg.descriptor(), base[0].descriptor(), base[1].descriptor(), base[2].descriptor(), app.descriptor()))
		blobs = append(blobs, app, cfg, man)
		index = append(index, fmt.Sprintf(`{"mediaType":%q,"digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"registry.example/app/svc%02d:%d"}}`,
			man.mediaType, man.digest, man.size, i, build))
	}
	files := []bundle.File{
		memFile("images/oci-layout", nil, []byte(`{"imageLayoutVersion":"1.0.0"}`)),
		memFile("images/index.json", nil, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+strings.Join(index, ",")+`]}`)),
		memFile("advisories/go/osv.jsonl", nil, dayAdvisoryLines(b, day)),
		memFile("kit.json", nil, fmt.Appendf(nil, `{"schema":"ferry.dev/kit/v1","version":%d}`+"\n", day)),
	}
	seen := map[string]bool{}
	for _, bl := range blobs {
		if seen[bl.digest] {
			continue
		}
		seen[bl.digest] = true
		files = append(files, bundle.File{Path: "images/blobs/sha256/" + bl.digest, Custom: json.RawMessage(`{"mediaType":"` + bl.mediaType + `"}`), Open: bl.open})
	}
	for i := range dayVEX {
		vuln := fmt.Sprintf("CVE-2024-%05d", 20000+i)
		if day > 1 && i < 2 {
			vuln += "-r2" // updated: a new document, named by its new digest
		}
		doc := fixtures.OpenVEXDocument("vendor", vuln, "pkg:golang/example.com/mod"+fmt.Sprint(i))
		sum := sha256.Sum256(doc)
		files = append(files, memFile("vex/vendor/"+hex.EncodeToString(sum[:])+".json", json.RawMessage(`{"mediaType":"application/openvex+json"}`), doc))
	}
	slices.SortFunc(files, func(x, y bundle.File) int { return strings.Compare(x.Path, y.Path) })
	return files
}

func memFile(path string, custom json.RawMessage, data []byte) bundle.File {
	return bundle.File{Path: path, Custom: custom, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// BenchmarkDeltaDay measures a typical day's delta against the full kit:
// their sizes (target: the delta at most 5 % of the full kit) and the time
// to import the base and then the delta against importing the full kit
// (target: at most 1.1x). It reports full-bytes, delta-bytes, delta-%,
// import-full-s, import-base-s, import-delta-s, base+delta/full (of the
// summed times), the median of the rounds' ratios,
// median-base+delta/full, the ratio of CPU time, cpu-base+delta/full,
// and of writing and syncing the bytes each import makes durable with the
// plain os.File calls, plain-base+delta/full.
func BenchmarkDeltaDay(b *testing.B) {
	c := fixtures.NewChannel("bench")
	dir := b.TempDir()
	info := func(v int64) bundle.WriteOptions {
		return bundle.WriteOptions{
			Info:  bundle.Info{Name: "bench", Channel: "bench", Version: v, Created: fixtures.Created.Add(time.Duration(v) * time.Hour), Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
			Roots: c.Chain, Signers: c.SigningKeys(),
		}
	}
	write := func(name string, fn func(w io.Writer) error) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := fn(f); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		return p
	}
	day1, day2 := dayFiles(b, 1), dayFiles(b, 2)
	var full1 *bundle.Written
	base := write("1.kit.tar.zst", func(w io.Writer) (err error) {
		full1, err = bundle.Write(context.Background(), w, info(1), day1)
		return err
	})
	full := write("2.kit.tar.zst", func(w io.Writer) error {
		_, err := bundle.Write(context.Background(), w, info(2), day2)
		return err
	})
	from := bundle.DeltaFrom{Base: bundle.Base{Channel: "bench", Version: 1, TargetsSHA256: full1.TargetsSHA256}, Files: map[string]string{}}
	opens := map[string]func() (io.ReadCloser, error){}
	for _, f := range day1 {
		from.Files[f.Path], _ = hashOpened(b, f.Open)
		opens[f.Path] = f.Open
	}
	// As ferry mirror --base makes it: the changed osv.jsonl as a patch on
	// the base's.
	from.Content = func(p string) (io.ReadCloser, error) { return opens[p]() }
	delta := write("2.delta.kit.tar.zst", func(w io.Writer) error {
		_, err := bundle.WriteDelta(context.Background(), w, info(2), day2, from)
		return err
	})
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		return fi.Size()
	}
	var cpu time.Duration // of the import being measured
	imp := func(s *Store, p string, root []byte) time.Duration {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		c0 := processCPU()
		defer func() { cpu = processCPU() - c0 }()
		t0 := time.Now()
		res, err := s.Import(context.Background(), f, ImportOptions{At: fixtures.Created.Add(3 * time.Hour), Root: root, Operator: "bench", Clock: wallClock{}})
		if err != nil {
			b.Fatalf("import %s: %v", filepath.Base(p), err)
		}
		d := time.Since(t0)
		b.Logf("import %s: %s (verify %s, stage %s, index %s, commit %s)", filepath.Base(p), d.Round(time.Millisecond),
			res.Timings.Verify.Round(time.Millisecond), res.Timings.Stage.Round(time.Millisecond), res.Timings.Index.Round(time.Millisecond), res.Timings.Commit.Round(time.Millisecond))
		return d
	}
	// The plain work under the imports: writing and syncing the bytes each
	// must make durable (every distinct file of the full kit; of the
	// delta, the files the base did not have), one file each, as the
	// store stages them.
	fullBytes, deltaBytes := contentBytes(b, day2, nil), contentBytes(b, day2, from.Files)
	var wFull, wBase, wDelta time.Duration
	var tFull, tBase, tDelta, cFull, cBase, cDelta time.Duration
	var ratios []float64 // of each round: base+delta over full
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		open := func(name string) *Store {
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), fmt.Sprint(name, i)), Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}
		// Each import leaves the disk writing back what it synced and the
		// heap it grew: whichever runs first makes the other slower. The
		// full kit and the base with its delta take turns going first.
		var f, bd time.Duration
		importFull := func() {
			f = imp(open("full"), full, c.Root())
			tFull += f
			cFull += cpu
		}
		if i%2 == 0 {
			importFull()
		}
		s := open("chain")
		tb := imp(s, base, c.Root())
		tBase += tb
		cBase += cpu
		td := imp(s, delta, nil)
		tDelta += td
		cDelta += cpu
		bd = tb + td
		if i%2 == 1 {
			importFull()
		}
		ratios = append(ratios, bd.Seconds()/f.Seconds())
		plain := b.TempDir()
		wFull += writeSynced(b, plain, fullBytes)
		wBase += writeSynced(b, plain, fullBytes)
		wDelta += writeSynced(b, plain, deltaBytes)
	}
	n := float64(b.N)
	fs, ds := size(full), size(delta)
	b.ReportMetric(float64(fs), "full-bytes")
	b.ReportMetric(float64(ds), "delta-bytes")
	b.ReportMetric(100*float64(ds)/float64(fs), "delta-%")
	b.ReportMetric(tFull.Seconds()/n, "import-full-s")
	b.ReportMetric(tBase.Seconds()/n, "import-base-s")
	b.ReportMetric(tDelta.Seconds()/n, "import-delta-s")
	b.ReportMetric((tBase+tDelta).Seconds()/tFull.Seconds(), "base+delta/full")
	// The median of the rounds' ratios: each round imports the full kit
	// and the base with its delta back to back, so a round the machine
	// slowed counts once, not by how long it took.
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "median-base+delta/full")
	// The same ratio in CPU time (user + system) of the process: what the
	// imports cost whatever else the machine runs.
	b.ReportMetric((cBase+cDelta).Seconds()/cFull.Seconds(), "cpu-base+delta/full")
	// The same ratio for the plain writes (os.File Write and Sync of the
	// same sizes): what the disk alone allows.
	// (Base and full are the same sizes here: their mean is the full.)
	b.ReportMetric(1+2*wDelta.Seconds()/(wFull+wBase).Seconds(), "plain-base+delta/full")
}

// contentBytes returns the sizes of the distinct files of day whose
// digest is not among have's.
func contentBytes(b *testing.B, day []bundle.File, have map[string]string) []int64 {
	b.Helper()
	had := map[string]bool{}
	for _, d := range have {
		had[d] = true
	}
	var out []int64
	for _, f := range day {
		if d, n := hashOpened(b, f.Open); !had[d] {
			had[d] = true
			out = append(out, n)
		}
	}
	return out
}

// writeSynced writes one file of random bytes per size into dir, each
// synced, and returns the time taken.
func writeSynced(b *testing.B, dir string, sizes []int64) time.Duration {
	b.Helper()
	var most int64
	for _, n := range sizes {
		most = max(most, n)
	}
	buf := make([]byte, most)
	io.ReadFull(&rngReader{rand.New(rand.NewPCG(1, 2))}, buf)
	t0 := time.Now()
	for i, n := range sizes {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint("w", i)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(buf[:n]); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	d := time.Since(t0)
	for i := range sizes {
		os.Remove(filepath.Join(dir, fmt.Sprint("w", i)))
	}
	return d
}

// processCPU is the user and system time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
