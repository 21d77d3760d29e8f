package kit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/verify"
)

func specIn(t *testing.T, yaml string) *kit.Spec {
	t.Helper()
	dir := t.TempDir()
	if err := fixtures.WriteDemoFiles(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kit.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := kit.LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

const demoSpec = "name: demo\nchannel: demo\nversion: 3\ncreated: 2026-11-28T00:00:00Z\nexpires: 10d\nfreshness: {advisories: 7d}\nfiles:\n  - src: ./docs\n    dest: site/docs/\n"

func TestBuildReproducibleAndVerifies(t *testing.T) {
	ch := fixtures.NewChannel("demo")
	spec := specIn(t, demoSpec)
	opts := kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()}
	var a, b bytes.Buffer
	res, err := kit.Build(t.Context(), &a, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kit.Build(t.Context(), &b, spec, opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two builds of the same spec differ")
	}
	if res.Info.Version != 3 || !res.Info.Expires.Equal(fixtures.Created.Add(10*24*time.Hour)) {
		t.Errorf("info %+v", res.Info)
	}
	rep, err := verify.Kit(t.Context(), bytes.NewReader(a.Bytes()), verify.Static(verify.Trust{Root: ch.Root()}), verify.Options{At: fixtures.Created.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("kit does not verify: %v", rep.Err())
	}
	if rep.Counts["files"].Files != 2 || rep.Counts["kit"].Files != 1 {
		t.Errorf("counts %+v", rep.Counts)
	}
	in, err := kit.Inspect(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if in.Verified || in.Manifest == nil || in.Manifest.Freshness["advisories"] != "7d" || len(in.Manifest.Sources) != 1 {
		t.Errorf("inspection %+v", in)
	}
	if in.Files[0].Path != "kit.json" || in.Files[1].Path != "site/docs/contacts.txt" {
		t.Errorf("files %+v", in.Files)
	}
}

func TestBuildCreatedFallback(t *testing.T) {
	ch := fixtures.NewChannel("demo")
	spec := specIn(t, strings.Replace(demoSpec, "created: 2026-11-28T00:00:00Z\n", "", 1))
	now := fixtures.Created.Add(90 * time.Minute)
	res, err := kit.Build(t.Context(), &bytes.Buffer{}, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Info.Created.Equal(now) {
		t.Errorf("created %v, want %v", res.Info.Created, now)
	}
	if _, err := kit.Build(t.Context(), &bytes.Buffer{}, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()}); err == nil {
		t.Error("built without any creation time")
	}
}

func TestBuildFileRefusesAndLeavesNothing(t *testing.T) {
	ch := fixtures.NewChannel("demo")
	other := fixtures.NewChannel("other")
	spec := specIn(t, demoSpec)
	out := filepath.Join(t.TempDir(), "k.kit.tar.zst")
	cases := map[string]kit.BuildOptions{
		"signer not in root":      {Roots: ch.Chain, Signers: other.SigningKeys()},
		"root of another channel": {Roots: other.Chain, Signers: other.SigningKeys()},
		"no signer":               {Roots: ch.Chain},
		"no root":                 {Signers: ch.SigningKeys()},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := kit.BuildFile(t.Context(), out, spec, o); err == nil {
				t.Fatal("built")
			}
			entries, _ := os.ReadDir(filepath.Dir(out))
			if len(entries) != 0 {
				t.Errorf("left %d file(s) behind", len(entries))
			}
		})
	}
	// A root that expires before the kit would.
	short := specIn(t, strings.Replace(demoSpec, "expires: 10d", "expires: 400d", 1))
	if _, err := kit.BuildFile(t.Context(), out, short, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()}); err == nil || !strings.Contains(err.Error(), "rotate the root") {
		t.Errorf("kit outliving its root: %v", err)
	}
}
