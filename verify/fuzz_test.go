package verify_test

import (
	"archive/tar"
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/verify"
)

// FuzzVerify runs verify.Kit on arbitrary bytes: it must return a report
// (never OK for bytes that are not the valid seed), and never panic or
// hang. When compress is set the input is a tar and the fuzz test wraps it
// in zstd itself, so that the fuzzer explores the tar and TUF layers rather
// than the zstd framing.
//
//	go test -run '^$' -fuzz FuzzVerify -fuzztime 60s ./verify/
func FuzzVerify(f *testing.F) {
	ch := fixtures.NewChannel("fuzz")
	files := map[string][]byte{"a.txt": []byte("hello\n"), "kit.json": []byte("{}\n")}
	valid := fixtures.Kit(ch, files, fixtures.KitOptions{})
	seeds := [][]byte{
		valid,
		fixtures.Truncate(valid, len(valid)/2),
		fixtures.FlipByte(valid, len(valid)/3, 0x10),
		fixtures.Tamper(valid, func(es []fixtures.TarEntry) []fixtures.TarEntry {
			return append(es, fixtures.Reg("zz", []byte("extra")))
		}),
		fixtures.Tamper(valid, func(es []fixtures.TarEntry) []fixtures.TarEntry {
			return append(es, fixtures.TarEntry{Name: "zz", Typeflag: tar.TypeSymlink, Linkname: "../x"})
		}),
		fixtures.Tamper(valid, func(es []fixtures.TarEntry) []fixtures.TarEntry {
			es[fixtures.Index(es, "a.txt")].Size = 1 << 40
			return es
		}),
		fixtures.Tamper(valid, func(es []fixtures.TarEntry) []fixtures.TarEntry {
			return slices.Delete(es, 0, 1)
		}),
	}
	for i, s := range seeds {
		f.Add(s, false)
		if i != 1 && i != 2 { // the cut and the flipped kit do not decompress
			f.Add(fixtures.DecompressTar(s), true)
		}
	}
	f.Add([]byte{}, false)
	src := verify.Static(verify.Trust{Root: ch.Root()})
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		kit := data
		if compress {
			kit = fixtures.CompressTar(data)
		}
		watchdog := time.AfterFunc(20*time.Second, func() { panic("verify.Kit hangs") })
		defer watchdog.Stop()
		rep, err := verify.Kit(context.Background(), bytes.NewReader(kit), src, verify.Options{At: at})
		if err != nil {
			t.Fatalf("verify.Kit returned an error for kit input: %v", err)
		}
		if rep.OK != (len(rep.Failures) == 0) {
			t.Fatalf("OK=%v with failures %+v", rep.OK, rep.Failures)
		}
		if rep.OK && !bytes.Equal(kit, valid) {
			// Only re-encodings of the valid kit may pass: same content.
			if !bytes.Equal(fixtures.DecompressTar(kit), fixtures.DecompressTar(valid)) && !sameEntries(kit, valid) {
				t.Fatalf("a changed kit verifies OK")
			}
		}
		for _, fl := range rep.Failures {
			if !slices.Contains(bundle.Codes, fl.Code) {
				t.Fatalf("unknown failure code %q", fl.Code)
			}
		}
	})
}

// sameEntries reports whether two kits hold the same entries with the same
// content (a kit may be re-encoded, e.g. without the tar trailer).
func sameEntries(a, b []byte) bool {
	ea, eb := fixtures.Entries(a), fixtures.Entries(b)
	return slices.EqualFunc(ea, eb, func(x, y fixtures.TarEntry) bool {
		return x.Name == y.Name && bytes.Equal(x.Content, y.Content)
	})
}

// FuzzVerifyMetadata replaces the bytes of one TUF metadata entry (which
// is picked by index: the roots, timestamp, snapshot, targets) of an
// otherwise valid kit with the fuzzer's bytes: the kit may verify only if
// those bytes are the entry's original ones. Every byte of the metadata is
// authenticated, so no other form (whitespace, signatures, fields,
// trailing bytes) passes.
//
//	go test -run '^$' -fuzz FuzzVerifyMetadata -fuzztime 60s ./verify/
func FuzzVerifyMetadata(f *testing.F) {
	ch := fixtures.NewChannelN("fuzz", 1, 1, 2, 2)
	ch.Rotate()
	valid := fixtures.Kit(ch, map[string][]byte{"a.txt": []byte("hello\n"), "kit.json": []byte("{}\n")}, fixtures.KitOptions{})
	es := fixtures.Entries(valid)
	var meta []int
	for i, e := range es {
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			meta = append(meta, i)
		}
	}
	for k, i := range meta {
		b := es[i].Content
		f.Add(uint8(k), b)
		f.Add(uint8(k), bytes.Replace(b, []byte("\t"), []byte("\r"), 1))
		f.Add(uint8(k), bytes.TrimSuffix(b, []byte("\n")))
		f.Add(uint8(k), append(bytes.Clone(b), ' '))
	}
	src := verify.Static(verify.Trust{Root: ch.Chain[0]})
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		i := meta[int(which)%len(meta)]
		kit := fixtures.Tamper(valid, func(es []fixtures.TarEntry) []fixtures.TarEntry {
			es[i].Content = data
			return es
		})
		rep, err := verify.Kit(context.Background(), bytes.NewReader(kit), src, verify.Options{At: at})
		if err != nil {
			t.Fatalf("verify.Kit returned an error for kit input: %v", err)
		}
		if rep.OK && !bytes.Equal(data, es[i].Content) {
			t.Fatalf("%s changed and the kit verifies OK:\n%q", es[i].Name, data)
		}
	})
}
