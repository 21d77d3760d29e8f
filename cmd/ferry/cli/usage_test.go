package cli_test

import (
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
)

// TestUsageErrors checks that every command-line mistake cobra finds exits
// 2, whatever cobra's message says.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stderr, or in stdout for help
	}{
		{"unknown command", []string{"mirorr"}, cli.ExitUsage, `unknown command "mirorr" for "ferry"; did you mean mirror?`},
		{"unknown subcommand", []string{"images", "lst"}, cli.ExitUsage, `unknown command "lst" for "ferry images"`},
		{"unknown subcommand, deeper flags", []string{"store", "nope", "--json"}, cli.ExitUsage, "unknown flag: --json"},
		{"too many arguments", []string{"inspect", "a.kit", "b.kit"}, cli.ExitUsage, "accepts 1 arg(s), received 2"},
		{"missing argument", []string{"verify"}, cli.ExitUsage, "accepts 1 arg(s), received 0"},
		{"argument to a command that takes none", []string{"store", "info", "extra", "--store", "x"}, cli.ExitUsage, `unknown command "extra"`},
		{"unknown flag", []string{"mirror", "--nope"}, cli.ExitUsage, "unknown flag: --nope"},
		{"unknown shorthand", []string{"mirror", "-z"}, cli.ExitUsage, "unknown shorthand flag: 'z'"},
		{"bad flag value", []string{"images", "push", "--jobs", "many"}, cli.ExitUsage, "invalid argument"},
		{"a group alone prints its help", []string{"images"}, cli.ExitOK, "Available Commands"},
		{"the root alone prints its help", nil, cli.ExitOK, "Available Commands"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ferry(t, t.TempDir(), tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr+r.stdout, tc.want) {
				t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", tc.want, r.stdout, r.stderr)
			}
		})
	}
}
