package verify_test

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// TestManyFilesHashedInOrder verifies a kit of many small files, hashed on
// several cores, with tampered files among them and a size mismatch and an
// unexpected entry between them: the failures and the verified targets
// come in kit order, exactly as a serial pass gives them.
func TestManyFilesHashedInOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	ch := fixtures.NewChannel("many")
	files0 := map[string][]byte{}
	for i := range 300 {
		files0[fmt.Sprintf("data/f%03d.bin", i)] = []byte(fmt.Sprintf("%01024d", i))
	}
	kit := fixtures.Kit(ch, files0, fixtures.KitOptions{})
	flip := func(c []byte) []byte { c = slices.Clone(c); c[0] ^= 1; return c }
	kit = fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
		for _, n := range []string{"data/f010.bin", "data/f099.bin", "data/f150.bin", "data/f299.bin"} {
			es[fixtures.Index(es, n)].Content = flip(es[fixtures.Index(es, n)].Content)
		}
		i := fixtures.Index(es, "data/f200.bin")
		es[i].Content = es[i].Content[:10]
		i = fixtures.Index(es, "data/f100.bin")
		return slices.Insert(es, i, fixtures.Reg("data/f099x.bin", []byte("x")))
	})
	rep := run(t, kit, pinned(ch.Root()), at)
	wantFailures(t, rep,
		failure{bundle.CodeDigestMismatch, "data/f010.bin"},
		failure{bundle.CodeDigestMismatch, "data/f099.bin"},
		failure{bundle.CodeUnexpectedEntry, "data/f099x.bin"},
		failure{bundle.CodeDigestMismatch, "data/f150.bin"},
		failure{bundle.CodeSizeMismatch, "data/f200.bin"},
		failure{bundle.CodeDigestMismatch, "data/f299.bin"},
	)
	files := 0
	for _, c := range rep.Counts {
		files += c.Files
	}
	if files != 295 {
		t.Errorf("%d files counted as verified, want 295", files)
	}
	// Untampered, every file is verified, in kit order.
	rep = run(t, fixtures.Kit(ch, files0, fixtures.KitOptions{}), pinned(ch.Root()), at)
	wantOK(t, rep)
	var got []string
	for _, tg := range rep.Targets {
		got = append(got, tg.Path)
	}
	if want := slices.Sorted(maps.Keys(files0)); !slices.Equal(got, want) {
		t.Errorf("verified targets %v, want %v", got, want)
	}
}
