package kit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/internal/version"
	"github.com/ferry-dev/ferry/kit"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/ (see TestGoldenKit)")

// goldenSpec builds a small kit touching every layer of the format: plain
// files, an OSV source (validated records as sorted JSONL) and an issuers
// file (canonical JSON), in tar + zstd with TUF metadata signed by ed25519
// keys (deterministic signatures).
const goldenSpec = `name: golden
channel: golden
version: 7
created: 2026-11-28T00:00:00Z
expires: 30d
files:
  - src: ./docs
    dest: site/docs/
advisories:
  - name: demo
    osv: {dir: ./osv}
issuers: issuers.yaml
`

const goldenIssuers = `issuers:
  - {id: https://security.vendor.example/vex, name: Vendor PSIRT, tier: vendor}
  - {id: https://distro.example/, tier: distro}
`

// TestGoldenKit pins the bytes of one kit. Keys, the creation time, the
// inputs and the ferry version written into kit.json are fixed, so the
// kit's sha256 changes only when the bytes ferry writes change — which is
// what a dependency upgrade (go-tuf's JSON, klauspost/compress's zstd
// encoder, yaml or OSV parsing) or a change of the writer can do without
// any other test noticing. Sites compare kits by digest and delta kits name
// their base by digest, so such a change must be deliberate.
//
// When it fails: find out why the bytes changed (the test writes the new
// kit next to the golden one as testdata/golden/kit.tar.zst.new; compare
// with `ferry inspect` or by unpacking both). If the change is intended,
// say so in the commit message, and rewrite the golden files with
//
//	go test ./kit -run TestGoldenKit -update
//
// If it is not, the upgrade or the change broke reproducibility: fix that
// instead.
func TestGoldenKit(t *testing.T) {
	saved := version.Version
	version.Version = "0.0.0-golden"
	t.Cleanup(func() { version.Version = saved })

	ch := fixtures.NewChannel("golden")
	dir := t.TempDir()
	if err := fixtures.WriteDemoFiles(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "issuers.yaml"), []byte(goldenIssuers), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kit.yaml")
	if err := os.WriteFile(path, []byte(goldenSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := kit.LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := kit.Build(t.Context(), &buf, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	got := hex.EncodeToString(sum[:]) + "  kit.tar.zst\n"

	golden := filepath.Join("testdata", "golden")
	if *update {
		if err := os.MkdirAll(golden, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(golden, "kit.tar.zst"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(golden, "kit.sha256"), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(golden, "kit.tar.zst.new"))
		return
	}
	want, err := os.ReadFile(filepath.Join(golden, "kit.sha256"))
	if err != nil {
		t.Fatalf("%v (create the golden files with -update)", err)
	}
	if got != string(want) {
		newPath := filepath.Join(golden, "kit.tar.zst.new")
		if err := os.WriteFile(newPath, buf.Bytes(), 0o644); err != nil {
			t.Log(err)
		}
		t.Errorf("the kit's bytes changed:\n got  %s want %s"+
			"The new kit is in %s, the old in %s. Read this test's comment: if the change is intended, run\n"+
			"\tgo test ./kit -run TestGoldenKit -update", got, want, newPath, filepath.Join(golden, "kit.tar.zst"))
	}
}
