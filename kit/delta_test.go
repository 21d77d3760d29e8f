package kit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/fixtures"
)

func TestDeltaFromHave(t *testing.T) {
	const h1 = "0000000000000000000000000000000000000000000000000000000000000001"
	const h2 = "0000000000000000000000000000000000000000000000000000000000000002"
	const h3 = "0000000000000000000000000000000000000000000000000000000000000003"
	good := `{"schema":"ferry.dev/store-inventory/v1","channels":[` +
		`{"channel":"acme","version":41,"targetsSha256":"abc","files":{"kit.json":"` + h1 + `"}},` +
		`{"channel":"other","version":7,"targetsSha256":"def","files":{"x":"` + h2 + `"}}],"images":["sha256:` + h3 + `"]}`
	from, err := DeltaFromHave(strings.NewReader(good), "have.json", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !from.Base.Have || from.Base.Version != 41 || from.Base.TargetsSHA256 != "abc" || from.Files["kit.json"] != h1 ||
		!from.Have[h2] || !from.Have[h3] || len(from.Files) != 1 {
		t.Errorf("from: %+v", from)
	}
	// A channel the site does not have: everything is carried but what
	// other channels share.
	from, err = DeltaFromHave(strings.NewReader(good), "have.json", "new")
	if err != nil || from.Base.Version != 0 || len(from.Files) != 0 || !from.Have[h1] {
		t.Errorf("new channel: %+v %v", from, err)
	}
	for name, bad := range map[string]string{
		"not json":   `{`,
		"schema":     `{"schema":"ferry.dev/other/v1"}`,
		"bad digest": `{"schema":"ferry.dev/store-inventory/v1","channels":[{"channel":"acme","files":{"a":"xyz"}}]}`,
		"bad image":  `{"schema":"ferry.dev/store-inventory/v1","images":["md5:00"]}`,
	} {
		if _, err := DeltaFromHave(strings.NewReader(bad), "have.json", "acme"); err == nil || !strings.Contains(err.Error(), "have.json") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDeltaFromKit(t *testing.T) {
	ch := fixtures.NewChannel("acme")
	files := fixtures.SampleFiles()
	dir := t.TempDir()
	path := filepath.Join(dir, "base.kit.tar.zst")
	if err := os.WriteFile(path, fixtures.Kit(ch, files, fixtures.KitOptions{Version: 4}), 0o644); err != nil {
		t.Fatal(err)
	}
	from, err := DeltaFromKit(context.Background(), path, ch.Chain, "acme", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	want := fixtures.BaseOf(fixtures.Kit(ch, files, fixtures.KitOptions{Version: 4}), files)
	if from.Base != want.Base || len(from.Files) != len(files) {
		t.Errorf("from %+v, want %+v", from.Base, want.Base)
	}
	// A delta as the base: its full kit's files and targets digest.
	v5 := fixtures.SampleFiles()
	v5["docs/README.md"] = []byte("five\n")
	dpath := filepath.Join(dir, "5.delta.kit.tar.zst")
	if err := os.WriteFile(dpath, fixtures.DeltaKit(ch, v5, fixtures.KitOptions{Version: 5}, *from), 0o644); err != nil {
		t.Fatal(err)
	}
	dfrom, err := DeltaFromKit(context.Background(), dpath, ch.Chain, "acme", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	full5 := fixtures.BaseOf(fixtures.Kit(ch, v5, fixtures.KitOptions{Version: 5}), v5)
	if dfrom.Base != full5.Base || len(dfrom.Files) != len(v5) || dfrom.Files["docs/README.md"] != full5.Files["docs/README.md"] {
		t.Errorf("delta as base: %+v, want %+v", dfrom.Base, full5.Base)
	}
	if _, err := DeltaFromKit(context.Background(), path, ch.Chain, "other", nil, ""); err == nil {
		t.Errorf("a base of another channel accepted")
	}
	// Signed under a root the mirror does not hold.
	stranger := fixtures.NewChannel("acme-x")
	if _, err := DeltaFromKit(context.Background(), path, stranger.Chain, "acme", nil, ""); err == nil {
		t.Errorf("a base that does not verify accepted")
	}
}
