package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
)

func TestMirrorSplitVerifyImport(t *testing.T) {
	dir := site(t)
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "whole.kit.tar.zst", "--key", "keys/signer.key")
	r := mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "acme-1.kit.tar.zst", "--key", "keys/signer.key", "--split", "1000")
	if !strings.Contains(r.stdout, "acme-1.kit.tar.zst.parts.json") {
		t.Errorf("mirror output:\n%s", r.stdout)
	}
	whole, err := os.ReadFile(filepath.Join(dir, "whole.kit.tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	// The parts are the kit cut at 1000 bytes: the same bytes in order.
	var joined []byte
	n := 0
	for {
		data, err := os.ReadFile(filepath.Join(dir, "acme-1.kit.tar.zst.00"+string(rune('1'+n))))
		if err != nil {
			break
		}
		if len(data) > 1000 {
			t.Errorf("part %d has %d bytes", n+1, len(data))
		}
		joined = append(joined, data...)
		n++
	}
	if n < 2 || !bytes.Equal(joined, whole) {
		t.Fatalf("%d parts of %d bytes in all; the whole kit has %d", n, len(joined), len(whole))
	}
	if _, err := os.Stat(filepath.Join(dir, "acme-1.kit.tar.zst")); err == nil {
		t.Errorf("--split also wrote the whole kit")
	}

	t.Run("verify", func(t *testing.T) {
		r := mustFerry(t, dir, "verify", "acme-1.kit.tar.zst.001", "--root", "trust/root.json", "--at", verifyAt)
		if !strings.Contains(r.stdout, "VERIFIED") || !strings.Contains(r.stdout, "signed index acme-1.kit.tar.zst.parts.json") {
			t.Errorf("output:\n%s", r.stdout)
		}
		r = mustFerry(t, dir, "verify", "acme-1.kit.tar.zst.002", "--root", "trust/root.json", "--at", verifyAt, "--json")
		var rep struct {
			OK    bool `json:"ok"`
			Parts struct {
				Count int `json:"count"`
			} `json:"parts"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !rep.OK || rep.Parts.Count != n {
			t.Errorf("report (%v): %s", err, r.stdout)
		}
		r = mustFerry(t, dir, "verify", "acme-1.kit.tar.zst.002", "--part-only", "--root", "trust/root.json", "--at", verifyAt)
		if !strings.Contains(r.stdout, "PART VERIFIED (this part only)") || !strings.Contains(r.stdout, "2 of") {
			t.Errorf("output:\n%s", r.stdout)
		}
		// The kit's own name finds its parts.
		mustFerry(t, dir, "verify", "acme-1.kit.tar.zst", "--root", "trust/root.json", "--at", verifyAt)
		r = mustFerry(t, dir, "inspect", "acme-1.kit.tar.zst.002")
		if !strings.Contains(r.stdout, "acme-feeds") {
			t.Errorf("inspect of a part:\n%s", r.stdout)
		}
		if r := ferry(t, dir, "verify", "whole.kit.tar.zst", "--part-only", "--root", "trust/root.json"); r.code != cli.ExitUsage {
			t.Errorf("--part-only of a whole kit: exit %d", r.code)
		}
	})

	t.Run("bad split size", func(t *testing.T) {
		r := ferry(t, dir, "mirror", "-f", "kit.yaml", "-o", "x.kit.tar.zst", "--key", "keys/signer.key", "--split", "4 parsecs")
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "--split") {
			t.Errorf("exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("import", func(t *testing.T) {
		r := mustFerry(t, dir, "import", "acme-1.kit.tar.zst.001", "--store", "store", "--root", "trust/root.json", "--at", verifyAt, "--reason", "test clock")
		if !strings.Contains(r.stdout, "activated channel acme-feeds") {
			t.Errorf("output:\n%s", r.stdout)
		}
		inv := mustFerry(t, dir, "store", "inventory", "--store", "store", "--json").stdout
		mustFerry(t, dir, "import", "whole.kit.tar.zst", "--store", "store2", "--root", "trust/root.json", "--at", verifyAt, "--reason", "test clock")
		if inv2 := mustFerry(t, dir, "store", "inventory", "--store", "store2", "--json").stdout; inv != inv2 {
			t.Errorf("inventory after importing the parts:\n%s\nafter importing the whole kit:\n%s", inv, inv2)
		}
	})

	t.Run("corrupt part", func(t *testing.T) {
		p := filepath.Join(dir, "acme-1.kit.tar.zst.002")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[10] ^= 0x20
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := ferry(t, dir, "verify", "acme-1.kit.tar.zst.001", "--root", "trust/root.json", "--at", verifyAt)
		if r.code != cli.ExitVerification || !regexp.MustCompile(`KIT_PART_INVALID +acme-1\.kit\.tar\.zst\.002`).MatchString(r.stdout) {
			t.Errorf("exit %d\n%s", r.code, r.stdout)
		}
		r = ferry(t, dir, "import", "acme-1.kit.tar.zst.001", "--store", "store3", "--root", "trust/root.json", "--at", verifyAt, "--reason", "test clock")
		if r.code != cli.ExitVerification || !strings.Contains(r.stderr+r.stdout, "KIT_PART_INVALID") {
			t.Errorf("import: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		os.Rename(filepath.Join(dir, "acme-1.kit.tar.zst.parts.json"), filepath.Join(dir, "index.json"))
		r = ferry(t, dir, "verify", "acme-1.kit.tar.zst.001", "--root", "trust/root.json", "--at", verifyAt)
		if r.code != cli.ExitVerification || !strings.Contains(r.stdout, "KIT_PART_MISSING") || !strings.Contains(r.stdout, "parts.json") {
			t.Errorf("index missing: exit %d\n%s", r.code, r.stdout)
		}
		os.Rename(filepath.Join(dir, "index.json"), filepath.Join(dir, "acme-1.kit.tar.zst.parts.json"))
		os.Remove(p)
		r = ferry(t, dir, "import", "acme-1.kit.tar.zst.001", "--store", "store3", "--root", "trust/root.json", "--at", verifyAt, "--reason", "test clock")
		if r.code != cli.ExitVerification || !strings.Contains(r.stderr, "KIT_PART_MISSING: acme-1.kit.tar.zst.002") {
			t.Errorf("import: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "store3", "ferry.db")); err == nil {
			t.Errorf("a failed first import left a store")
		}
	})
}

func TestKitDiff(t *testing.T) {
	dir := site(t)
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "acme-1.kit.tar.zst", "--key", "keys/signer.key")
	write(t, filepath.Join(dir, "docs", "README.md"), "# Runbook, second edition\n")
	write(t, filepath.Join(dir, "kit.yaml"), strings.Replace(kitYAML, "version: 1", "version: 2", 1))
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "acme-2.kit.tar.zst", "--key", "keys/signer.key", "--split", "1000")

	r := mustFerry(t, dir, "kit", "diff", "acme-1.kit.tar.zst", "acme-2.kit.tar.zst.001")
	if !strings.Contains(r.stdout, "NOT VERIFIED") || !strings.Contains(r.stdout, "~ docs/README.md") {
		t.Errorf("output:\n%s", r.stdout)
	}
	r = mustFerry(t, dir, "kit", "diff", "acme-1.kit.tar.zst", "acme-2.kit.tar.zst.001", "--root", "trust/root.json", "--at", verifyAt, "--json")
	var d struct {
		Verified bool `json:"verified"`
		Old      struct {
			Version int `json:"version"`
		} `json:"old"`
		New struct {
			Version int `json:"version"`
		} `json:"new"`
		Other struct {
			Changed []string `json:"changed"`
		} `json:"other"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || !d.Verified || d.Old.Version != 1 || d.New.Version != 2 ||
		len(d.Other.Changed) != 1 || d.Other.Changed[0] != "docs/README.md" {
		t.Errorf("--json (%v):\n%s", err, r.stdout)
	}
	if r := ferry(t, dir, "kit", "diff", "acme-1.kit.tar.zst", "acme-2.kit.tar.zst.001", "--root", "trust/root.json", "--at", "2027-06-01T00:00:00Z"); r.code != cli.ExitVerification || !strings.Contains(r.stderr, "KIT_EXPIRED") {
		t.Errorf("expired: exit %d\n%s", r.code, r.stderr)
	}
	if r := ferry(t, dir, "kit", "diff", "acme-1.kit.tar.zst"); r.code != cli.ExitUsage {
		t.Errorf("one kit: exit %d", r.code)
	}
}
