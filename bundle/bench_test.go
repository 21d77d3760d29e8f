package bundle_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// benchFiles returns n files of size bytes each: incompressible (seeded
// random, like image layers) or compressible (repetitive text).
func benchFiles(n, size int, random bool) map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	files := make(map[string][]byte, n)
	for i := range n {
		b := make([]byte, size)
		if random {
			for j := 0; j+8 <= len(b); j += 8 {
				v := rng.Uint64()
				for k := range 8 {
					b[j+k] = byte(v >> (8 * k))
				}
			}
		} else {
			line := []byte(fmt.Sprintf("{\"id\":\"GO-2024-%04d\",\"summary\":\"a vulnerability in package %d\"}\n", i, i))
			for j := range b {
				b[j] = line[j%len(line)]
			}
		}
		files[fmt.Sprintf("images/blobs/sha256/%02d", i)] = b
	}
	return files
}

func BenchmarkWrite(b *testing.B) {
	for _, tc := range []struct {
		name   string
		random bool
	}{{"random", true}, {"text", false}} {
		b.Run(tc.name, func(b *testing.B) {
			c := fixtures.NewChannel("bench")
			m := benchFiles(8, 1<<20, tc.random)
			files := fixtures.Files(m)
			opts := bundle.WriteOptions{
				Info:    bundle.Info{Name: "bench", Channel: "bench", Version: 1, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
				Roots:   c.Chain,
				Signers: c.SigningKeys(),
			}
			b.SetBytes(int64(8 << 20))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bundle.Write(context.Background(), io.Discard, opts, files); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteDir writes a kit of the files in $FERRY_BENCH_DIR (as
// scripts/bench.sh makes them) to $FERRY_BENCH_OUT, or io.Discard. For
// profiling the write path on real files:
//
//	FERRY_BENCH_DIR=/tmp/b/data go test -run - -bench WriteDir -benchtime 1x -cpuprofile cpu.out ./bundle
func BenchmarkWriteDir(b *testing.B) {
	dir := os.Getenv("FERRY_BENCH_DIR")
	if dir == "" {
		b.Skip("FERRY_BENCH_DIR not set")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var files []bundle.File
	var total int64
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := e.Info()
		if err != nil {
			b.Fatal(err)
		}
		total += fi.Size()
		files = append(files, bundle.File{Path: "data/" + e.Name(), Open: func() (io.ReadCloser, error) { return os.Open(p) }})
	}
	c := fixtures.NewChannel("bench")
	opts := bundle.WriteOptions{
		Info:    bundle.Info{Name: "bench", Channel: "bench", Version: 1, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
		Roots:   c.Chain,
		Signers: c.SigningKeys(),
	}
	b.SetBytes(total)
	for b.Loop() {
		var w io.Writer = io.Discard
		if out := os.Getenv("FERRY_BENCH_OUT"); out != "" {
			f, err := os.Create(out)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			w = f
		}
		if _, err := bundle.Write(context.Background(), w, opts, files); err != nil {
			b.Fatal(err)
		}
	}
}
