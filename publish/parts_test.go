package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// A kit in parts is published as the one kit file the parts make: the
// same artifact as publishing the whole file.
func TestPublishParts(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	k := makeKits(t, 1)
	whole, err := os.ReadFile(k.paths[1])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	name := filepath.Join(dir, "acme-1.kit.tar.zst")
	pw := bundle.NewPartWriter(int64(len(whole)/3+1), func(n int) (io.WriteCloser, error) { return os.Create(bundle.PartName(name, n)) })
	pw.Write(whole)
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	idx := &bundle.PartIndex{Schema: bundle.PartIndexSchema, Kit: "acme-1.kit.tar.zst", Name: "acme", Channel: "acme", Version: 1,
		TargetsSHA256: pw.SHA256(), Size: pw.Size(), SHA256: pw.SHA256(), PartSize: int64(len(whole)/3 + 1), Parts: pw.Parts()}
	signed, err := bundle.SignPartIndex(idx, fixtures.NewChannel("acme").SigningKeys())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(name+bundle.PartIndexSuffix, signed, 0o644)

	kp, err := ReadKit(bundle.PartName(name, 1))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(whole)
	if kp.Channel != "acme" || kp.Version != 1 || kp.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("ReadKit of a part: %+v", kp)
	}
	repo := reg.host + "/ferry/kits"
	p, err := Publish(ctx, repo, kp, insecure)
	if err != nil {
		t.Fatal(err)
	}
	kw, err := ReadKit(k.paths[1])
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Publish(ctx, repo, kw, insecure)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Unchanged || p2.Ref != p.Ref || p.KitSHA256 != kp.SHA256 {
		t.Errorf("the whole kit after its parts: %+v, parts: %+v", p2, p)
	}

	os.Remove(bundle.PartName(name, 2))
	if _, err := ReadKit(bundle.PartName(name, 1)); bundle.CodeOf(err) != bundle.CodePartMissing {
		t.Errorf("a part missing: %v", err)
	}
}
