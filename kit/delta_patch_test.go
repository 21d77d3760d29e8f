package kit_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/verify"
)

// patchDay is a channel's site: two OSV sources of n records each, kept
// in directories that each day edits, and the kits built of them.
type patchDay struct {
	t   *testing.T
	ch  *fixtures.Channel
	dir string
}

func newPatchDay(t *testing.T, n int) *patchDay {
	t.Helper()
	d := &patchDay{t: t, ch: fixtures.NewChannel("acme"), dir: t.TempDir()}
	for _, src := range []string{"distro", "extra"} {
		for i := range n {
			d.record(src, i, "2026-11-01T00:00:00Z")
		}
	}
	return d
}

// record writes record i of source src, last modified at modified.
func (d *patchDay) record(src string, i int, modified string) {
	d.t.Helper()
	rec := fmt.Sprintf(`{"schema_version":"1.6.0","id":"%s-2026-%04d","modified":%q,"published":"2026-11-01T00:00:00Z",`+
		`"summary":"openssl flaw %d","affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},`+
		`"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.%d-1"}]}]}]}`,
		strings.ToUpper(src), i, modified, i, i)
	p := filepath.Join(d.dir, src, fmt.Sprintf("%04d.json", i))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(rec), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// build builds version v to out, a delta when from is set.
func (d *patchDay) build(v int, out string, from *bundle.DeltaFrom) *kit.BuildResult {
	d.t.Helper()
	spec := fmt.Sprintf("name: acme\nchannel: acme\nversion: %d\ncreated: 2026-11-%02dT00:00:00Z\nexpires: 30d\n"+
		"advisories:\n  - name: distro\n    osv: {dir: ./distro}\n  - name: extra\n    osv: {dir: ./extra}\n", v, v)
	path := filepath.Join(d.dir, "kit.yaml")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		d.t.Fatal(err)
	}
	s, err := kit.LoadSpec(path)
	if err != nil {
		d.t.Fatal(err)
	}
	res, err := kit.BuildFile(d.t.Context(), filepath.Join(d.dir, out), s, kit.BuildOptions{Roots: d.ch.Chain, Signers: d.ch.SigningKeys(), Delta: from})
	if err != nil {
		d.t.Fatalf("building %s: %v", out, err)
	}
	return res
}

// base reads kit name as a delta's base, keeping its files in tmp.
func (d *patchDay) base(name, tmp string) *bundle.DeltaFrom {
	d.t.Helper()
	from, err := kit.DeltaFromKit(d.t.Context(), filepath.Join(d.dir, name), d.ch.Chain, "acme", nil, tmp)
	if err != nil {
		d.t.Fatal(err)
	}
	return from
}

// entries maps the content entries of kit name to their bytes; a kit
// that carries no patch is verified first.
func (d *patchDay) entries(name string) map[string][]byte {
	d.t.Helper()
	data, err := os.ReadFile(filepath.Join(d.dir, name))
	if err != nil {
		d.t.Fatal(err)
	}
	out := map[string][]byte{}
	patches := false
	for _, e := range fixtures.Entries(data) {
		if !strings.HasPrefix(e.Name, bundle.MetaDir) {
			out[e.Name] = e.Content
			patches = patches || strings.HasPrefix(e.Name, bundle.PatchDir)
		}
	}
	if !patches {
		rep, err := verify.Kit(d.t.Context(), bytes.NewReader(data), verify.Static(verify.Trust{Root: d.ch.Root()}), verify.Options{At: fixtures.Created.Add(time.Hour)})
		if err != nil || !rep.OK {
			d.t.Fatalf("%s does not verify: %v %v", name, err, rep.Err())
		}
	}
	return out
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// applyPatch rebuilds a patched file on base and checks its digest.
func applyPatch(t *testing.T, patch, base []byte) []byte {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(patch))
	h, err := bundle.ReadPatchHeader(br, int64(len(patch)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(bundle.PatchReader(h, bytes.NewReader(base), br))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(out); hex.EncodeToString(sum[:]) != h.Result.SHA256 {
		t.Fatalf("the patch of %s rebuilds bytes of sha256 %x, its header says %s", h.Path, sum, h.Result.SHA256)
	}
	return out
}

// TestDeltaPatchesChangedAdvisories: a day that modifies 1 % of a
// source's records ships a patch on the base's osv.jsonl, not the file;
// the base's files are kept in the caller's directory only.
func TestDeltaPatchesChangedAdvisories(t *testing.T) {
	const n = 200
	d := newPatchDay(t, n)
	d.build(1, "v1.kit.tar.zst", nil)
	d.record("distro", 17, "2026-11-02T00:00:00Z")
	d.record("distro", 123, "2026-11-02T00:00:00Z")
	d.build(2, "v2.kit.tar.zst", nil)

	tmp := t.TempDir()
	from := d.base("v1.kit.tar.zst", tmp)
	if len(dirEntries(t, tmp)) != 2 || from.Content == nil {
		t.Fatalf("kept %v of the base's two osv.jsonl files, content %v", dirEntries(t, tmp), from.Content != nil)
	}
	res := d.build(2, "v2.delta.kit.tar.zst", from)
	if res.Delta.Patched != 1 || res.Delta.Carried != 1 || res.Delta.PatchBytes <= 0 || res.Delta.PatchBytes*20 > res.Delta.FullContentBytes {
		t.Errorf("the delta carries %d files and %d patches (%d bytes of %d), want kit.json and one small patch",
			res.Delta.Carried, res.Delta.Patched, res.Delta.PatchBytes, res.Delta.FullContentBytes)
	}
	got := d.entries("v2.delta.kit.tar.zst")
	const osv = "advisories/distro/osv.jsonl"
	if _, whole := got[osv]; whole {
		t.Errorf("the delta carries %s whole", osv)
	}
	patch, ok := got[bundle.PatchPath(osv)]
	if !ok {
		t.Fatalf("the delta carries no %s: %v", bundle.PatchPath(osv), slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		}))
	}
	v1, v2 := d.entries("v1.kit.tar.zst"), d.entries("v2.kit.tar.zst")
	if !bytes.Equal(applyPatch(t, patch, v1[osv]), v2[osv]) {
		t.Errorf("the patch on v1's %s does not rebuild v2's", osv)
	}

	// Without the base's content (a have-list, no directory) the file goes whole.
	res = d.build(2, "v2.whole.delta.kit.tar.zst", d.base("v1.kit.tar.zst", ""))
	if res.Delta.Patched != 0 || !bytes.Equal(d.entries("v2.whole.delta.kit.tar.zst")[osv], v2[osv]) {
		t.Errorf("a delta without the base's content: %d patches", res.Delta.Patched)
	}
}

// TestDeltaOnDeltaPatchesOnlyCarriedFiles: a base that is a delta holds the
// bytes of the files it carries whole only: a file it left out (or
// patched) goes whole, one it carries is patched.
func TestDeltaOnDeltaPatchesOnlyCarriedFiles(t *testing.T) {
	const n = 200
	d := newPatchDay(t, n)
	d.build(1, "v1.kit.tar.zst", nil)
	// Day 2: half of extra changes (carried whole), distro does not.
	for i := 0; i < n; i += 2 {
		d.record("extra", i, "2026-11-02T00:00:00Z")
	}
	tmp := t.TempDir()
	d.build(2, "v2.delta.kit.tar.zst", d.base("v1.kit.tar.zst", tmp))
	v2 := d.entries("v2.delta.kit.tar.zst")
	if _, ok := v2["advisories/extra/osv.jsonl"]; !ok || len(v2) != 3 {
		t.Fatalf("day 2's delta carries %d entries, want kit.json, extra's osv.jsonl whole and delta.json", len(v2))
	}
	// Day 3: 1 % of each source changes.
	d.record("distro", 5, "2026-11-03T00:00:00Z")
	d.record("distro", 6, "2026-11-03T00:00:00Z")
	d.record("extra", 7, "2026-11-03T00:00:00Z")
	d.record("extra", 9, "2026-11-03T00:00:00Z")
	tmp3 := t.TempDir()
	from := d.base("v2.delta.kit.tar.zst", tmp3)
	if kept := dirEntries(t, tmp3); len(kept) != 1 {
		t.Errorf("kept %v of a delta carrying one osv.jsonl", kept)
	}
	res := d.build(3, "v3.delta.kit.tar.zst", from)
	got := d.entries("v3.delta.kit.tar.zst")
	for p, want := range map[string]bool{
		"advisories/distro/osv.jsonl": true, bundle.PatchPath("advisories/distro/osv.jsonl"): false,
		"advisories/extra/osv.jsonl": false, bundle.PatchPath("advisories/extra/osv.jsonl"): true,
	} {
		if _, ok := got[p]; ok != want {
			t.Errorf("day 3's delta on day 2's carries %s: %v, want %v", p, ok, want)
		}
	}
	if res.Delta.Patched != 1 || res.Delta.Carried != 2 {
		t.Errorf("day 3's delta: %d carried, %d patched; want 2 and 1", res.Delta.Carried, res.Delta.Patched)
	}
}

// TestDeltaFromKitLeavesNothingOnError: a base that fails, after its
// advisories were kept or on their bytes, leaves the directory empty.
func TestDeltaFromKitLeavesNothingOnError(t *testing.T) {
	d := newPatchDay(t, 50)
	d.build(1, "v1.kit.tar.zst", nil)
	path := filepath.Join(d.dir, "v1.kit.tar.zst")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// kit.json comes after the advisories: they are kept before it fails.
	for _, entry := range []string{"kit.json", "advisories/extra/osv.jsonl"} {
		t.Run(entry, func(t *testing.T) {
			bad := fixtures.EditEntry(data, entry, func(b []byte) []byte { return bytes.Replace(b, []byte("2026"), []byte("2027"), 1) })
			badPath := filepath.Join(t.TempDir(), "bad.kit.tar.zst")
			if err := os.WriteFile(badPath, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			if _, err := kit.DeltaFromKit(t.Context(), badPath, d.ch.Chain, "acme", nil, tmp); err == nil {
				t.Fatal("a tampered base accepted")
			}
			if left := dirEntries(t, tmp); len(left) != 0 {
				t.Errorf("a failed base left %v", left)
			}
		})
	}
}
