package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// osvCorpusDir is the Go vulndb records of the corpus (4291 records):
// $FERRY_CORPUS/osv/go (make bench sets it); "" skips the benchmark.
func osvCorpusDir() string {
	if c := os.Getenv("FERRY_CORPUS"); c != "" {
		return filepath.Join(c, "osv", "go")
	}
	return ""
}

// osvJSONL joins the corpus records, one compact record per line. The
// benchmark skips, saying so, when the corpus is not there.
func osvJSONL(b *testing.B) []byte {
	b.Helper()
	osvCorpus := osvCorpusDir()
	ents, err := os.ReadDir(osvCorpus)
	if err != nil {
		b.Skipf("SKIP: the benchmark reads the OSV corpus (set FERRY_CORPUS): %v", err)
	}
	var out bytes.Buffer
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(osvCorpus, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Compact(&out, data); err != nil {
			b.Fatalf("%s: %v", e.Name(), err)
		}
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// randomBlob streams size seeded random bytes.
func randomBlob(seed uint64, size int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(&rngReader{rand.New(rand.NewPCG(seed, 1))}, size)), nil
	}
}

type rngReader struct{ r *rand.Rand }

func (r *rngReader) Read(p []byte) (int, error) {
	for i := range p {
		if i%8 == 0 {
			v := r.r.Uint64()
			for k := 0; k < 8 && i+k < len(p); k++ {
				p[i+k] = byte(v >> (8 * k))
			}
		}
	}
	return len(p), nil
}

// benchBytes is the size of the image blobs in the benchmark kit:
// FERRY_BENCH_BYTES, default 1 GiB.
func benchBytes(b *testing.B) int64 {
	if s := os.Getenv("FERRY_BENCH_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatalf("FERRY_BENCH_BYTES=%q", s)
		}
		return n
	}
	return 1 << 30
}

// peakRSS reads the process's peak resident set size; resetPeakRSS
// restarts the measurement (Linux).
func peakRSS() int64 {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// BenchmarkImport imports a kit of the 4291 OSV records of the corpus plus
// FERRY_BENCH_BYTES (1 GiB) of image blobs into an empty store, and
// reports verify, stage and commit times and the peak RSS of the import:
//
//	go test ./store -run '^$' -bench Import -benchtime 1x
func BenchmarkImport(b *testing.B) {
	c := fixtures.NewChannel("bench")
	osv := osvJSONL(b)
	total := benchBytes(b)
	files := []bundle.File{{Path: "advisories/go/osv.jsonl", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(osv)), nil }}}
	const blobSize = 32 << 20
	for i := int64(0); i*blobSize < total; i++ {
		files = append(files, bundle.File{Path: fmt.Sprintf("images/blobs/sha256/%04d", i), Open: randomBlob(uint64(i), min(blobSize, total-i*blobSize))})
	}
	slices.SortFunc(files, func(x, y bundle.File) int { return strings.Compare(x.Path, y.Path) })
	kitPath := filepath.Join(b.TempDir(), "bench.kit.tar.zst")
	f, err := os.Create(kitPath)
	if err != nil {
		b.Fatal(err)
	}
	_, err = bundle.Write(context.Background(), f, bundle.WriteOptions{
		Info:  bundle.Info{Name: "bench", Channel: "bench", Version: 1, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
		Roots: c.Chain, Signers: c.SigningKeys(),
	}, files)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total + int64(len(osv)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s, err := Open(context.Background(), filepath.Join(b.TempDir(), fmt.Sprint("store", i)), Options{})
		if err != nil {
			b.Fatal(err)
		}
		kf, err := os.Open(kitPath)
		if err != nil {
			b.Fatal(err)
		}
		resetPeakRSS()
		res, err := s.Import(context.Background(), kf, ImportOptions{At: at, Root: c.Root(), Operator: "bench", Clock: wallClock{}})
		kf.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.Timings.Verify.Seconds(), "verify-s")
		b.ReportMetric(res.Timings.Stage.Seconds(), "stage-s")
		b.ReportMetric(res.Timings.Commit.Seconds(), "commit-s")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-rss-MiB")
	}
}
