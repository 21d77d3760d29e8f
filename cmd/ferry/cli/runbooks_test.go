package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
)

// Every command a runbook tells a person to type ("$ ferry …") names a
// command and flags that exist: a renamed flag or command fails here
// before a person meets it at a terminal.
func TestRunbookCommandsParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "docs", "runbooks", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no runbooks: %v", err)
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i := 0; i < len(lines); i++ {
			line, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "$ ferry ")
			if !ok {
				continue
			}
			for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
				i++
				line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(lines[i])
			}
			args := strings.Fields(line)
			root := cli.New()
			c, rest, err := root.Find(args)
			if err != nil || c == root {
				t.Errorf("%s:%d: ferry %s: no such command: %v", filepath.Base(f), i+1, line, err)
				continue
			}
			if err := c.ParseFlags(rest); err != nil {
				t.Errorf("%s:%d: ferry %s: %v", filepath.Base(f), i+1, line, err)
			}
			n++
		}
	}
	if n < 20 {
		t.Errorf("only %d commands found in the runbooks", n)
	}
}
