package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
)

// TestTrustInitNeverOverwrites: a second init on the same --out, or on
// another --out beside an existing 1.root.json, is refused and changes
// nothing; --force overwrites.
func TestTrustInitNeverOverwrites(t *testing.T) {
	dir := site(t)
	mustFerry(t, dir, "keys", "generate", "--out", "keys", "--name", "other")
	root := filepath.Join(dir, "trust", "root.json")
	before, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{"trust/root.json", "trust/other.json"} {
		r := ferry(t, dir, "trust", "init", "--channel", "acme-feeds", "--root-key", "keys/other.key",
			"--signing-key", "keys/signer.pub", "--out", out)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "--force") {
			t.Errorf("--out %s: exit %d, want %d naming --force\n%s", out, r.code, cli.ExitUsage, r.stderr)
		}
	}
	for _, name := range []string{"root.json", "1.root.json"} {
		after, err := os.ReadFile(filepath.Join(dir, "trust", name))
		if err != nil || !bytes.Equal(before, after) {
			t.Errorf("%s changed by a refused init (%v)", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "trust", "other.json")); err == nil {
		t.Error("a refused init wrote trust/other.json")
	}
	r := mustFerry(t, dir, "trust", "init", "--channel", "acme-feeds", "--root-key", "keys/other.key",
		"--signing-key", "keys/signer.pub", "--out", "trust/root.json", "--force", "--json")
	var desc struct {
		Path    string `json:"path"`
		Channel string `json:"channel"`
		Version int64  `json:"version"`
		Roles   []struct {
			Name string `json:"name"`
		} `json:"roles"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &desc); err != nil || desc.Channel != "acme-feeds" || desc.Version != 1 || len(desc.Roles) != 4 {
		t.Errorf("--json: %+v %v\n%s", desc, err, r.stdout)
	}
	if after, _ := os.ReadFile(root); bytes.Equal(before, after) {
		t.Error("--force did not overwrite the root")
	}
}

// TestKeysGenerateJSON: keys generate --json names the files and key id.
func TestKeysGenerateJSON(t *testing.T) {
	dir := t.TempDir()
	r := mustFerry(t, dir, "keys", "generate", "--out", "keys", "--name", "k", "--json")
	var out map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out["key_id"] == "" || !strings.HasSuffix(out["private_key"], "k.key") || out["algorithm"] != "ed25519" {
		t.Errorf("%v %v\n%s", out, err, r.stdout)
	}
}

// TestWrongKindOfFile: a key or a kit given as --root, and a root given
// as --key, are refused as usage errors that say what the file is.
func TestWrongKindOfFile(t *testing.T) {
	dir := site(t)
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "a.kit.tar.zst", "--key", "keys/signer.key", "--no-progress")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "a.kit.tar.zst", "--root", "keys/root.pub"}, "is a public key, not a channel root"},
		{[]string{"verify", "a.kit.tar.zst", "--root", "keys/root.key"}, "is a private key, not a channel root"},
		{[]string{"verify", "a.kit.tar.zst", "--root", "a.kit.tar.zst"}, "is a kit"},
		{[]string{"import", "a.kit.tar.zst", "--store", "st", "--root", "keys/root.pub"}, "is a public key, not a channel root"},
		{[]string{"mirror", "-f", "kit.yaml", "-o", "b.kit.tar.zst", "--key", "trust/root.json", "--no-progress"}, "is TUF root metadata, not a key"},
	} {
		r := ferry(t, dir, c.args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, want %d and %q\n%s", c.args, r.code, cli.ExitUsage, c.want, r.stderr)
		}
	}
}
