package bundle_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// A Reader hands its zstd decoder to the next one when it is closed. The
// next kit must decode as if the decoder were new, whatever the last one
// did: stopped mid-stream, met a corrupt stream, or had a smaller window.
func TestReaderReusesDecoder(t *testing.T) {
	kit := sampleKit(t)
	want := append(names(meta...), names(content...)...)

	// Stopped after the first entry, mid-stream.
	r, err := bundle.NewReader(bytes.NewReader(kit))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r.Close() // a second Close must not hand the decoder out twice
	if _, err := r.Next(); err == nil {
		t.Error("Next after Close did not fail")
	}

	// A kit whose zstd window (16 MiB) is larger than ferry writes, with
	// content that refers back further than 8 MiB: the reused decoder's
	// history must grow to the new window.
	big := make([]byte, 9<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	data := append(bytes.Clone(big), big...)
	entries := fixtures.Entries(kit)
	for i := range entries {
		if entries[i].Name == "docs/sub/data.bin" {
			entries[i].Content = data
		}
	}
	var wide bytes.Buffer
	zw, err := zstd.NewWriter(&wide, zstd.WithWindowSize(16<<20), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(fixtures.DecompressTar(fixtures.Pack(entries))); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if wide.Len() > len(big)+len(big)/2 {
		t.Fatalf("the test kit is %d bytes: its second copy of the data is not coded as matches 9 MiB back", wide.Len())
	}
	r, err = bundle.NewReader(bytes.NewReader(wide.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("wide-window kit: %v", err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("wide-window kit, %s: %v", e.Name, err)
		}
		if e.Name == "docs/sub/data.bin" && !bytes.Equal(got, data) {
			t.Errorf("wide-window kit: %s decodes to other bytes", e.Name)
		}
	}
	r.Close()

	// A corrupt stream, then a good kit.
	bad := bytes.Clone(kit)
	bad[len(bad)/2] ^= 0xff
	if _, err := readAll(t, bad, 0); err == nil {
		t.Fatal("a corrupt kit read without error")
	}
	steps, err := readAll(t, kit, 0)
	if err != nil {
		t.Fatalf("after a corrupt kit: %v", err)
	}
	if d := cmp.Diff(want, steps); d != "" {
		t.Errorf("after a corrupt kit (-want +got):\n%s", d)
	}
}

// Readers open at the same time each have a decoder of their own.
func TestReadersAtOnce(t *testing.T) {
	kit := sampleKit(t)
	want := append(names(meta...), names(content...)...)
	done := make(chan []step)
	for range 4 {
		go func() {
			steps, _ := readAll(t, kit, 0)
			done <- steps
		}()
	}
	for range 4 {
		if d := cmp.Diff(want, <-done); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	}
}
