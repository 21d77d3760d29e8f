package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
)

// TestMirrorDeltaPatchesAdvisories: a day that modifies 1 % of an OSV
// source's records makes ferry mirror --base ship a patch on the base's
// osv.jsonl, say so, and leave no temporary file behind; ferry kit diff
// of the base and the delta names the modified records.
func TestMirrorDeltaPatchesAdvisories(t *testing.T) {
	dir := site(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	osvDir := filepath.Join(dir, "osv")
	for i := range 200 {
		write(t, filepath.Join(osvDir, fmt.Sprintf("A-%03d.json", i)),
			deltaAdvisory(fmt.Sprintf("DELTA-2026-%04d", i), "2026-11-01T00:00:00Z", fmt.Sprintf("3.0.%d-1", i)))
	}
	mirror := func(version int, out string, extra ...string) result {
		t.Helper()
		spec := fmt.Sprintf("name: acme-%d\nchannel: acme-feeds\nversion: %d\ncreated: 2026-11-%02dT00:00:00Z\nexpires: 30d\n"+
			"advisories:\n  - name: distro\n    osv: {dir: ./osv}\n", version, version, 27+version)
		write(t, filepath.Join(dir, "kit.yaml"), spec)
		return mustFerry(t, dir, append([]string{"mirror", "-f", "kit.yaml", "-o", out, "--key", "keys/signer.key", "--no-progress"}, extra...)...)
	}
	mirror(1, "v1.kit.tar.zst")
	for _, i := range []int{17, 123} {
		write(t, filepath.Join(osvDir, fmt.Sprintf("A-%03d.json", i)),
			deltaAdvisory(fmt.Sprintf("DELTA-2026-%04d", i), "2026-11-29T00:00:00Z", "3.0.99-1"))
	}
	text := mirror(2, "v2.delta.kit.tar.zst", "--base", "v1.kit.tar.zst").stdout
	if !strings.Contains(text, "1 as patches (") {
		t.Errorf("the mirror does not say the delta carries a patch:\n%s", text)
	}
	var out struct {
		Delta struct {
			Carried, Patched int
			PatchBytes       int64
		}
	}
	r := mirror(2, "v2.delta-again.kit.tar.zst", "--base", "v1.kit.tar.zst", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Delta.Patched != 1 || out.Delta.PatchBytes <= 0 || out.Delta.Carried != 1 {
		t.Errorf("mirror --json: %+v %v\n%s", out.Delta, err, r.stdout)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the mirror left %d temporary files: %v", len(left), left)
	}

	// The delta, read with bundle: the patch, listed in delta.json, and
	// not the file.
	f, err := os.Open(filepath.Join(dir, "v2.delta.kit.tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br, err := bundle.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	const osv = "advisories/distro/osv.jsonl"
	var desc *bundle.Delta
	var header *bundle.PatchHeader
	for {
		e, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch e.Name {
		case osv:
			t.Errorf("the delta carries %s whole", osv)
		case bundle.DeltaPath:
			data, err := br.ReadAll(bundle.MaxDeltaSize)
			if err != nil {
				t.Fatal(err)
			}
			if desc, err = bundle.ParseDelta(data); err != nil {
				t.Fatal(err)
			}
		case bundle.PatchPath(osv):
			if header, err = bundle.ReadPatchHeader(bufio.NewReader(br), e.Size); err != nil {
				t.Fatal(err)
			}
		}
	}
	if header == nil || header.Path != osv || desc == nil || len(desc.Patches) != 1 || desc.Patches[0].Path != osv ||
		desc.Patches[0].Base != header.Base {
		t.Fatalf("the delta's patch %+v, delta.json %+v", header, desc)
	}

	diff := mustFerry(t, dir, "kit", "diff", "v1.kit.tar.zst", "v2.delta.kit.tar.zst", "--json").stdout
	var d struct {
		Advisories struct {
			Added, Removed, Modified []struct{ Source, ID string }
			Unchanged                int
		}
		Other struct{ Added []string }
	}
	if err := json.Unmarshal([]byte(diff), &d); err != nil {
		t.Fatal(err)
	}
	if a := d.Advisories; len(a.Added)+len(a.Removed) != 0 || len(a.Modified) != 2 || a.Modified[0].ID != "DELTA-2026-0017" ||
		a.Modified[1].ID != "DELTA-2026-0123" || a.Unchanged != 198 || len(d.Other.Added) != 0 {
		t.Errorf("kit diff of the patched delta:\n%s", diff)
	}
	if text := mustFerry(t, dir, "kit", "diff", "v1.kit.tar.zst", "v2.delta.kit.tar.zst").stdout; !strings.Contains(text, "ADVISORIES  +0 -0 ~2, 198 unchanged") {
		t.Errorf("kit diff text:\n%s", text)
	}

	// verify names the patch; the delta imports onto its base and the store
	// then answers as after the full kit 2, and checks healthy.
	if v := mustFerry(t, dir, "verify", "v2.delta.kit.tar.zst", "--root", "trust/root.json", "--at", verifyAt).stdout; !strings.Contains(v, "patched") || !strings.Contains(v, osv) {
		t.Errorf("verify of the patched delta does not name the patch:\n%s", v)
	}
	mirror(2, "v2.kit.tar.zst")
	imp := func(st string, kits ...string) {
		t.Helper()
		for i, k := range kits {
			args := []string{"import", k, "--store", st, "--at", verifyAt, "--reason", "test clock"}
			if i == 0 {
				args = append(args, "--root", "trust/root.json")
			}
			mustFerry(t, dir, args...)
		}
	}
	chain, full := filepath.Join(dir, "chain"), filepath.Join(dir, "full")
	imp(chain, "v1.kit.tar.zst", "v2.delta.kit.tar.zst")
	imp(full, "v2.kit.tar.zst")
	answers := func(st string) string {
		var b strings.Builder
		b.WriteString(mustFerry(t, dir, "store", "inventory", "--store", st, "--json").stdout)
		for _, id := range []string{"DELTA-2026-0017", "DELTA-2026-0123", "DELTA-2026-0005"} {
			b.WriteString(mustFerry(t, dir, "store", "query", "--advisory", id, "--store", st, "--json").stdout)
		}
		return strings.ReplaceAll(b.String(), st, "STORE")
	}
	if got, want := answers(chain), answers(full); got != want {
		t.Errorf("the store after 1 and the patched delta:\n%s\nafter the full kit 2:\n%s", got, want)
	}
	mustFerry(t, dir, "store", "check", "--store", chain)
}
