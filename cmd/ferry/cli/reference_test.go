package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files (docs/cli.md)")

// TestReference keeps docs/cli.md equal to what the command tree says.
func TestReference(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReference(&buf, New()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "..", "docs", "cli.md")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Errorf("docs/cli.md is out of date: run go test ./cmd/ferry/cli -run TestReference -update")
	}
}
