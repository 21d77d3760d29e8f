package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// TestWriteKnownDigest: a file that carries its digest and size is opened
// once, not twice, the kit is byte-identical to one where every file is
// hashed, and a digest or size that does not match the content fails with
// ErrChanged.
func TestWriteKnownDigest(t *testing.T) {
	c := fixtures.NewChannel("bench")
	opts := bundle.WriteOptions{
		Info:    bundle.Info{Name: "bench", Channel: "bench", Version: 1, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
		Roots:   c.Chain,
		Signers: c.SigningKeys(),
	}
	m := benchFiles(3, 3<<20, true)
	m["empty"] = nil
	var want bytes.Buffer
	if _, err := bundle.Write(context.Background(), &want, opts, fixtures.Files(m)); err != nil {
		t.Fatal(err)
	}
	known := func(opens *int, change func(f *bundle.File)) []bundle.File {
		files := fixtures.Files(m)
		for i := range files {
			f := &files[i]
			data := m[f.Path]
			sum := sha256.Sum256(data)
			f.Digest, f.Size = sum[:], int64(len(data))
			open := f.Open
			f.Open = func() (io.ReadCloser, error) { *opens++; return open() }
			if change != nil && i == 1 {
				change(f)
			}
		}
		return files
	}

	t.Run("same bytes, one open per file", func(t *testing.T) {
		opens := 0
		var got bytes.Buffer
		if _, err := bundle.Write(context.Background(), &got, opts, known(&opens, nil)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("kit sha256 %x, want %x", sha256.Sum256(got.Bytes()), sha256.Sum256(want.Bytes()))
		}
		if opens != len(m) {
			t.Fatalf("%d opens for %d files, want one each", opens, len(m))
		}
	})
	for name, change := range map[string]func(f *bundle.File){
		"wrong digest": func(f *bundle.File) { f.Digest = bytes.Repeat([]byte{1}, sha256.Size) },
		"larger size":  func(f *bundle.File) { f.Size++ },
		"smaller size": func(f *bundle.File) { f.Size-- },
	} {
		t.Run(name, func(t *testing.T) {
			opens := 0
			_, err := bundle.Write(context.Background(), io.Discard, opts, known(&opens, change))
			if !errors.Is(err, bundle.ErrChanged) {
				t.Fatalf("err = %v, want ErrChanged", err)
			}
		})
	}
	t.Run("malformed digest", func(t *testing.T) {
		opens := 0
		_, err := bundle.Write(context.Background(), io.Discard, opts, known(&opens, func(f *bundle.File) { f.Digest = f.Digest[:20] }))
		if err == nil || errors.Is(err, bundle.ErrChanged) {
			t.Fatalf("err = %v, want a malformed-digest error", err)
		}
	})
}
