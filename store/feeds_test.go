package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/store"
)

// Directories of the real-data corpus, below $FERRY_CORPUS (make
// conformance and make bench set it).
const (
	corpusOSVGo = "osv/go"
	corpusVEX   = "vex"
)

// importAt is when the test kits are imported: an hour after they were made.
var importAt = fixtures.Created.Add(time.Hour)

// needCorpus returns $FERRY_CORPUS/dir, or skips, saying so: the corpus
// tests run in make conformance, not on a clean clone.
func needCorpus(t testing.TB, dir string) string {
	t.Helper()
	root := os.Getenv("FERRY_CORPUS")
	if root == "" {
		t.Skipf("SKIP: the conformance test needs the corpus (FERRY_CORPUS; make conformance sets it)")
	}
	abs, err := filepath.Abs(filepath.Join(root, dir))
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		t.Skipf("SKIP: the conformance test needs the corpus at %s: %v", abs, err)
	}
	return abs
}

// buildKit writes kit.yaml (the body after the header lines) and builds
// the kit for channel ch.
func buildKit(t testing.TB, ch *fixtures.Channel, body string) ([]byte, *kit.BuildResult) {
	t.Helper()
	dir := t.TempDir()
	yaml := "name: " + ch.Name + "\nchannel: " + ch.Name + "\nversion: 1\ncreated: " + fixtures.Created.Format(time.RFC3339) + "\n" + body
	path := filepath.Join(dir, "kit.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := kit.LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	res, err := kit.Build(context.Background(), &buf, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), res
}

// importKit imports a kit into a new store (or s, when given).
func importKit(t testing.TB, s *store.Store, ch *fixtures.Channel, data []byte) *store.Store {
	t.Helper()
	if s == nil {
		s = siteStore(t)
	}
	_, err := s.Import(context.Background(), bytes.NewReader(data), store.ImportOptions{At: importAt, Root: ch.Root(), Operator: "test"})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return s
}

func ids(as []store.Advisory) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}
