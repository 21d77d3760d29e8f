package bundle_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// step is what one call of Reader.Next gave: an entry, or an error code
// and the entry it names.
type step struct {
	Name  string
	Code  bundle.Code
	Entry string
}

// readAll walks a kit with a Reader, reading every accepted entry whole
// (within budget, if not 0), and returns every step.
func readAll(t *testing.T, kit []byte, budget int64) ([]step, error) {
	t.Helper()
	r, err := bundle.NewReader(bytes.NewReader(kit))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var steps []step
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("Next does not end")
		}
		e, err := r.Next()
		if err == io.EOF {
			return steps, nil
		}
		if err != nil {
			var be *bundle.Error
			if !errors.As(err, &be) {
				t.Fatalf("Next returned %T %v, not a *bundle.Error", err, err)
			}
			steps = append(steps, step{Code: be.Code, Entry: be.Entry})
			if r.Err() != nil {
				if r.Err() != err {
					t.Errorf("Err() = %v, Next returned %v", r.Err(), err)
				}
				if _, again := r.Next(); again != err {
					t.Errorf("stream error not sticky: %v then %v", err, again)
				}
				return steps, err
			}
			continue
		}
		steps = append(steps, step{Name: e.Name})
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			if _, err := r.ReadAll(bundle.MaxMetadataSize); err != nil {
				steps = append(steps, step{Code: bundle.CodeOf(err), Entry: e.Name})
				return steps, err
			}
			if e.Name == bundle.TargetsPath && budget > 0 {
				r.SetBudget(budget)
			}
			continue
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			steps = append(steps, step{Code: bundle.CodeOf(err), Entry: e.Name})
			return steps, err
		}
	}
}

func names(es ...string) []step {
	out := make([]step, len(es))
	for i, e := range es {
		out[i] = step{Name: e}
	}
	return out
}

var meta = []string{"tuf/1.root.json", bundle.TimestampPath, bundle.SnapshotPath, bundle.TargetsPath}

var content = []string{"advisories/demo/osv.jsonl", "docs/README.md", "docs/sub/data.bin", "kit.json", "trust/keys/cosign.pub"}

func sampleKit(t *testing.T) []byte {
	t.Helper()
	return fixtures.Kit(fixtures.NewChannel("acme-feeds"), fixtures.SampleFiles(), fixtures.KitOptions{})
}

func TestReaderValid(t *testing.T) {
	kit := sampleKit(t)
	steps, err := readAll(t, kit, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := names(slices.Concat(meta, content)...); !slices.Equal(steps, want) {
		t.Errorf("steps:\n got  %v\n want %v", steps, want)
	}
	r, err := bundle.NewReader(bytes.NewReader(kit))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	files := fixtures.SampleFiles()
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := r.ReadAll(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != e.Size {
			t.Errorf("%s: %d bytes, header says %d", e.Name, len(data), e.Size)
		}
		if want, ok := files[e.Name]; ok && !bytes.Equal(data, want) {
			t.Errorf("%s: content differs", e.Name)
		}
	}
	if r.Consumed() <= int64(len(fixtures.SampleFiles()["docs/sub/data.bin"])) {
		t.Errorf("Consumed() = %d", r.Consumed())
	}
}

// TestReaderEntryErrors: an entry the format forbids is reported by Next
// with its name and skipped, and the reader goes on.
func TestReaderEntryErrors(t *testing.T) {
	tests := []struct {
		name  string
		entry fixtures.TarEntry
		code  bundle.Code
	}{
		{"dot-dot", fixtures.Reg("../x", []byte("x")), bundle.CodeUnsafePath},
		{"absolute", fixtures.Reg("/abs", []byte("x")), bundle.CodeUnsafePath},
		{"backslash", fixtures.Reg(`zz\x`, []byte("x")), bundle.CodeUnsafePath},
		{"empty component", fixtures.Reg("zz//x", []byte("x")), bundle.CodeUnsafePath},
		{"control character", fixtures.Reg("zz/\x1bx", []byte("x")), bundle.CodeUnsafePath},
		{"symlink", fixtures.TarEntry{Name: "zz/l", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, bundle.CodeUnsafeEntryType},
		{"hard link", fixtures.TarEntry{Name: "zz/h", Typeflag: tar.TypeLink, Linkname: "kit.json"}, bundle.CodeUnsafeEntryType},
		{"char device", fixtures.TarEntry{Name: "zz/c", Typeflag: tar.TypeChar}, bundle.CodeUnsafeEntryType},
		{"block device", fixtures.TarEntry{Name: "zz/b", Typeflag: tar.TypeBlock}, bundle.CodeUnsafeEntryType},
		{"fifo", fixtures.TarEntry{Name: "zz/f", Typeflag: tar.TypeFifo}, bundle.CodeUnsafeEntryType},
		{"directory", fixtures.TarEntry{Name: "zz/d/", Typeflag: tar.TypeDir}, bundle.CodeUnsafeEntryType},
		{"duplicate", fixtures.Reg("docs/README.md", []byte("{}")), bundle.CodeDuplicateEntry},
		{"unsorted", fixtures.Reg("aaa", []byte("x")), bundle.CodeMalformed},
		{"metadata after content", fixtures.Reg("tuf/late.json", []byte("{}")), bundle.CodeMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kit := fixtures.Tamper(sampleKit(t), func(es []fixtures.TarEntry) []fixtures.TarEntry {
				// After docs/sub/data.bin, so that entries follow it.
				return slices.Insert(es, fixtures.Index(es, "kit.json"), tt.entry)
			})
			steps, err := readAll(t, kit, 0)
			if err != nil {
				t.Fatalf("stream error %v; steps %v", err, steps)
			}
			want := names(slices.Concat(meta, content[:3])...)
			want = append(want, step{Code: tt.code, Entry: tt.entry.Name})
			want = append(want, names(content[3:]...)...)
			if !slices.Equal(steps, want) {
				t.Errorf("steps:\n got  %v\n want %v", steps, want)
			}
		})
	}
}

// TestReaderInsecurePathGODEBUG: with GODEBUG=tarinsecurepath=0
// archive/tar flags "../x" itself; the reader still reports KIT_UNSAFE_PATH
// for the entry and goes on, as without it.
func TestReaderInsecurePathGODEBUG(t *testing.T) {
	t.Setenv("GODEBUG", "tarinsecurepath=0")
	kit := fixtures.Tamper(sampleKit(t), func(es []fixtures.TarEntry) []fixtures.TarEntry {
		return append(es, fixtures.Reg("../x", []byte("x")), fixtures.Reg("zz", []byte("x")))
	})
	steps, err := readAll(t, kit, 0)
	if err != nil {
		t.Fatalf("stream error %v; steps %v", err, steps)
	}
	want := append(names(slices.Concat(meta, content)...), step{Code: bundle.CodeUnsafePath, Entry: "../x"}, step{Name: "zz"})
	if !slices.Equal(steps, want) {
		t.Errorf("steps:\n got  %v\n want %v", steps, want)
	}
}

// TestReaderStreamErrors: a broken stream stops the reader with a sticky
// error that names the entry it concerns.
func TestReaderStreamErrors(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name   string
		kit    func(t *testing.T) []byte
		budget int64
		want   step
		// anyEntry: where a cut zstd stream fails depends on how much
		// the decoder has buffered; only the code is checked.
		anyEntry bool
	}{
		{
			name: "entry cut short",
			kit: func(t *testing.T) []byte {
				data := fixtures.DecompressTar(sampleKit(t))
				off, _ := fixtures.ContentOffset(sampleKit(t), "docs/sub/data.bin")
				return fixtures.CompressTar(data[:off+1000])
			},
			want: step{Code: bundle.CodeTruncated, Entry: "docs/sub/data.bin"},
		},
		{
			name: "zstd stream cut short",
			kit: func(t *testing.T) []byte {
				kit := sampleKit(t)
				return fixtures.Truncate(kit, len(kit)/2)
			},
			want:     step{Code: bundle.CodeTruncated},
			anyEntry: true,
		},
		{
			name: "header declares 10 GiB",
			kit: func(t *testing.T) []byte {
				return fixtures.Tamper(sampleKit(t), func(es []fixtures.TarEntry) []fixtures.TarEntry {
					es[fixtures.Index(es, "docs/README.md")].Size = 10 * gib
					return es
				})
			},
			want: step{Code: bundle.CodeTruncated, Entry: "docs/README.md"},
		},
		{
			name: "metadata entry larger than MaxMetadataSize",
			kit: func(t *testing.T) []byte {
				return fixtures.Tamper(sampleKit(t), func(es []fixtures.TarEntry) []fixtures.TarEntry {
					es[fixtures.Index(es, bundle.SnapshotPath)].Size = bundle.MaxMetadataSize + 1
					return es
				})
			},
			want: step{Code: bundle.CodeTooLarge, Entry: bundle.SnapshotPath},
		},
		{
			name: "over budget: 1 GiB of zeros",
			kit: func(t *testing.T) []byte {
				return fixtures.Tamper(sampleKit(t), func(es []fixtures.TarEntry) []fixtures.TarEntry {
					return append(es, fixtures.TarEntry{Name: "zz/bomb", Body: fixtures.Zeros(gib), Size: gib})
				})
			},
			budget: 1 << 20,
			want:   step{Code: bundle.CodeTooLarge, Entry: "zz/bomb"},
		},
		{
			name: "data after the tar trailer",
			kit: func(t *testing.T) []byte {
				return fixtures.PackTrailing(fixtures.Entries(sampleKit(t)), strings.NewReader("\x00\x00x"))
			},
			want: step{Code: bundle.CodeMalformed, Entry: ""},
		},
		{
			name: "not zstd",
			kit: func(t *testing.T) []byte {
				return fixtures.DecompressTar(sampleKit(t))
			},
			want: step{Code: bundle.CodeMalformed, Entry: ""},
		},
		{
			name: "corrupt tar header",
			kit: func(t *testing.T) []byte {
				// The checksum field of the first header.
				return fixtures.FlipTarByte(sampleKit(t), 150, 0x07)
			},
			want: step{Code: bundle.CodeMalformed, Entry: ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			steps, err := readAll(t, tt.kit(t), tt.budget)
			if err == nil {
				t.Fatalf("no stream error; steps %v", steps)
			}
			got := steps[len(steps)-1]
			if tt.anyEntry {
				got.Entry = ""
			}
			if got != tt.want {
				t.Errorf("last step %v, want %v (all: %v)", got, tt.want, steps)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestReaderReadAllLimit(t *testing.T) {
	r, err := bundle.NewReader(bytes.NewReader(sampleKit(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = r.ReadAll(10)
	if !errors.Is(err, &bundle.Error{Code: bundle.CodeTooLarge, Entry: "tuf/1.root.json"}) {
		t.Fatalf("err = %v, want KIT_TOO_LARGE for tuf/1.root.json", err)
	}
	if _, err := r.Next(); bundle.CodeOf(err) != bundle.CodeTooLarge {
		t.Errorf("after ReadAll refused, Next = %v", err)
	}
}
