package bundle_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/google/go-cmp/cmp"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1": 1, "4096": 4096, "700MiB": 700 << 20, "4GiB": 4 << 30, "4.7GB": 4_700_000_000, "1.5KiB": 1536, "10kB": 10_000, "2 MiB": 2 << 20,
	} {
		got, err := bundle.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "4 parsecs", "GiB", "1e3", "0.1", "1.2.3MiB", "99999999999TiB"} {
		if n, err := bundle.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		}
	}
}

func TestSplitPartPath(t *testing.T) {
	for in, want := range map[string]struct {
		kit string
		n   int
		ok  bool
	}{
		"a/acme.kit.tar.zst.001": {"a/acme.kit.tar.zst", 1, true},
		"acme.kit.tar.zst.042":   {"acme.kit.tar.zst", 42, true},
		"acme.kit.tar.zst.000":   {"", 0, false},
		"acme.kit.tar.zst.1":     {"", 0, false},
		"acme.kit.tar.zst":       {"", 0, false},
	} {
		k, n, ok := bundle.SplitPartPath(in)
		if k != want.kit || n != want.n || ok != want.ok {
			t.Errorf("SplitPartPath(%q) = %q, %d, %v; want %+v", in, k, n, ok, want)
		}
	}
	if got := bundle.PartName("x.kit.tar.zst", 7); got != "x.kit.tar.zst.007" {
		t.Errorf("PartName = %q", got)
	}
}

type memPart struct {
	bytes.Buffer
	closed bool
}

func (m *memPart) Close() error { m.closed = true; return nil }

// writeParts cuts data into parts of size with PartWriter, in writes of
// chunk bytes.
func writeParts(t *testing.T, data []byte, size int64, chunk int) (*bundle.PartWriter, []*memPart) {
	t.Helper()
	var parts []*memPart
	w := bundle.NewPartWriter(size, func(n int) (io.WriteCloser, error) {
		if n != len(parts)+1 {
			t.Fatalf("part %d created after %d", n, len(parts))
		}
		p := &memPart{}
		parts = append(parts, p)
		return p, nil
	})
	for len(data) > 0 {
		c := min(chunk, len(data))
		if n, err := w.Write(data[:c]); n != c || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
		data = data[c:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w, parts
}

func TestPartWriter(t *testing.T) {
	data := make([]byte, 10_000)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for _, tc := range []struct {
		size  int64
		chunk int
		sizes []int64
	}{
		{4000, 10_000, []int64{4000, 4000, 2000}},
		{4000, 7, []int64{4000, 4000, 2000}},
		{2500, 1000, []int64{2500, 2500, 2500, 2500}}, // a multiple: no empty last part
		{20_000, 3, []int64{10_000}},
	} {
		w, parts := writeParts(t, data, tc.size, tc.chunk)
		var joined []byte
		var sizes []int64
		for i, p := range w.Parts() {
			sum := sha256.Sum256(parts[i].Bytes())
			if p.Number != i+1 || p.Size != int64(parts[i].Len()) || p.SHA256 != hex.EncodeToString(sum[:]) || !parts[i].closed {
				t.Errorf("size %d: part %d: %+v, %d bytes, closed %v", tc.size, i+1, p, parts[i].Len(), parts[i].closed)
			}
			sizes = append(sizes, p.Size)
			joined = append(joined, parts[i].Bytes()...)
		}
		if diff := cmp.Diff(tc.sizes, sizes); diff != "" {
			t.Errorf("size %d, chunk %d: sizes (-want +got):\n%s", tc.size, tc.chunk, diff)
		}
		whole := sha256.Sum256(data)
		if !bytes.Equal(joined, data) || w.Size() != int64(len(data)) || w.SHA256() != hex.EncodeToString(whole[:]) {
			t.Errorf("size %d: the parts are not the stream", tc.size)
		}
	}
}

func TestPartWriterTooManyParts(t *testing.T) {
	w := bundle.NewPartWriter(1, func(int) (io.WriteCloser, error) { return &memPart{}, nil })
	_, err := w.Write(make([]byte, bundle.MaxParts+1))
	if err == nil || !strings.Contains(err.Error(), "larger part size") {
		t.Errorf("err = %v", err)
	}
}

// A part whose size is right but whose bytes are not is found by a hashing
// reader at its end, and by Failures after a non-hashing reader.
func TestPartReader(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("ferry parts "), 1000)
	kit := filepath.Join(dir, "k.kit.tar.zst")
	w := bundle.NewPartWriter(5000, func(n int) (io.WriteCloser, error) { return os.Create(bundle.PartName(kit, n)) })
	w.Write(data)
	w.Close()
	set := &bundle.PartSet{Kit: kit, Index: &bundle.PartIndex{Parts: w.Parts()}}
	for _, hash := range []bool{true, false} {
		r := set.Reader(hash)
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) || len(r.Failures()) != 0 {
			t.Fatalf("hash %v: %d bytes, %v, failures %v", hash, len(got), err, r.Failures())
		}
	}
	bad := bytes.Clone(data[5000:10000])
	bad[17] ^= 1
	os.WriteFile(bundle.PartName(kit, 2), bad, 0o644)
	r := set.Reader(true)
	n, err := io.Copy(io.Discard, r)
	if bundle.CodeOf(err) != bundle.CodePartInvalid || n != 10000 {
		t.Errorf("hashing reader: %d bytes, %v", n, err)
	}
	var e *bundle.Error
	if fs := r.Failures(); len(fs) != 1 || !errors.As(fs[0], &e) || e.Entry != "k.kit.tar.zst.002" {
		t.Errorf("failures: %v", fs)
	}
	r = set.Reader(false)
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Errorf("non-hashing reader: %v", err)
	}
	if fs := r.Failures(); len(fs) != 1 || fs[0].Entry != "k.kit.tar.zst.002" {
		t.Errorf("failures: %v", fs)
	}
	os.Truncate(bundle.PartName(kit, 3), 100)
	r = set.Reader(false)
	if _, err := io.Copy(io.Discard, r); bundle.CodeOf(err) != bundle.CodePartInvalid || !strings.Contains(err.Error(), "k.kit.tar.zst.003") {
		t.Errorf("short part: %v", err)
	}
}

// FuzzParsePartIndex feeds arbitrary bytes to the part index parser: it
// must not panic, and what it accepts must be consistent.
//
//	go test -run '^$' -fuzz FuzzParsePartIndex -fuzztime 60s ./bundle/
func FuzzParsePartIndex(f *testing.F) {
	ch := fixtures.NewChannel("fuzz")
	idx := &bundle.PartIndex{Schema: bundle.PartIndexSchema, Kit: "k", Name: "k", Channel: "fuzz", Version: 1,
		TargetsSHA256: strings.Repeat("a", 64), SHA256: strings.Repeat("b", 64), Size: 3, PartSize: 2,
		Parts: []bundle.Part{{1, 2, strings.Repeat("c", 64)}, {2, 1, strings.Repeat("d", 64)}}, Roots: ch.Chain}
	signed, err := bundle.SignPartIndex(idx, ch.SigningKeys())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add([]byte(`{"payloadType":"application/vnd.ferry.kit-parts.v1+json","payload":"e30=","signatures":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, got, err := bundle.ParsePartIndex("x", data)
		if err != nil {
			if c := bundle.CodeOf(err); c != bundle.CodeMalformed && c != bundle.CodeTooLarge {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		var total int64
		for i, p := range got.Parts {
			if p.Number != i+1 || p.Size <= 0 {
				t.Fatalf("accepted part %+v at %d", p, i)
			}
			total += p.Size
		}
		if total != got.Size || len(env.PAE()) == 0 {
			t.Fatalf("accepted an index whose parts do not add up")
		}
	})
}
