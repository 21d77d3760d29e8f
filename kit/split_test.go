package kit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/verify"
)

func TestBuildParts(t *testing.T) {
	ch := fixtures.NewChannel("demo")
	spec := specIn(t, demoSpec)
	opts := kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()}
	var whole bytes.Buffer
	if _, err := kit.Build(t.Context(), &whole, spec, opts); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "demo.kit.tar.zst")
	size := int64(whole.Len()/3 + 1)
	res, err := kit.BuildParts(t.Context(), out, size, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	var joined []byte
	for _, p := range res.Paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		joined = append(joined, b...)
	}
	if len(res.Paths) != 3 || !bytes.Equal(joined, whole.Bytes()) {
		t.Fatalf("%d parts, equal to the whole kit: %v", len(res.Paths), bytes.Equal(joined, whole.Bytes()))
	}
	rep, err := verify.Parts(t.Context(), &bundle.PartSet{Kit: out}, verify.Static(verify.Trust{Root: ch.Root()}), verify.Options{At: fixtures.Created.Add(time.Hour)})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %v", err, rep.Failures)
	}

	// Built again in larger parts: the parts of the first build are gone.
	if _, err := kit.BuildParts(t.Context(), out, int64(whole.Len()), spec, opts); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"demo.kit.tar.zst.001", "demo.kit.tar.zst.parts.json"}; !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}

	// A build that fails leaves nothing, and what was there stays.
	other := fixtures.NewChannel("other")
	if _, err := kit.BuildParts(t.Context(), out, size, spec, kit.BuildOptions{Roots: ch.Chain, Signers: other.SigningKeys()}); err == nil {
		t.Fatal("built with a signer the root does not list")
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("a failed build changed the directory: %d entries", len(entries))
	}
}
