package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/fixtures"
)

// result is what one in-process run of ferry gave.
type result struct {
	stdout, stderr string
	code           int
}

// ferry runs the ferry command line in-process with args, in dir.
func ferry(t *testing.T, dir string, args ...string) result {
	t.Helper()
	t.Chdir(dir)
	var out, errb bytes.Buffer
	root := cli.New()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	code := cli.ExitCode(root, err)
	return result{out.String(), errb.String(), code}
}

// mustFerry is ferry that fails the test unless the exit code is 0.
func mustFerry(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := ferry(t, dir, args...)
	if r.code != cli.ExitOK {
		t.Fatalf("ferry %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

const kitYAML = `name: acme-docs
channel: acme-feeds
version: 1
created: 2026-11-28T00:00:00Z
expires: 30d
files:
  - src: docs/
    dest: docs/
  - src: notes.txt
    dest: misc/notes.txt
`

// verifyAt is a time at which the kits of kitYAML are valid.
const verifyAt = "2026-12-01T00:00:00Z"

// site sets up a channel in a temporary directory: keys, root and a
// kit.yaml with a files source. It returns the directory.
func site(t *testing.T) string {
	t.Helper()
	// The root's creation time, and so its expiry, come from here.
	t.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(fixtures.Created.Unix(), 10))
	pinMirrorClock(t, fixtures.Created.Add(24*time.Hour))
	dir := t.TempDir()
	mustFerry(t, dir, "keys", "generate", "--out", "keys", "--name", "root")
	mustFerry(t, dir, "keys", "generate", "--out", "keys", "--name", "signer")
	mustFerry(t, dir, "trust", "init", "--channel", "acme-feeds", "--root-key", "keys/root.key",
		"--signing-key", "keys/signer.pub", "--out", "trust/root.json")
	write(t, filepath.Join(dir, "docs", "README.md"), "# Runbook\n")
	write(t, filepath.Join(dir, "docs", "sub", "data.txt"), strings.Repeat("data\n", 1000))
	write(t, filepath.Join(dir, "notes.txt"), "notes\n")
	write(t, filepath.Join(dir, "kit.yaml"), kitYAML)
	return dir
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestKeysGenerate(t *testing.T) {
	dir := t.TempDir()
	r := mustFerry(t, dir, "keys", "generate", "--out", "keys", "--name", "signer")
	if !strings.Contains(r.stdout, "key id") {
		t.Errorf("output:\n%s", r.stdout)
	}
	fi, err := os.Stat(filepath.Join(dir, "keys", "signer.key"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("private key mode %o, want 600", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "signer.pub")); err != nil {
		t.Error(err)
	}
	// A second run refuses to overwrite the key.
	if r := ferry(t, dir, "keys", "generate", "--out", "keys", "--name", "signer"); r.code == cli.ExitOK {
		t.Error("keys generate overwrote an existing key")
	}
	if r := ferry(t, dir, "keys", "generate", "--out", "keys"); r.code != cli.ExitUsage {
		t.Errorf("keys generate without --name: exit %d, want %d", r.code, cli.ExitUsage)
	}
}

func TestTrustInit(t *testing.T) {
	dir := site(t)
	for _, f := range []string{"trust/root.json", "trust/1.root.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dir, "trust/root.json"))
	b, _ := os.ReadFile(filepath.Join(dir, "trust/1.root.json"))
	if !bytes.Equal(a, b) {
		t.Error("root.json and 1.root.json differ")
	}
}

func TestMirrorAndVerify(t *testing.T) {
	dir := site(t)
	r := mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "acme-1.kit.tar.zst", "--key", "keys/signer.key")
	if !strings.Contains(r.stdout, "acme-1.kit.tar.zst") {
		t.Errorf("mirror output:\n%s", r.stdout)
	}

	t.Run("verify OK", func(t *testing.T) {
		r := mustFerry(t, dir, "verify", "acme-1.kit.tar.zst", "--root", "trust/root.json", "--at", verifyAt)
		if !strings.Contains(r.stdout, "VERIFIED") {
			t.Errorf("output:\n%s", r.stdout)
		}
		r = mustFerry(t, dir, "verify", "acme-1.kit.tar.zst", "--root", "trust/root.json", "--at", verifyAt, "--json")
		var rep struct {
			OK     bool                      `json:"ok"`
			Counts map[string]map[string]int `json:"counts"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("--json: %v\n%s", err, r.stdout)
		}
		if !rep.OK || rep.Counts["files"]["files"] != 3 || rep.Counts["kit"]["files"] != 1 {
			t.Errorf("report: %s", r.stdout)
		}
	})

	t.Run("verify expired", func(t *testing.T) {
		r := ferry(t, dir, "verify", "acme-1.kit.tar.zst", "--root", "trust/root.json", "--at", "2027-01-28T00:00:00Z")
		if r.code != cli.ExitVerification || !strings.Contains(r.stdout, "KIT_EXPIRED") {
			t.Errorf("exit %d\n%s", r.code, r.stdout)
		}
	})

	t.Run("verify tampered", func(t *testing.T) {
		kit, err := os.ReadFile(filepath.Join(dir, "acme-1.kit.tar.zst"))
		if err != nil {
			t.Fatal(err)
		}
		off, _ := fixtures.ContentOffset(kit, "docs/README.md")
		if err := os.WriteFile(filepath.Join(dir, "bad.kit.tar.zst"), fixtures.FlipTarByte(kit, off, 0x01), 0o644); err != nil {
			t.Fatal(err)
		}
		r := ferry(t, dir, "verify", "bad.kit.tar.zst", "--root", "trust/root.json", "--at", verifyAt)
		if r.code != cli.ExitVerification {
			t.Errorf("exit %d, want %d", r.code, cli.ExitVerification)
		}
		if !strings.Contains(r.stdout, "KIT_DIGEST_MISMATCH") || !strings.Contains(r.stdout, "docs/README.md") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "KIT_DIGEST_MISMATCH") {
			t.Errorf("stderr:\n%s", r.stderr)
		}
		r = ferry(t, dir, "verify", "bad.kit.tar.zst", "--root", "trust/root.json", "--at", verifyAt, "--json")
		if r.code != cli.ExitVerification {
			t.Errorf("--json: exit %d, want %d", r.code, cli.ExitVerification)
		}
		var rep struct {
			OK       bool `json:"ok"`
			Failures []struct {
				Code  string `json:"code"`
				Entry string `json:"entry"`
			} `json:"failures"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("--json output does not parse: %v\n%s", err, r.stdout)
		}
		if rep.OK || len(rep.Failures) != 1 || rep.Failures[0].Code != "KIT_DIGEST_MISMATCH" || rep.Failures[0].Entry != "docs/README.md" {
			t.Errorf("report: %s", r.stdout)
		}
	})

	t.Run("verify against another root", func(t *testing.T) {
		other := t.TempDir()
		mustFerry(t, other, "keys", "generate", "--out", ".", "--name", "root")
		mustFerry(t, other, "trust", "init", "--channel", "acme-feeds", "--root-key", "root.key", "--signing-key", "root.pub", "--out", "root.json")
		r := ferry(t, dir, "verify", "acme-1.kit.tar.zst", "--root", filepath.Join(other, "root.json"), "--at", verifyAt)
		if r.code != cli.ExitVerification || !strings.Contains(r.stdout, "KIT_SIGNATURE_INVALID") {
			t.Errorf("exit %d\n%s", r.code, r.stdout)
		}
	})

	t.Run("verify usage", func(t *testing.T) {
		if r := ferry(t, dir, "verify", "acme-1.kit.tar.zst"); r.code != cli.ExitUsage {
			t.Errorf("without --root: exit %d, want %d", r.code, cli.ExitUsage)
		}
		if r := ferry(t, dir, "verify", "acme-1.kit.tar.zst", "--root", "trust/root.json", "--at", "yesterday"); r.code != cli.ExitUsage {
			t.Errorf("bad --at: exit %d, want %d", r.code, cli.ExitUsage)
		}
	})
}

// TestMirrorReproducible builds the same kit twice and compares bytes.
func TestMirrorReproducible(t *testing.T) {
	dir := site(t)
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "a.kit.tar.zst", "--key", "keys/signer.key")
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "b.kit.tar.zst", "--key", "keys/signer.key")
	a, err := os.ReadFile(filepath.Join(dir, "a.kit.tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "b.kit.tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("two mirrors of the same inputs differ (%d and %d bytes)", len(a), len(b))
	}
}

func TestMirrorInvalidSpec(t *testing.T) {
	dir := site(t)
	write(t, filepath.Join(dir, "bad.yaml"), strings.Replace(kitYAML, "channel: acme-feeds\n", "", 1))
	r := ferry(t, dir, "mirror", "-f", "bad.yaml", "-o", "bad.kit.tar.zst", "--key", "keys/signer.key")
	if r.code != cli.ExitUsage {
		t.Errorf("exit %d, want %d", r.code, cli.ExitUsage)
	}
	if !strings.Contains(r.stderr, "SPEC_MISSING_CHANNEL") {
		t.Errorf("stderr does not name SPEC_MISSING_CHANNEL:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.kit.tar.zst")); !os.IsNotExist(err) {
		t.Errorf("an output file was written: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "bad.kit") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestMirrorCheck(t *testing.T) {
	dir := site(t)
	r := mustFerry(t, dir, "mirror", "-f", "kit.yaml", "--check")
	if !strings.Contains(r.stdout, "valid") {
		t.Errorf("output:\n%s", r.stdout)
	}
	r = mustFerry(t, dir, "mirror", "-f", "kit.yaml", "--check", "--json")
	var j struct {
		OK      bool `json:"ok"`
		Sources int  `json:"sources"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || !j.OK || j.Sources != 2 {
		t.Errorf("--check --json: %v %s", err, r.stdout)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".zst") {
			t.Errorf("--check wrote %s", e.Name())
		}
	}

	write(t, filepath.Join(dir, "bad.yaml"), strings.Replace(kitYAML, "channel: acme-feeds\n", "", 1))
	r = ferry(t, dir, "mirror", "-f", "bad.yaml", "--check")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "SPEC_MISSING_CHANNEL") {
		t.Errorf("--check of an invalid spec: exit %d\n%s", r.code, r.stderr)
	}
}

// pinMirrorClock sets the clock mirror checks expiry against for one test.
func pinMirrorClock(t *testing.T, at time.Time) {
	t.Helper()
	t.Cleanup(cli.SetMirrorClock(at))
}

// TestMirrorRefusesExpiredKit: a kit whose created time plus expires lies
// before now is refused, by the build and by --check, with its expiry in
// the message; --allow-expired builds it.
func TestMirrorRefusesExpiredKit(t *testing.T) {
	dir := site(t)
	pinMirrorClock(t, fixtures.Created.Add(60*24*time.Hour))
	write(t, filepath.Join(dir, "kit.yaml"), strings.Replace(kitYAML, "expires: 30d", "expires: 2d", 1))
	for _, args := range [][]string{
		{"mirror", "-f", "kit.yaml", "--check"},
		{"mirror", "-f", "kit.yaml", "-o", "old.kit.tar.zst", "--key", "keys/signer.key"},
	} {
		r := ferry(t, dir, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "already be expired") || !strings.Contains(r.stderr, "2026-11-30T00:00:00Z") {
			t.Errorf("%v: exit %d, stderr %q; want a refusal naming the expiry", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "old.kit.tar.zst")); err == nil {
		t.Error("an expired kit was written")
	}
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "old.kit.tar.zst", "--key", "keys/signer.key", "--allow-expired")
}
