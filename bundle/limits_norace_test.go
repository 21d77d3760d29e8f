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
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() { peak <- peakHeap(stop) }()
	_, err := bundle.Write(context.Background(), io.Discard, limitOpts(c), files)
	close(stop)
	peakBytes := <-peak
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := float64(after.TotalAlloc-before.TotalAlloc) / n / entry
	live := (float64(peakBytes) - float64(before.HeapAlloc)) / n / entry
	t.Logf("per byte of targets.json (%.0f bytes per target): Write allocates %.1f bytes, its heap peaks at %.1f bytes", entry, alloc, live)
	// The documented bounds: a heap of at most 32 bytes per byte of
	// targets.json (2 GiB at MaxMetadataSize), 64 bytes allocated in all.
	if live > 32 {
		t.Errorf("the heap peaks at %.1f bytes per byte of targets.json, the documented bound is 32", live)
	}
	if alloc > 64 {
		t.Errorf("Write allocates %.1f bytes per byte of targets.json, the documented bound is 64", alloc)
	}
}

// peakHeap samples the heap's object bytes until stop is closed and
// returns the largest sample.
func peakHeap(stop chan struct{}) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	for {
		metrics.Read(sample)
		peak = max(peak, sample[0].Value.Uint64())
		select {
		case <-stop:
			return peak
		case <-time.After(100 * time.Microsecond):
		}
	}
}
