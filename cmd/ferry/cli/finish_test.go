package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/spf13/cobra"
)

// noJSON are the commands without --json, and why.
var noJSON = map[string]string{
	"ferry demo":       "a narrated walk through real commands, each of which has --json",
	"ferry vex export": "what it writes is a JSON document (OpenVEX v0.2.0)",
}

// Every command that reports has --json: a new command without it fails
// here until it gets one or a reason in noJSON.
func TestEveryReportingCommandHasJSON(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Hidden || c.Annotations["ferry.dev/group"] != "" || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		path := c.CommandPath()
		_, exempt := noJSON[path]
		has := c.Flags().Lookup("json") != nil
		switch {
		case !has && !exempt:
			t.Errorf("%s has no --json: add one, or say in noJSON why it needs none", path)
		case has && exempt:
			t.Errorf("%s has --json now: take it out of noJSON", path)
		}
	}
	walk(cli.New())
}

// ferry completion writes a script for bash, zsh and fish.
func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r := mustFerry(t, t.TempDir(), "completion", sh)
		if !strings.Contains(r.stdout, "ferry") || len(r.stdout) < 1000 {
			t.Errorf("completion %s: %d bytes\n%.300s", sh, len(r.stdout), r.stdout)
		}
	}
	// Completion knows the command tree.
	r := mustFerry(t, t.TempDir(), "__complete", "gate", "")
	for _, w := range []string{"explain", "replay", "verify", "diff"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("completing 'ferry gate ' does not offer %s:\n%s", w, r.stdout)
		}
	}
}

// A failed kit names its entry and code and says what to do next.
func TestKitFailureSuggestsNextStep(t *testing.T) {
	dir, st, _, kit2 := htmlReportKits(t)
	mustFerry(t, dir, "import", kit2, "--store", st, "--at=2026-12-01T00:00:00Z", "--reason", "test clock")
	kit1 := filepath.Join(dir, "feeds-1.kit.tar.zst")
	r := ferry(t, dir, "verify", kit1, "--store", st, "--at=2026-12-01T00:00:00Z")
	if r.code != cli.ExitVerification || !strings.Contains(r.stderr, "KIT_ROLLBACK: tuf/timestamp.json") ||
		!strings.Contains(r.stderr, "next: the store holds a newer kit of the channel (ferry store info --store DIR)") {
		t.Errorf("verify of an older kit: exit %d\n%s", r.code, r.stderr)
	}
	r = ferry(t, dir, "import", kit1, "--store", st, "--at=2026-12-01T00:00:00Z", "--reason", "test clock")
	if r.code != cli.ExitVerification || !strings.Contains(r.stderr, "next: use --force-activate --reason TEXT") {
		t.Errorf("import of an older kit: exit %d\n%s", r.code, r.stderr)
	}
}
