package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/trust"
)

func TestTrustRotate(t *testing.T) {
	dir := site(t)
	mustFerry(t, dir, "keys", "generate", "--out", "keys", "--name", "root2")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"only the expiry", []string{"--old-root-key", "keys/root.key", "--expires", "730d"}, cli.ExitOK, []string{"version   2", "root      1 of"}},
		{"new root key", []string{"--old-root-key", "keys/root.key", "--new-root-key", "keys/root2.key"}, cli.ExitOK, []string{"version   3"}},
		{"the old key no longer signs", []string{"--old-root-key", "keys/root.key"}, cli.ExitOther, nil},
		{"no old key", nil, cli.ExitUsage, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ferry(t, dir, append([]string{"trust", "rotate", "--root", "trust/root.json"}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
	chain, err := trust.LoadChain(filepath.Join(dir, "trust", "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 3 {
		t.Fatalf("chain of %d roots, want 3", len(chain))
	}
	if err := trust.VerifyChain(chain); err != nil {
		t.Error(err)
	}
}
