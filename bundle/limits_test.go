package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

func limitOpts(c *fixtures.Channel) bundle.WriteOptions {
	return bundle.WriteOptions{
		Info:    bundle.Info{Name: "limits", Channel: "limits", Version: 1, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
		Roots:   c.Chain,
		Signers: c.SigningKeys(),
	}
}

// targetsOf returns the targets.json of a kit.
func targetsOf(t *testing.T, kit []byte) []byte {
	t.Helper()
	r, err := bundle.NewReader(bytes.NewReader(kit))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Name == bundle.TargetsPath {
			b, err := r.ReadAll(bundle.MaxMetadataSize)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// knownFiles are files of the given sizes with their digests known, so
// that Write reads nothing to hash them; opens counts the opens.
func knownFiles(paths []string, custom func(i int) json.RawMessage, size func(i int) int, opens *atomic.Int64) []bundle.File {
	files := make([]bundle.File, len(paths))
	for i, p := range paths {
		data := bytes.Repeat([]byte{'x'}, size(i))
		sum := sha256.Sum256(data)
		files[i] = bundle.File{Path: p, Custom: custom(i), Digest: sum[:], Size: int64(len(data)),
			Open: func() (io.ReadCloser, error) { opens.Add(1); return io.NopCloser(bytes.NewReader(data)), nil }}
	}
	return files
}

// TestTargetsLimitExact: the size TargetsLimit adds up is exactly what
// the targets of a kit add to its targets.json — with names and custom
// objects that encoding/json escapes, re-indents or compacts — so that the
// limit refuses exactly the kits a verifier would refuse. If the
// serialisation of targets.json changes, this test says so.
func TestTargetsLimitExact(t *testing.T) {
	c := fixtures.NewChannel("limits")
	paths := []string{"a", "docs/<b>&c.md", "vex/\u2028line sep\"quoted\".json", "ünïcode/文件", strings.Repeat("long/", 300) + "x"}
	customs := []json.RawMessage{nil, json.RawMessage(`{"source":"files[0]"}`), json.RawMessage(" {\n  \"mediaType\": \"a<b>\",\n \"n\": [1, {\"x\": null}, []], \"o\": {}\n}\n"),
		json.RawMessage(`{"source":"files[0]"}`), json.RawMessage(`null`)}
	sizes := []int{0, 9, 10, 12345, 1}
	var opens atomic.Int64
	files := knownFiles(paths, func(i int) json.RawMessage { return customs[i] }, func(i int) int { return sizes[i] }, &opens)

	var empty, full bytes.Buffer
	if _, err := bundle.Write(context.Background(), &empty, limitOpts(c), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Write(context.Background(), &full, limitOpts(c), files); err != nil {
		t.Fatal(err)
	}
	var l bundle.TargetsLimit
	base := l.Size()
	for i, f := range files {
		if err := l.Add(f.Path, f.Custom, int64(sizes[i])); err != nil {
			t.Fatal(err)
		}
	}
	// An empty targets map is "{}"; a full one "{\n" entries "\t\t}" with
	// no comma after the last entry: 2 bytes more than the entries.
	got := len(targetsOf(t, empty.Bytes())) + int(l.Size()-base) + 2
	if want := len(targetsOf(t, full.Bytes())); got != want {
		t.Fatalf("TargetsLimit counts %d bytes of targets.json, the kit has %d", got, want)
	}
	if l.Targets() != len(files) {
		t.Errorf("Targets() = %d, want %d", l.Targets(), len(files))
	}
}

// longNames returns n paths of about 4000 bytes: 20 000 of them make a
// targets.json of some 80 MB, beyond MaxMetadataSize.
func longNames(n int) []string {
	dir := strings.Repeat("d", 240) + "/"
	prefix := strings.Repeat(dir, 16)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%08d", prefix, i)
	}
	return out
}

// TestWriteRefusesTooManyTargets: files whose targets.json would exceed
// MaxMetadataSize are refused with ErrMetadataTooLarge before any file is
// opened and before a byte is written, naming the file where the limit
// was crossed.
func TestWriteRefusesTooManyTargets(t *testing.T) {
	c := fixtures.NewChannel("limits")
	var opens atomic.Int64
	custom := json.RawMessage(`{"source":"files[0]"}`)
	files := knownFiles(longNames(20000), func(int) json.RawMessage { return custom }, func(int) int { return 0 }, &opens)
	for i := range files {
		files[i].Digest = nil // unknown: Write would have to read them
	}
	var out bytes.Buffer
	_, err := bundle.Write(context.Background(), &out, limitOpts(c), files)
	if !errors.Is(err, bundle.ErrMetadataTooLarge) {
		t.Fatalf("got %v, want ErrMetadataTooLarge", err)
	}
	if out.Len() != 0 || opens.Load() != 0 {
		t.Fatalf("%d bytes written and %d files opened before the refusal, want none", out.Len(), opens.Load())
	}
	if !strings.Contains(err.Error(), "target number 1") || !strings.Contains(err.Error(), "64 MiB") {
		t.Errorf("error %q does not say where the limit was crossed", err)
	}
}
