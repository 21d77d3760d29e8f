package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// TestWriteDeterministicAcrossGOMAXPROCS builds the same kit of several MiB
// (random and compressible files, more files than hashing workers) under
// GOMAXPROCS 1, 2 and 4: the bytes must not change.
func TestWriteDeterministicAcrossGOMAXPROCS(t *testing.T) {
	c := fixtures.NewChannel("bench")
	m := benchFiles(6, 3<<20, true)
	for p, d := range benchFiles(3, 2<<20, false) {
		m["text/"+p] = d
	}
	m["empty"] = nil
	opts := bundle.WriteOptions{
		Info:    bundle.Info{Name: "bench", Channel: "bench", Version: 1, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
		Roots:   c.Chain,
		Signers: c.SigningKeys(),
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var first []byte
	for _, procs := range []int{1, 4, 2, 1} {
		runtime.GOMAXPROCS(procs)
		var buf bytes.Buffer
		if _, err := bundle.Write(context.Background(), &buf, opts, fixtures.Files(m)); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = buf.Bytes()
			if len(first) < 16<<20 {
				t.Fatalf("kit of %d bytes: the test wants several MiB", len(first))
			}
			continue
		}
		if !bytes.Equal(buf.Bytes(), first) {
			t.Fatalf("GOMAXPROCS=%d: kit sha256 %x, want %x", procs, sha256.Sum256(buf.Bytes()), sha256.Sum256(first))
		}
	}
}

// TestWriteChangedFile: a file whose content differs between the hashing
// pass and the writing pass fails with ErrChanged, whether it grew, shrank
// or kept its size; a file that fails to open reports the first such file.
func TestWriteChangedFile(t *testing.T) {
	c := fixtures.NewChannel("bench")
	opts := bundle.WriteOptions{
		Info:    bundle.Info{Name: "bench", Channel: "bench", Version: 1, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
		Roots:   c.Chain,
		Signers: c.SigningKeys(),
	}
	orig := bytes.Repeat([]byte("0123456789abcdef"), 300<<10) // 4.7 MiB: several copy buffers
	for name, second := range map[string][]byte{
		"same size": append(append([]byte{}, orig[:len(orig)-1]...), 'x'),
		"longer":    append(append([]byte{}, orig...), 'x'),
		"shorter":   orig[:len(orig)-1],
	} {
		t.Run(name, func(t *testing.T) {
			calls := 0
			files := fixtures.Files(map[string][]byte{"a": []byte("a"), "z": []byte("z")})
			files = append(files, bundle.File{Path: "m/changing", Open: func() (io.ReadCloser, error) {
				calls++
				if calls == 1 {
					return io.NopCloser(bytes.NewReader(orig)), nil
				}
				return io.NopCloser(bytes.NewReader(second)), nil
			}})
			_, err := bundle.Write(context.Background(), io.Discard, opts, files)
			if !errors.Is(err, bundle.ErrChanged) {
				t.Fatalf("err = %v, want ErrChanged", err)
			}
		})
	}
	t.Run("open error", func(t *testing.T) {
		files := fixtures.Files(map[string][]byte{"a": []byte("a")})
		for _, p := range []string{"c", "b", "d"} {
			files = append(files, bundle.File{Path: p, Open: func() (io.ReadCloser, error) { return nil, errors.New("no " + p) }})
		}
		_, err := bundle.Write(context.Background(), io.Discard, opts, files)
		if err == nil || err.Error() != "opening b: no b" {
			t.Fatalf("err = %v, want the error of b, the first failing file", err)
		}
	})
}
