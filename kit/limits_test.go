package kit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kit"
)

// manySource brings n files with names of about 4000 bytes: 20 000 of them
// make a targets.json of some 80 MB, which no verifier reads.
type manySource struct {
	n       int
	opens   atomic.Int64
	fetched atomic.Bool
}

func (s *manySource) Kind() string { return "files" }
func (s *manySource) Name() string { return "many" }
func (s *manySource) Fetch(ctx context.Context, env *kit.Env) (*kit.Fetched, error) {
	dir := strings.Repeat(strings.Repeat("d", 240)+"/", 16)
	s.fetched.Store(true)
	custom := json.RawMessage(`{"source":"many"}`)
	f := &kit.Fetched{Provenance: kit.Provenance{Name: "many", Kind: "files"}}
	for i := range s.n {
		f.Files = append(f.Files, bundle.File{Path: fmt.Sprintf("many/%s%08d", dir, i), Custom: custom,
			Open: func() (io.ReadCloser, error) { s.opens.Add(1); return io.NopCloser(bytes.NewReader(nil)), nil }})
	}
	return f, nil
}

// TestBuildRefusesTooManyFiles: a source of 20 000 files with long names
// fails the build with ErrMetadataTooLarge naming the source, before a
// file is opened and before the next source is fetched; BuildFile leaves
// no kit behind, and a kit already at the path stays as it was.
func TestBuildRefusesTooManyFiles(t *testing.T) {
	spec := specIn(t, demoSpec)
	many, after := &manySource{n: 20000}, &manySource{n: 1}
	spec.Sources = append(spec.Sources, many, after)
	ch := fixtures.NewChannel("demo")
	out := filepath.Join(t.TempDir(), "big.kit.tar.zst")
	_, err := kit.BuildFile(t.Context(), out, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()})
	if !errors.Is(err, bundle.ErrMetadataTooLarge) || !strings.Contains(err.Error(), "source many") {
		t.Fatalf("got %v, want ErrMetadataTooLarge naming the source", err)
	}
	if many.opens.Load() != 0 || after.fetched.Load() {
		t.Errorf("%d files opened, next source fetched: %v; want neither", many.opens.Load(), after.fetched.Load())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a kit was left at %s: %v", out, err)
	}
	if err := os.WriteFile(out, []byte("an older kit"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := kit.BuildFile(t.Context(), out, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()}); !errors.Is(err, bundle.ErrMetadataTooLarge) {
		t.Fatalf("got %v, want ErrMetadataTooLarge", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "an older kit" {
		t.Fatalf("the kit at %s changed", out)
	}
}
