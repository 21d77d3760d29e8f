package kitdiff_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kitdiff"
	"github.com/google/go-cmp/cmp"
)

const patchedOSV = "advisories/distro/osv.jsonl"

// records is an osv.jsonl of records from to to, the ids in mod modified.
func records(from, to int, mod ...int) []byte {
	var b bytes.Buffer
	for i := from; i < to; i++ {
		modified := "2026-11-01T00:00:00Z"
		for _, m := range mod {
			if m == i {
				modified = "2026-11-20T00:00:00Z"
			}
		}
		fmt.Fprintf(&b, `{"id":"DSA-%04d","modified":%q,"summary":"a flaw in package %d that a patch fixes","affected":[{"package":{"ecosystem":"Debian:12","name":"pkg%d"}}]}`+"\n",
			i, modified, i, i)
	}
	return b.Bytes()
}

// patchDelta writes the delta of version 2, files, on the full kit base
// of files v1; with content the base's files are given and a changed
// advisories file goes as a patch.
func patchDelta(t *testing.T, ch *fixtures.Channel, base []byte, v1, files map[string][]byte, content bool) *kitdiff.Kit {
	t.Helper()
	return readKit(t, patchDeltaBytes(t, ch, base, v1, files, content))
}

func patchDeltaBytes(t *testing.T, ch *fixtures.Channel, base []byte, v1, files map[string][]byte, content bool) []byte {
	t.Helper()
	from := fixtures.BaseOf(base, v1)
	if content {
		from.Content = func(p string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(v1[p])), nil }
	}
	var buf bytes.Buffer
	w, err := bundle.WriteDelta(context.Background(), &buf, bundle.WriteOptions{
		Info:  bundle.Info{Name: ch.Name, Channel: ch.Name, Version: 2, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
		Roots: ch.Chain, Signers: ch.SigningKeys(),
	}, fixtures.Files(files), from)
	if err != nil {
		t.Fatal(err)
	}
	if want := 0; content {
		want = 1
		if w.Patched != want {
			t.Fatalf("the delta carries %d patches, want %d", w.Patched, want)
		}
	}
	return buf.Bytes()
}

func readKit(t *testing.T, data []byte) *kitdiff.Kit {
	t.Helper()
	k, err := kitdiff.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestComparePatchedDelta: a delta that carries a changed osv.jsonl as a
// patch on the base's file diffs as the same delta carrying it whole, and
// as the full kit: the same ids added, removed and modified; the patch
// itself shows nowhere.
func TestComparePatchedDelta(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	v1 := map[string][]byte{patchedOSV: records(0, 200), "docs/runbook.md": []byte("# runbook\n")}
	// Day 2: DSA-0000 gone, DSA-0200 new, DSA-0017 and DSA-0123 modified.
	v2 := map[string][]byte{patchedOSV: records(1, 201, 17, 123), "docs/runbook.md": []byte("# runbook 2\n")}
	base := fixtures.Kit(ch, v1, fixtures.KitOptions{Version: 1})
	old := readKit(t, base)
	full, err := kitdiff.Compare(old, readKit(t, fixtures.Kit(ch, v2, fixtures.KitOptions{Version: 2})))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := kitdiff.Compare(old, patchDelta(t, ch, base, v1, v2, false))
	if err != nil {
		t.Fatal(err)
	}
	patchedKit := patchDelta(t, ch, base, v1, v2, true)
	if _, whole := patchedKit.Files[patchedOSV]; whole || len(patchedKit.Patches) != 1 {
		t.Fatalf("the patched delta carries %s whole or lists %d patches", patchedOSV, len(patchedKit.Patches))
	}
	patched, err := kitdiff.Compare(old, patchedKit)
	if err != nil {
		t.Fatal(err)
	}
	want := kitdiff.Advisories{
		Added:     []kitdiff.Advisory{{Source: "distro", ID: "DSA-0200"}},
		Removed:   []kitdiff.Advisory{{Source: "distro", ID: "DSA-0000"}},
		Modified:  []kitdiff.Advisory{{Source: "distro", ID: "DSA-0017"}, {Source: "distro", ID: "DSA-0123"}},
		Unchanged: 197,
	}
	for name, d := range map[string]*kitdiff.Diff{"full kit": full, "delta carrying the file": whole, "delta carrying a patch": patched} {
		if diff := cmp.Diff(want, d.Advisories); diff != "" {
			t.Errorf("%s: advisories (-want +got):\n%s", name, diff)
		}
		if diff := cmp.Diff(kitdiff.Files{Added: []string{}, Removed: []string{}, Changed: []string{"docs/runbook.md"}}, d.Other); diff != "" {
			t.Errorf("%s: other files (-want +got):\n%s", name, diff)
		}
	}
	if diff := cmp.Diff(whole.Notes, patched.Notes); diff != "" {
		t.Errorf("notes (-whole +patched):\n%s", diff)
	}
}

// TestComparePatchedDeltaBaseNotInOld: a patch on a file that old does not
// hold cannot be compared: a note says so and none of its source's
// advisories are counted.
func TestComparePatchedDeltaBaseNotInOld(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	v1 := map[string][]byte{patchedOSV: records(0, 200), "advisories/other/osv.jsonl": records(500, 502)}
	v2 := map[string][]byte{patchedOSV: records(1, 201, 17), "advisories/other/osv.jsonl": records(500, 503)}
	base := fixtures.Kit(ch, v1, fixtures.KitOptions{Version: 1})
	delta := patchDelta(t, ch, base, v1, v2, true)
	for name, oldFiles := range map[string]map[string][]byte{
		"another file":   {patchedOSV: records(0, 200, 5), "advisories/other/osv.jsonl": records(500, 502)},
		"no such file":   {"advisories/other/osv.jsonl": records(500, 502)},
		"old is a delta": nil,
	} {
		t.Run(name, func(t *testing.T) {
			var old *kitdiff.Kit
			if oldFiles == nil {
				old = delta
			} else {
				old = readKit(t, fixtures.Kit(ch, oldFiles, fixtures.KitOptions{Version: 1}))
			}
			d, err := kitdiff.Compare(old, delta)
			if err != nil {
				t.Fatal(err)
			}
			// Only the other source, carried whole, is counted.
			want := kitdiff.Advisories{Added: []kitdiff.Advisory{{Source: "other", ID: "DSA-0502"}}, Removed: []kitdiff.Advisory{},
				Modified: []kitdiff.Advisory{}, Unchanged: 2}
			if oldFiles == nil {
				want = kitdiff.Advisories{Added: []kitdiff.Advisory{}, Removed: []kitdiff.Advisory{}, Modified: []kitdiff.Advisory{}, Unchanged: 3}
			}
			if diff := cmp.Diff(want, d.Advisories); diff != "" {
				t.Errorf("advisories (-want +got):\n%s", diff)
			}
			notes := strings.Join(d.Notes, "\n")
			if !strings.Contains(notes, patchedOSV+" is carried as a patch that cannot be compared") || !strings.Contains(notes, "not in old") {
				t.Errorf("notes: %v", d.Notes)
			}
			var text bytes.Buffer
			if err := d.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "cannot be compared") || strings.Contains(text.String(), "+ "+bundle.PatchDir) {
				t.Errorf("text:\n%s", text.String())
			}
		})
	}
}

// TestComparePatchNotApplicable: a patch that does not take whole lines of
// the base, or that the delta lists but does not carry, is not compared.
func TestComparePatchNotApplicable(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	v1 := map[string][]byte{patchedOSV: records(0, 200)}
	v2 := map[string][]byte{patchedOSV: records(0, 200, 17)}
	base := fixtures.Kit(ch, v1, fixtures.KitOptions{Version: 1})
	delta := patchDeltaBytes(t, ch, base, v1, v2, true)
	sum := sha256.Sum256(v1[patchedOSV])
	file := fmt.Sprintf(`{"sha256":"%x","length":%d}`, sum, len(v1[patchedOSV]))
	// The base itself, copied in two pieces that split its first line.
	split := fmt.Sprintf(`{"schema":%q,"path":%q,"base":%s,"result":%s,"ops":[[0,0,10],[0,10,%d]]}`+"\n",
		bundle.PatchSchema, patchedOSV, file, file, len(v1[patchedOSV])-10)
	for name, tc := range map[string]struct {
		kit  []byte
		note string
	}{
		"split lines": {fixtures.EditEntry(delta, bundle.PatchPath(patchedOSV), func([]byte) []byte { return []byte(split) }), "op 0 does not take whole lines"},
		"not carried": {fixtures.Tamper(delta, func(es []fixtures.TarEntry) []fixtures.TarEntry {
			return slices.DeleteFunc(es, func(e fixtures.TarEntry) bool { return e.Name == bundle.PatchPath(patchedOSV) })
		}), "new does not carry the patch"},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := kitdiff.Compare(readKit(t, base), readKit(t, tc.kit))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(d.Advisories.Added) + len(d.Advisories.Removed) + len(d.Advisories.Modified) + d.Advisories.Unchanged; n != 0 {
				t.Errorf("advisories counted: %+v", d.Advisories)
			}
			if notes := strings.Join(d.Notes, "\n"); !strings.Contains(notes, tc.note) {
				t.Errorf("notes lack %q: %v", tc.note, d.Notes)
			}
		})
	}
}
