package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/verify"
)

func BenchmarkKit(b *testing.B) {
	for _, tc := range []struct {
		name   string
		random bool
	}{{"random", true}, {"text", false}} {
		b.Run(tc.name, func(b *testing.B) {
			c := fixtures.NewChannel("bench")
			rng := rand.New(rand.NewPCG(1, 2))
			files := map[string][]byte{}
			var total int64
			for i := range 8 {
				d := make([]byte, 1<<20)
				if tc.random {
					for j := range d {
						d[j] = byte(rng.Uint32())
					}
				} else {
					line := fmt.Sprintf("{\"id\":\"GO-2024-%04d\",\"summary\":\"a vulnerability\"}\n", i)
					for j := range d {
						d[j] = line[j%len(line)]
					}
				}
				files[fmt.Sprintf("images/blobs/sha256/%02d", i)] = d
				total += int64(len(d))
			}
			kit := fixtures.Kit(c, files, fixtures.KitOptions{})
			trust := verify.Static(verify.Trust{Root: c.Root()})
			opts := verify.Options{At: fixtures.Created.Add(24 * time.Hour)}
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				rep, err := verify.Kit(context.Background(), bytes.NewReader(kit), trust, opts)
				if err != nil {
					b.Fatal(err)
				}
				if !rep.OK {
					b.Fatalf("kit does not verify: %v", rep.Err())
				}
			}
		})
	}
}
