package verify_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/verify"
)

// BenchmarkParts verifies one kit as one file and in 8 parts: the parts
// should cost at most 5 % more (make bench measures it on 2 GiB).
func BenchmarkParts(b *testing.B) {
	c := fixtures.NewChannel("bench")
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string][]byte{}
	var total int64
	for i := range 8 {
		d := make([]byte, 4<<20)
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		files[fmt.Sprintf("images/blobs/sha256/%02d", i)] = d
		total += int64(len(d))
	}
	kit := fixtures.Kit(c, files, fixtures.KitOptions{})
	dir := b.TempDir()
	whole := filepath.Join(dir, "whole.kit.tar.zst")
	if err := os.WriteFile(whole, kit, 0o644); err != nil {
		b.Fatal(err)
	}
	set := splitKit(b, dir, "bench.kit.tar.zst", kit, 8, c, c.SigningKeys())
	trust := verify.Static(verify.Trust{Root: c.Root()})
	opts := verify.Options{At: at}
	b.Run("whole", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			f, err := os.Open(whole)
			if err != nil {
				b.Fatal(err)
			}
			rep, err := verify.Kit(context.Background(), f, trust, opts)
			f.Close()
			if err != nil || !rep.OK {
				b.Fatalf("%v %v", err, rep.Err())
			}
		}
	})
	b.Run("parts", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			rep, err := verify.Parts(context.Background(), &bundle.PartSet{Kit: set.Kit}, trust, opts)
			if err != nil || !rep.OK {
				b.Fatalf("%v %v", err, rep.Err())
			}
		}
	})
}
