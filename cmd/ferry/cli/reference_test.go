package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files (docs/cli.md, docs/reference/)")

// TestReference keeps docs/cli.md and docs/reference/ equal to what the
// command tree says: a changed flag or command fails it until the docs are
// regenerated with -update.
func TestReference(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReference(&buf, New()); err != nil {
		t.Fatal(err)
	}
	docs := filepath.Join("..", "..", "..", "docs")
	path := filepath.Join(docs, "cli.md")
	refDir := filepath.Join(docs, "reference")
	pages := ReferencePages(New())
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(refDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(refDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range pages {
			if err := os.WriteFile(filepath.Join(refDir, p.Name), p.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	const fix = "run go test ./cmd/ferry/cli -run TestReference -update"
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Errorf("docs/cli.md is out of date: %s", fix)
	}
	var names []string
	for _, p := range pages {
		names = append(names, p.Name)
		got, err := os.ReadFile(filepath.Join(refDir, p.Name))
		if err != nil || !bytes.Equal(got, p.Data) {
			t.Errorf("docs/reference/%s is missing or out of date: %s", p.Name, fix)
		}
	}
	entries, err := os.ReadDir(refDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(names, e.Name()) {
			t.Errorf("docs/reference/%s documents no command: %s", e.Name(), fix)
		}
	}
}
