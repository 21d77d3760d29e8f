package kit

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeSpec writes kit.yaml (and a docs folder) into a temp dir.
func writeSpec(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "docs", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, c := range map[string]string{"docs/a.md": "a\n", "docs/sub/b.txt": "b\n", "README": "r\n"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "kit.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A short kit.yaml in the form docs/kit-spec.md shows must work as written.
const docExample = `name: acme
channel: acme-feeds
version: 1
created: 2026-11-28T00:00:00Z
expires: 30d
files:
  - src: ./docs          # a file or a directory, relative to kit.yaml
    dest: docs/          # where it goes inside the kit
`

func TestSpecDocExample(t *testing.T) {
	spec, err := LoadSpec(writeSpec(t, docExample))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "acme" || spec.Channel != "acme-feeds" || spec.Version != 1 {
		t.Errorf("got %+v", spec)
	}
	want := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	if !spec.Created.Equal(want) || !spec.ExpiryFor(spec.Created).Equal(want.Add(30*24*time.Hour)) {
		t.Errorf("created %v expires %v", spec.Created, spec.ExpiryFor(spec.Created))
	}
	if len(spec.Sources) != 1 || spec.Sources[0].Kind() != "files" {
		t.Fatalf("sources %v", spec.Sources)
	}
	f, err := spec.Sources[0].Fetch(t.Context(), &Env{Created: spec.Created})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, file := range f.Files {
		paths = append(paths, file.Path)
	}
	if !slices.Equal(paths, []string{"docs/a.md", "docs/sub/b.txt"}) {
		t.Errorf("paths %v", paths)
	}
}

func TestSpecErrors(t *testing.T) {
	base := "name: acme\nchannel: acme-feeds\nversion: 1\n"
	cases := []struct {
		name  string
		yaml  string
		codes []SpecCode
		field string
		line  int
	}{
		{"missing channel", "name: acme\nversion: 1\n", []SpecCode{SpecMissingChannel}, "channel", 0},
		{"missing name and version", "channel: acme-feeds\n", []SpecCode{SpecMissingName, SpecMissingVersion}, "name", 0},
		{"empty channel", "name: acme\nchannel:\nversion: 1\n", []SpecCode{SpecMissingChannel}, "channel", 2},
		{"invalid channel", "name: acme\nchannel: Acme Feeds\nversion: 1\n", []SpecCode{SpecInvalidChannel}, "channel", 2},
		{"invalid version", "name: acme\nchannel: a\nversion: zero\n", []SpecCode{SpecInvalidVersion}, "version", 3},
		{"version zero", "name: acme\nchannel: a\nversion: 0\n", []SpecCode{SpecInvalidVersion}, "version", 3},
		{"bad created", base + "created: yesterday\n", []SpecCode{SpecInvalidCreated}, "created", 4},
		{"bad expires", base + "expires: soon\n", []SpecCode{SpecInvalidExpires}, "expires", 4},
		{"expires before created", base + "created: 2026-11-28T00:00:00Z\nexpires: 2026-11-01T00:00:00Z\n", []SpecCode{SpecInvalidExpires}, "expires", 5},
		{"unknown field", base + "colour: blue\n", []SpecCode{SpecUnknownField}, "colour", 4},
		{"source of a later format", base + "policies:\n  - src: x\n", []SpecCode{SpecUnknownSource}, "policies", 4},
		{"files not a list", base + "files: ./docs\n", []SpecCode{SpecInvalidYAML}, "files", 4},
		{"missing src", base + "files:\n  - dest: docs/\n", []SpecCode{SpecMissingSrc}, "files[0].src", 5},
		{"missing dest", base + "files:\n  - src: ./docs\n", []SpecCode{SpecMissingDest}, "files[0].dest", 5},
		{"src not found", base + "files:\n  - src: ./nope\n    dest: docs/\n", []SpecCode{SpecSourceNotFound}, "files[0].src", 5},
		{"dest escapes", base + "files:\n  - src: ./docs\n    dest: ../up/\n", []SpecCode{SpecInvalidDest}, "files[0].dest", 6},
		{"dest absolute", base + "files:\n  - src: ./docs\n    dest: /etc/\n", []SpecCode{SpecInvalidDest}, "files[0].dest", 6},
		{"dest reserved", base + "files:\n  - src: ./README\n    dest: tuf/root.json\n", []SpecCode{SpecReservedPath}, "files[0].dest", 6},
		{"unknown files field", base + "files:\n  - src: ./docs\n    dest: d/\n    mode: 0600\n", []SpecCode{SpecUnknownField}, "files[0].mode", 7},
		{"bad freshness", base + "freshness: {advisories: soon}\n", []SpecCode{SpecInvalidFreshness}, "freshness.advisories", 4},
		{"not yaml", "name: [\n", []SpecCode{SpecInvalidYAML}, "", 0},
		{"not a mapping", "- a\n- b\n", []SpecCode{SpecInvalidYAML}, "", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeSpec(t, c.yaml)
			_, err := LoadSpec(path)
			var errs SpecErrors
			if !errors.As(err, &errs) {
				t.Fatalf("got %v, want SpecErrors", err)
			}
			if !slices.Equal(errs.Codes(), c.codes) {
				t.Fatalf("codes %v, want %v (%v)", errs.Codes(), c.codes, err)
			}
			if errs[0].Field != c.field {
				t.Errorf("field %q, want %q", errs[0].Field, c.field)
			}
			if c.line > 0 && errs[0].Line != c.line {
				t.Errorf("line %d, want %d", errs[0].Line, c.line)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), string(c.codes[0])) {
				t.Errorf("message %q does not name the file and the code", err)
			}
		})
	}
}

func TestFilesSourceRefusesSymlink(t *testing.T) {
	path := writeSpec(t, docExample)
	dir := filepath.Dir(path)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "docs", "link")); err != nil {
		t.Skip("symlinks not supported here:", err)
	}
	spec, err := LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = spec.Sources[0].Fetch(t.Context(), &Env{})
	var se *SpecError
	if !errors.As(err, &se) || se.Code != SpecUnsupportedFile {
		t.Fatalf("got %v, want SPEC_UNSUPPORTED_FILE_TYPE", err)
	}
}
