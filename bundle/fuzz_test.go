package bundle_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// FuzzReader walks arbitrary bytes with bundle.Reader: it must never panic
// or hang, every error must be a *bundle.Error with a known code, every
// entry it hands out must have a safe, unique name, and a stream error
// must be sticky. When compress is set the input is a tar that the test
// wraps in zstd, so that the fuzzer reaches the tar layer.
//
//	go test -run '^$' -fuzz FuzzReader -fuzztime 60s ./bundle/
func FuzzReader(f *testing.F) {
	kit := fixtures.Kit(fixtures.NewChannel("fuzz"), map[string][]byte{"a.txt": []byte("hello\n"), "kit.json": []byte("{}\n")}, fixtures.KitOptions{})
	for _, k := range [][]byte{
		kit,
		fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
			return append(es, fixtures.Reg("../x", []byte("x")), fixtures.TarEntry{Name: "zz", Typeflag: tar.TypeSymlink, Linkname: "/"})
		}),
		fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
			return append(es, es[len(es)-1], fixtures.Reg("aaa", nil))
		}),
		fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
			es[len(es)-1].Size = 1 << 40
			return es
		}),
	} {
		f.Add(k, false)
		f.Add(fixtures.DecompressTar(k), true)
	}
	f.Add(fixtures.Truncate(kit, len(kit)/2), false)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		if compress {
			data = fixtures.CompressTar(data)
		}
		watchdog := time.AfterFunc(20*time.Second, func() { panic("bundle.Reader hangs") })
		defer watchdog.Stop()
		r, err := bundle.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		r.SetBudget(1 << 24)
		seen := map[string]bool{}
		for i := 0; ; i++ {
			e, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var be *bundle.Error
				if !errors.As(err, &be) {
					t.Fatalf("Next: %T %v is not a *bundle.Error", err, err)
				}
				if !known(be.Code) {
					t.Fatalf("unknown code %q", be.Code)
				}
				if r.Err() != nil {
					if _, again := r.Next(); again != r.Err() {
						t.Fatalf("stream error not sticky: %v then %v", r.Err(), again)
					}
					return
				}
				continue
			}
			if why := bundle.CheckPath(e.Name); why != "" {
				t.Fatalf("entry %q handed out: %s", e.Name, why)
			}
			if seen[e.Name] {
				t.Fatalf("entry %q handed out twice", e.Name)
			}
			seen[e.Name] = true
			if e.Size < 0 {
				t.Fatalf("entry %q with size %d", e.Name, e.Size)
			}
			if strings.HasPrefix(e.Name, bundle.MetaDir) {
				_, err = r.ReadAll(1 << 20)
			} else {
				var n int64
				n, err = io.Copy(io.Discard, r)
				if err == nil && n != e.Size {
					t.Fatalf("%s: read %d bytes, header says %d", e.Name, n, e.Size)
				}
			}
			if err != nil && !known(bundle.CodeOf(err)) {
				t.Fatalf("reading %s: %v", e.Name, err)
			}
		}
	})
}

func known(c bundle.Code) bool {
	for _, k := range bundle.Codes {
		if k == c {
			return true
		}
	}
	return false
}

// FuzzParseMetadata parses arbitrary bytes as each role's metadata: what
// ParseMetadata accepts must be exactly what EncodeMetadata writes for it,
// so that no byte of accepted metadata escapes the signatures' reach.
//
//	go test -run '^$' -fuzz FuzzParseMetadata -fuzztime 60s ./bundle/
func FuzzParseMetadata(f *testing.F) {
	kit := fixtures.Kit(fixtures.NewChannelN("fuzz", 1, 1, 2, 2), map[string][]byte{"a.txt": []byte("hello\n")}, fixtures.KitOptions{})
	for _, e := range fixtures.Entries(kit) {
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			f.Add(e.Content)
			f.Add(bytes.Replace(e.Content, []byte("\t"), []byte(" "), 1))
		}
	}
	f.Add([]byte(`{"signed":{"_type":"timestamp"},"signatures":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCanonical[metadata.RootType](t, data)
		checkCanonical[metadata.TimestampType](t, data)
		checkCanonical[metadata.SnapshotType](t, data)
		checkCanonical[metadata.TargetsType](t, data)
	})
}

func checkCanonical[T metadata.Roles](t *testing.T, data []byte) {
	m, err := bundle.ParseMetadata[T](data)
	if err != nil {
		return
	}
	b, err := bundle.EncodeMetadata(m)
	if err != nil {
		t.Fatalf("accepted metadata does not encode: %v", err)
	}
	if !bytes.Equal(b, data) {
		t.Fatalf("accepted metadata is not its canonical form:\n%q\n%q", data, b)
	}
}
