package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// splitKit writes kit in dir as name.001 … (count parts of equal size but
// the last) with a part index signed by signers, and returns the set.
func splitKit(t testing.TB, dir, name string, kit []byte, count int, ch *fixtures.Channel, signers []signature.Signer) *bundle.PartSet {
	t.Helper()
	rep, err := verify.Kit(context.Background(), bytes.NewReader(kit), pinned(ch.Root()), verify.Options{At: at})
	if err != nil || !rep.OK {
		t.Fatalf("the kit to split does not verify: %v %v", err, rep.Err())
	}
	path := filepath.Join(dir, name)
	size := int64(len(kit)+count-1) / int64(count)
	pw := bundle.NewPartWriter(size, func(n int) (io.WriteCloser, error) { return os.Create(bundle.PartName(path, n)) })
	if _, err := pw.Write(kit); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(pw.Parts()); got != count {
		t.Fatalf("%d parts, want %d", got, count)
	}
	idx := &bundle.PartIndex{
		Schema: bundle.PartIndexSchema, Kit: name, Name: rep.Name, Channel: rep.Channel, Version: rep.Version,
		TargetsSHA256: rep.TargetsSHA256, Size: pw.Size(), SHA256: pw.SHA256(), PartSize: size,
		Parts: pw.Parts(), Roots: ch.Chain,
	}
	signed, err := bundle.SignPartIndex(idx, signers)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+bundle.PartIndexSuffix, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	return &bundle.PartSet{Kit: path, Index: idx}
}

// runParts verifies a kit in parts and records the codes reached.
func runParts(t *testing.T, set *bundle.PartSet, ch *fixtures.Channel) *verify.Report {
	t.Helper()
	rep, err := verify.Parts(context.Background(), set, pinned(ch.Root()), verify.Options{At: at})
	if err != nil {
		t.Fatalf("verify.Parts: %v", err)
	}
	record(rep)
	return rep
}

func record(rep *verify.Report) {
	reached.Lock()
	for _, f := range rep.Failures {
		reached.codes[f.Code] = true
	}
	reached.Unlock()
}

func partKit(t *testing.T) (*fixtures.Channel, *bundle.PartSet) {
	t.Helper()
	ch, kit := sample(t)
	return ch, splitKit(t, t.TempDir(), "acme-1.kit.tar.zst", kit, 4, ch, ch.SigningKeys())
}

func TestPartsVerify(t *testing.T) {
	ch, set := partKit(t)
	rep := runParts(t, set, ch)
	if !rep.OK {
		t.Fatalf("failures: %v", rep.Failures)
	}
	if rep.Parts == nil || rep.Parts.Count != 4 || rep.Parts.Index != "acme-1.kit.tar.zst.parts.json" {
		t.Errorf("parts info: %+v", rep.Parts)
	}
	if rep.TargetsSHA256 != set.Index.TargetsSHA256 {
		t.Errorf("targets sha256 %s, index %s", rep.TargetsSHA256, set.Index.TargetsSHA256)
	}
}

func TestAttackPartMissing(t *testing.T) {
	ch, set := partKit(t)
	if err := os.Remove(set.PartPath(3)); err != nil {
		t.Fatal(err)
	}
	rep := runParts(t, set, ch)
	wantFailures(t, rep, failure{bundle.CodePartMissing, "acme-1.kit.tar.zst.003"})
	if got := rep.PartFailures(); len(got) != 1 || got[0] != 3 {
		t.Errorf("parts to send again: %v", got)
	}
}

func TestAttackPartsSwapped(t *testing.T) {
	ch, set := partKit(t)
	p2, p3 := set.PartPath(2), set.PartPath(3)
	tmp := p2 + ".tmp"
	for _, mv := range [][2]string{{p2, tmp}, {p3, p2}, {tmp, p3}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
	rep := runParts(t, set, ch)
	got := failuresOf(rep)
	if len(got) < 2 || got[0] != (failure{bundle.CodePartInvalid, "acme-1.kit.tar.zst.002"}) || got[1] != (failure{bundle.CodePartInvalid, "acme-1.kit.tar.zst.003"}) {
		t.Fatalf("failures: %v", rep.Failures)
	}
	if !strings.Contains(rep.Failures[0].Message, "holds the bytes of part 3") {
		t.Errorf("message does not say the part is swapped: %s", rep.Failures[0].Message)
	}
	if !strings.Contains(rep.Failures[0].Message, set.Index.Parts[1].SHA256) {
		t.Errorf("message does not give the expected sha256: %s", rep.Failures[0].Message)
	}
}

func TestAttackPartFromAnotherKit(t *testing.T) {
	ch, set := partKit(t)
	files := fixtures.SampleFiles()
	files["docs/extra.txt"] = []byte("another kit of the same channel\n")
	other := fixtures.Kit(ch, files, fixtures.KitOptions{Version: 2})
	oset := splitKit(t, t.TempDir(), "acme-2.kit.tar.zst", other, 4, ch, ch.SigningKeys())
	data, err := os.ReadFile(oset.PartPath(2))
	if err != nil {
		t.Fatal(err)
	}
	// Cut or pad to the size of this kit's part 2, so that only the
	// content gives it away.
	data = append(data, make([]byte, 1<<16)...)[:set.Index.Parts[1].Size]
	if err := os.WriteFile(set.PartPath(2), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := runParts(t, set, ch)
	got := failuresOf(rep)
	if len(got) == 0 || got[0] != (failure{bundle.CodePartInvalid, "acme-1.kit.tar.zst.002"}) {
		t.Fatalf("failures: %v", rep.Failures)
	}
	for _, f := range got[1:] {
		if f.Code == bundle.CodePartInvalid || f.Code == bundle.CodePartMissing {
			t.Errorf("a good part is named: %v", f)
		}
	}
	if got := rep.PartFailures(); len(got) != 1 || got[0] != 2 {
		t.Errorf("parts to send again: %v", got)
	}
}

func TestAttackPartTruncated(t *testing.T) {
	ch, set := partKit(t)
	if err := os.Truncate(set.PartPath(3), set.Index.Parts[2].Size-100); err != nil {
		t.Fatal(err)
	}
	rep := runParts(t, set, ch)
	wantFailures(t, rep, failure{bundle.CodePartInvalid, "acme-1.kit.tar.zst.003"})
}

func TestAttackPartCorruptByte(t *testing.T) {
	ch, set := partKit(t)
	data, err := os.ReadFile(set.PartPath(2))
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(set.PartPath(2), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := runParts(t, set, ch)
	if got := failuresOf(rep); len(got) == 0 || got[0] != (failure{bundle.CodePartInvalid, "acme-1.kit.tar.zst.002"}) {
		t.Fatalf("failures: %v", rep.Failures)
	}
	if got := rep.PartFailures(); len(got) != 1 || got[0] != 2 {
		t.Errorf("parts to send again: %v", got)
	}
}

func TestAttackPartIndexWrongKey(t *testing.T) {
	ch, kit := sample(t)
	other := fixtures.NewChannel("acme-feeds-other")
	set := splitKit(t, t.TempDir(), "acme-1.kit.tar.zst", kit, 4, ch, other.SigningKeys())
	rep := runParts(t, set, ch)
	wantFailures(t, rep, failure{bundle.CodeSignatureInvalid, "acme-1.kit.tar.zst.parts.json"})

	rep, err := verify.Part(set, 2, pinned(ch.Root()), verify.Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	wantFailures(t, rep, failure{bundle.CodeSignatureInvalid, "acme-1.kit.tar.zst.parts.json"})
}

func TestAttackPartIndexChanged(t *testing.T) {
	ch, set := partKit(t)
	data, err := os.ReadFile(set.IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	env, idx, err := bundle.ParsePartIndex("x", data)
	if err != nil {
		t.Fatal(err)
	}
	// The parts of another cut, under the old signatures.
	idx.Parts[0].SHA256 = strings.Repeat("0", 64)
	payload, _ := json.Marshal(idx)
	env.Payload = payload
	out, _ := json.Marshal(env)
	if err := os.WriteFile(set.IndexPath(), out, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := runParts(t, set, ch)
	wantFailures(t, rep, failure{bundle.CodeSignatureInvalid, "acme-1.kit.tar.zst.parts.json"})
}

func TestAttackPartIndexMissing(t *testing.T) {
	ch, set := partKit(t)
	if err := os.Remove(set.IndexPath()); err != nil {
		t.Fatal(err)
	}
	rep := runParts(t, set, ch)
	wantFailures(t, rep, failure{bundle.CodePartMissing, "acme-1.kit.tar.zst.parts.json"})
}

func TestPartOnly(t *testing.T) {
	ch, set := partKit(t)
	data, err := os.ReadFile(set.PartPath(3))
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 1
	if err := os.WriteFile(set.PartPath(3), data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(set.PartPath(4)) // not needed to check one part
	rep, err := verify.Part(set, 2, pinned(ch.Root()), verify.Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Parts.Only != 2 || rep.Channel != "acme-feeds" {
		t.Errorf("part 2 alone: ok=%v parts=%+v failures=%v", rep.OK, rep.Parts, rep.Failures)
	}
	rep, err = verify.Part(set, 3, pinned(ch.Root()), verify.Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	record(rep)
	wantFailures(t, rep, failure{bundle.CodePartInvalid, "acme-1.kit.tar.zst.003"})
}

// A site pinned to root 1 checks a part of a kit signed after a rotation:
// the index carries the chain.
func TestPartOnlyAfterRotation(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	pinnedRoot := ch.Root()
	ch.Rotate()
	kit := fixtures.Kit(ch, fixtures.SampleFiles(), fixtures.KitOptions{})
	set := splitKit(t, t.TempDir(), "acme-1.kit.tar.zst", kit, 3, ch, ch.SigningKeys())
	rep, err := verify.Part(set, 1, pinned(pinnedRoot), verify.Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Errorf("failures: %v", rep.Failures)
	}
}

// An index signed by the channel's key for another kit (another targets
// sha256) over parts that are this kit's: the signer's mistake, refused.
func TestAttackPartIndexOfAnotherKit(t *testing.T) {
	ch, set := partKit(t)
	data, err := os.ReadFile(set.IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	_, idx, err := bundle.ParsePartIndex("x", data)
	if err != nil {
		t.Fatal(err)
	}
	idx.TargetsSHA256 = strings.Repeat("e", 64)
	signed, err := bundle.SignPartIndex(idx, ch.SigningKeys())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(set.IndexPath(), signed, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := runParts(t, set, ch)
	wantFailures(t, rep, failure{bundle.CodePartInvalid, "acme-1.kit.tar.zst.parts.json"})
}
