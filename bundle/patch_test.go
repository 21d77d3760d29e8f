package bundle_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
)

const patchPath = "advisories/go/osv.jsonl"

// records returns n sorted one-line records.
func records(n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, fmt.Appendf(nil, `{"id":"GO-2024-%04d","modified":"2026-11-01T00:00:00Z","summary":"record %d"}`+"\n", i, i))
	}
	return out
}

// applyPatch applies patch to base, checking the result's digest.
func applyPatch(t testing.TB, base, patch []byte) ([]byte, *bundle.PatchHeader) {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(patch))
	h, err := bundle.ReadPatchHeader(r, int64(len(patch)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(bundle.PatchReader(h, bytes.NewReader(base), r))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(out); hex.EncodeToString(sum[:]) != h.Result.SHA256 || int64(len(out)) != h.Result.Length {
		t.Fatalf("the result is %d bytes sha256 %x, the header says %d bytes %s", len(out), sum, h.Result.Length, h.Result.SHA256)
	}
	return out, h
}

// TestPatchRoundTrip edits a sorted file at random (records modified,
// removed, added, at the start, the end, in runs) and checks that the
// patch gives back the new file, byte for byte, and carries only the
// lines that changed.
func TestPatchRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		old := records(50 + rng.IntN(200))
		var next [][]byte
		changed := 0
		for i, line := range old {
			switch p := rng.IntN(100); {
			case p < 3: // removed
			case p < 8: // modified
				next = append(next, bytes.Replace(line, []byte(`"}`), []byte(` updated"}`), 1))
				changed++
			case p < 10: // a new record after it
				next = append(next, line, fmt.Appendf(nil, `{"id":"GO-2024-%04d-b","summary":"new"}`+"\n", i))
				changed++
			default:
				next = append(next, line)
			}
		}
		base, want := bytes.Join(old, nil), bytes.Join(next, nil)
		if round%7 == 0 && len(want) > 0 {
			want = want[:len(want)-1] // no newline at the end
		}
		patch, err := bundle.MakePatch(patchPath, base, want, len(want))
		if errors.Is(err, bundle.ErrPatchNotSmaller) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got, h := applyPatch(t, base, patch)
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: the patch gives %d bytes, not the %d of the new file", round, len(got), len(want))
		}
		inserted := 0
		for _, op := range h.Ops {
			if op[0] == bundle.OpInsert {
				inserted++
			}
		}
		if changed > 0 && inserted == 0 {
			t.Fatalf("round %d: %d records changed, the patch inserts nothing", round, changed)
		}
		sum := sha256.Sum256(base)
		if h.Base.SHA256 != hex.EncodeToString(sum[:]) || h.Base.Length != int64(len(base)) || h.Path != patchPath {
			t.Fatalf("round %d: header names base %s (%d bytes), path %q", round, h.Base.SHA256, h.Base.Length, h.Path)
		}
	}
}

// TestPatchCarriesOnlyTheChange: a 1 % change of 4,000 records makes a
// patch of about those records.
func TestPatchCarriesOnlyTheChange(t *testing.T) {
	old := records(4000)
	next := make([][]byte, len(old))
	copy(next, old)
	var changed int
	for i := 0; i < len(next); i += 100 {
		next[i] = bytes.Replace(next[i], []byte(`"}`), []byte(` updated"}`), 1)
		changed += len(next[i])
	}
	base, want := bytes.Join(old, nil), bytes.Join(next, nil)
	patch, err := bundle.MakePatch(patchPath, base, want, len(want)/4)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := applyPatch(t, base, patch); !bytes.Equal(got, want) {
		t.Fatal("the patch does not give the new file")
	}
	// The data is the 40 changed records; the header holds 81 ops.
	if len(patch) > changed+81*40+400 {
		t.Fatalf("the patch is %d bytes for %d bytes of changed records", len(patch), changed)
	}
	if _, err := bundle.MakePatch(patchPath, base, bytes.Join(records(4000)[:1], nil), 10); !errors.Is(err, bundle.ErrPatchNotSmaller) && err != nil {
		t.Fatal(err)
	}
	// Everything changed: no patch.
	other := bytes.ReplaceAll(want, []byte("record"), []byte("RECORD"))
	if _, err := bundle.MakePatch(patchPath, base, other, len(other)/4); !errors.Is(err, bundle.ErrPatchNotSmaller) {
		t.Fatalf("a patch of a wholly changed file: %v, want ErrPatchNotSmaller", err)
	}
}

// TestReadPatchHeaderRefuses: a header whose ops do not describe the
// patch and its result is refused before a byte of the result is made.
func TestReadPatchHeaderRefuses(t *testing.T) {
	base := bytes.Join(records(10), nil)
	cut := bytes.Index(base, []byte("\n{\"id\":\"GO-2024-0003")) + 1
	next := append(bytes.Clone(base[:cut]), []byte(`{"id":"NEW"}`+"\n")...)
	next = append(next, base[cut:]...)
	good, err := bundle.MakePatch(patchPath, base, next, len(next))
	if err != nil {
		t.Fatal(err)
	}
	header, data, _ := bytes.Cut(good, []byte("\n"))
	var h bundle.PatchHeader
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != 3 || h.Ops[1] != (bundle.PatchOp{bundle.OpInsert, 0, 13}) {
		t.Fatalf("ops %v: want copy, insert of the new line, copy", h.Ops)
	}
	edit := func(fn func(h *bundle.PatchHeader)) string {
		c := h
		c.Ops = slices.Clone(h.Ops)
		fn(&c)
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hs := string(header)
	for name, c := range map[string]struct{ header, data, want string }{
		"schema":          {edit(func(h *bundle.PatchHeader) { h.Schema = "ferry.dev/patch/v9" }), string(data), "schema"},
		"path":            {edit(func(h *bundle.PatchHeader) { h.Path = "images/index.json" }), string(data), "not a file a delta may patch"},
		"unsafe path":     {edit(func(h *bundle.PatchHeader) { h.Path = "advisories/../x.jsonl" }), string(data), "not a file a delta may patch"},
		"unknown field":   {strings.Replace(hs, `{"schema"`, `{"x":1,"schema"`, 1), string(data), "unknown field"},
		"short data":      {hs, string(data[:len(data)-1]), "the data has next"},
		"long data":       {hs, string(data) + "x", "the patch has"},
		"backward copy":   {edit(func(h *bundle.PatchHeader) { h.Ops[2][1] -= 5 }), string(data), "not forward of"},
		"copy past base":  {edit(func(h *bundle.PatchHeader) { h.Ops[2][2] += 5 }), string(data), "within its"},
		"empty op":        {edit(func(h *bundle.PatchHeader) { h.Ops[0][2] = 0 }), string(data), "length 0"},
		"kind":            {edit(func(h *bundle.PatchHeader) { h.Ops[1][0] = 2 }), string(data), "neither copy"},
		"no newline":      {hs, "", "unexpected EOF"},
		"bad digest":      {edit(func(h *bundle.PatchHeader) { h.Base.SHA256 = "X" + h.Base.SHA256[1:] }), string(data), "not a hex sha256"},
		"negative length": {edit(func(h *bundle.PatchHeader) { h.Result.Length = -1 }), string(data), "result length -1"},
		"two values":      {hs + ` {}`, string(data), "more than one"},
		"result length":   {edit(func(h *bundle.PatchHeader) { h.Result.Length-- }), string(data), "the result has"},
	} {
		patch := c.header + "\n" + c.data
		if name == "no newline" {
			patch = c.header
		}
		_, err := bundle.ReadPatchHeader(bufio.NewReader(strings.NewReader(patch)), int64(len(patch)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
}

// TestPatchReaderShortBase: a base shorter than the header says fails
// the read instead of making a short result.
func TestPatchReaderShortBase(t *testing.T) {
	base := bytes.Join(records(20), nil)
	next := append(bytes.Clone(base), []byte(`{"id":"NEW"}`+"\n")...)
	patch, err := bundle.MakePatch(patchPath, base, next, len(next))
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(bytes.NewReader(patch))
	h, err := bundle.ReadPatchHeader(r, int64(len(patch)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(bundle.PatchReader(h, bytes.NewReader(base[:len(base)-10]), r))
	if err == nil || !strings.Contains(err.Error(), "the base ends before") {
		t.Fatalf("a short base: %v", err)
	}
}

// FuzzPatch: whatever the two files, the patch gives back the second.
func FuzzPatch(f *testing.F) {
	f.Add([]byte("a\nb\nc\n"), []byte("a\nc\nd\n"))
	f.Add([]byte(""), []byte("x"))
	f.Add([]byte("same\n"), []byte("same\n"))
	f.Fuzz(func(t *testing.T, base, next []byte) {
		patch, err := bundle.MakePatch(patchPath, base, next, len(next)+1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := applyPatch(t, base, patch); !bytes.Equal(got, next) {
			t.Fatalf("the patch gives %q, want %q", got, next)
		}
	})
}

// FuzzReadPatchHeader: any patch is read or refused without a panic, and
// one that is read makes exactly the result length it claims or fails.
func FuzzReadPatchHeader(f *testing.F) {
	base := []byte("a\nb\nc\n")
	p, _ := bundle.MakePatch(patchPath, base, []byte("a\nx\nc\n"), 1<<20)
	f.Add(p)
	f.Fuzz(func(t *testing.T, patch []byte) {
		r := bufio.NewReader(bytes.NewReader(patch))
		h, err := bundle.ReadPatchHeader(r, int64(len(patch)))
		if err != nil {
			return
		}
		n, err := io.Copy(io.Discard, bundle.PatchReader(h, bytes.NewReader(base), r))
		if err == nil && n != h.Result.Length {
			t.Fatalf("made %d bytes, the header says %d", n, h.Result.Length)
		}
	})
}
