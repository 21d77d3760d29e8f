package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/trust"
)

// TestTrustRotateKeepsRootKeys: trust rotate keeps root keys given both as
// --old-root-key and --new-root-key (1 of 1 kept with new signing keys,
// then 2 of 3 kept with the third replaced), and a site pinned to root
// version 1 verifies and imports a kit signed under the last root.
func TestTrustRotateKeepsRootKeys(t *testing.T) {
	dir := site(t)
	for _, name := range []string{"root2", "root3", "root4", "signer2"} {
		mustFerry(t, dir, "keys", "generate", "--out", "keys", "--name", name)
	}
	rotate := func(args ...string) result {
		return ferry(t, dir, append([]string{"trust", "rotate", "--root", "trust/root.json"}, args...)...)
	}
	steps := []struct {
		name string
		args []string
		want string
	}{
		{"1 of 1: the same root key, new signing keys",
			[]string{"--old-root-key", "keys/root.key", "--new-root-key", "keys/root.key", "--signing-key", "keys/signer2.pub"}, "root      1 of"},
		{"1 of 1 to 2 of 3, keeping the key",
			[]string{"--old-root-key", "keys/root.key", "--new-root-key", "keys/root.key", "--new-root-key", "keys/root2.key",
				"--new-root-key", "keys/root3.key", "--threshold", "2"}, "root      2 of"},
		{"2 of 3: keep 2, replace the third",
			[]string{"--old-root-key", "keys/root.key", "--old-root-key", "keys/root2.key", "--new-root-key", "keys/root.key",
				"--new-root-key", "keys/root2.key", "--new-root-key", "keys/root4.key", "--threshold", "2"}, "root      2 of"},
	}
	for i, st := range steps {
		r := rotate(st.args...)
		if r.code != cli.ExitOK || !strings.Contains(r.stdout, st.want) || !strings.Contains(r.stdout, "version   "+string(rune('2'+i))) {
			t.Fatalf("%s: exit %d\n%s%s", st.name, r.code, r.stdout, r.stderr)
		}
	}
	// One kept key alone does not meet the old threshold of 2.
	if r := rotate("--old-root-key", "keys/root.key", "--new-root-key", "keys/root.key", "--new-root-key", "keys/root3.key"); r.code == cli.ExitOK || !strings.Contains(r.stderr, "current threshold of 2") {
		t.Errorf("below the old threshold: exit %d, %s", r.code, r.stderr)
	}
	chain, err := trust.LoadChain(filepath.Join(dir, "trust", "root.json"))
	if err != nil || len(chain) != 4 {
		t.Fatalf("chain: %d roots, %v", len(chain), err)
	}

	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "acme-1.kit.tar.zst", "--key", "keys/signer2.key")
	mustFerry(t, dir, "verify", "acme-1.kit.tar.zst", "--root", "trust/1.root.json", "--at", verifyAt)
	r := mustFerry(t, dir, "import", "acme-1.kit.tar.zst", "--store", "store", "--root", "trust/1.root.json", "--at", verifyAt, "--reason", "test clock")
	if !strings.Contains(r.stdout, "activated") {
		t.Errorf("import:\n%s", r.stdout)
	}
	if r := ferry(t, dir, "mirror", "-f", "kit.yaml", "-o", "old-signer.kit.tar.zst", "--key", "keys/signer.key"); r.code == cli.ExitOK {
		t.Error("mirror signed with the replaced signing key")
	}
}

// TestTrustRotateOut: --out in another directory gets the new root and the
// whole chain beside it, so that it loads as a root; the current root's
// directory is unchanged. A different chain file there is not overwritten.
func TestTrustRotateOut(t *testing.T) {
	dir := site(t)
	before := readDir(t, filepath.Join(dir, "trust"))
	r := mustFerry(t, dir, "trust", "rotate", "--root", "trust/root.json", "--old-root-key", "keys/root.key", "--out", "staged/root.json")
	if !strings.Contains(r.stdout, "wrote staged/root.json") {
		t.Errorf("output:\n%s", r.stdout)
	}
	chain, err := trust.LoadChain(filepath.Join(dir, "staged", "root.json"))
	if err != nil || len(chain) != 2 {
		t.Fatalf("staged chain: %d roots, %v", len(chain), err)
	}
	for _, name := range []string{"1.root.json", "2.root.json"} {
		if _, err := os.Stat(filepath.Join(dir, "staged", name)); err != nil {
			t.Error(err)
		}
	}
	if after := readDir(t, filepath.Join(dir, "trust")); after != before {
		t.Errorf("rotate --out changed the current root's directory:\n%s\nwas\n%s", after, before)
	}
	write(t, filepath.Join(dir, "other", "1.root.json"), "{}")
	if r := ferry(t, dir, "trust", "rotate", "--root", "trust/root.json", "--old-root-key", "keys/root.key", "--out", "other/root.json"); r.code == cli.ExitOK || !strings.Contains(r.stderr, "1.root.json exists") {
		t.Errorf("a foreign 1.root.json beside --out: exit %d, %s", r.code, r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "other", "1.root.json")); !bytes.Equal(data, []byte("{}")) {
		t.Error("a foreign chain file was overwritten")
	}
}

// readDir lists a directory's files with their contents.
func readDir(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(e.Name() + " " + string(data) + "\n")
	}
	return b.String()
}
