//go:build !race

// The memory bounds of Write, measured; not under the race detector, which
// changes what is allocated.

package bundle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// TestWriteMemoryPerTarget measures the memory Write takes per target,
// from listing to signing, for the worst case: empty files with the
// shortest names and no custom object, the most targets per byte of
// targets.json. Content is streamed, so memory grows with the targets, not
// with their sizes; MaxMetadataSize bounds the size of targets.json (about
// 475 000 such targets), and this bounds the memory per byte of it, so
// together they bound the memory of the largest kit Write accepts.
// docs/kit-format.md states the bound; this test keeps it true.
func TestWriteMemoryPerTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory")
	}
	c := fixtures.NewChannel("limits")
	const n = 20000
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("%05d", i)
	}
	var opens atomic.Int64
	files := knownFiles(paths, func(int) json.RawMessage { return nil }, func(int) int { return 0 }, &opens)
	var l bundle.TargetsLimit
	for _, f := range files {
		if err := l.Add(f.Path, f.Custom, 0); err != nil {
			t.Fatal(err)
		}
	}
	entry := float64(l.Size()) / n // bytes of targets.json per target

	// What Write keeps alive, not what the collector has yet to free:
	// the heap's size between collections depends on when the collector
	// runs, and a loaded machine delays it. With GOGC=5 the collector
	// runs every few MB of allocation; after each cycle the runtime says
	// how many bytes it found live, and the largest of those is the peak
	// of Write's live heap. Under the default GOGC=100 the heap grows to
	// at most twice the live heap before a collection, so a live peak of
	// 16 bytes per byte of targets.json keeps the documented heap bound
	// of 32.
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peak := make(chan liveSamples)
	go func() { peak <- peakLive(stop) }()
	_, err := bundle.Write(context.Background(), io.Discard, limitOpts(c), files)
	close(stop)
	samples := <-peak
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// TotalAlloc counts every allocation of the process; the test runs
	// nothing else meanwhile but the sampler, which allocates nothing per
	// sample.
	alloc := float64(after.TotalAlloc-before.TotalAlloc) / n / entry
	live := (float64(samples.peak) - float64(before.HeapAlloc)) / n / entry
	t.Logf("per byte of targets.json (%.0f bytes per target): Write allocates %.1f bytes, keeps at most %.1f bytes live (largest of %d collections)",
		entry, alloc, live, samples.cycles)
	if samples.cycles < 10 {
		t.Fatalf("only %d collections seen during Write: the live peak is not measured", samples.cycles)
	}
	// The documented bounds: a heap of at most 32 bytes per byte of
	// targets.json (2 GiB at MaxMetadataSize), so at most 16 live; 64
	// bytes allocated in all.
	if live > 16 {
		t.Errorf("Write keeps %.1f bytes per byte of targets.json live; above 16 the heap can pass the documented bound of 32", live)
	}
	if alloc > 64 {
		t.Errorf("Write allocates %.1f bytes per byte of targets.json, the documented bound is 64", alloc)
	}
}

type liveSamples struct {
	peak   uint64 // the largest live heap a collection found
	cycles uint64 // the collections seen
}

// peakLive reads, until stop is closed, the live heap the last
// collection found (it changes only when a collection ends) and returns
// the largest.
func peakLive(stop chan struct{}) liveSamples {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(sample)
	var s liveSamples
	first, last := sample[1].Value.Uint64(), sample[1].Value.Uint64()
	for {
		select {
		case <-stop:
			metrics.Read(sample)
			s.peak = max(s.peak, sample[0].Value.Uint64())
			s.cycles = sample[1].Value.Uint64() - first
			return s
		case <-time.After(100 * time.Microsecond):
		}
		metrics.Read(sample)
		if c := sample[1].Value.Uint64(); c != last {
			last = c
			s.peak = max(s.peak, sample[0].Value.Uint64())
		}
	}
}
