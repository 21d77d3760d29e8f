//go:build conformance

// Tests against the real-data corpus kept beside the repository (set
// FERRY_CORPUS, or it is looked for at ../../shared/corpus); make
// conformance runs them.

package osv

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// corpusGo is the Go vulnerability database of the corpus.
var corpusGo = filepath.Join(corpusRoot(), "osv", "go")

func corpusRoot() string {
	if c := os.Getenv("FERRY_CORPUS"); c != "" {
		return c
	}
	return "../../shared/corpus"
}

// TestCorpusGo parses every record of the Go vulnerability database: all
// 4291 are valid OSV, 17 are withdrawn.
func TestCorpusGo(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusGo, "*.json"))
	if err != nil || len(files) == 0 {
		t.Skipf("corpus not found at %s: %v", corpusGo, err)
	}
	withdrawn := 0
	ids := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if ids[v.GetId()] {
			t.Errorf("duplicate id %s", v.GetId())
		}
		ids[v.GetId()] = true
		if Withdrawn(v, time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)) {
			withdrawn++
		}
	}
	if len(files) != 4291 || withdrawn != 17 {
		t.Errorf("%d records, %d withdrawn; want 4291 and 17", len(files), withdrawn)
	}
}

// TestCorpusDecode decodes every OSV record of the corpus (every
// ecosystem) with the fast decoder and with protojson: the messages, or
// the errors, must be the same, and no record of a real database may need
// the slow path.
func TestCorpusDecode(t *testing.T) {
	root := filepath.Join(corpusRoot(), "osv")
	var files []string
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && filepath.Ext(p) == ".json" {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Skipf("corpus not found at %s: %v", root, err)
	}
	slow := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sameAsProtojson(t, f, data)
		sameMatchable(t, f, data)
		if _, ok := decodeFast(bytes.TrimSpace(data)); !ok {
			slow++
			t.Logf("%s: slow path", f)
		}
	}
	t.Logf("%d records, %d on the slow path", len(files), slow)
	if slow > 0 {
		t.Errorf("%d records needed protojson", slow)
	}
}
