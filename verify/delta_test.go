package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/verify"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func desc2targets(d bundle.Delta) []byte { return []byte(d.Targets) }

// deltaVersions returns files of versions 1 and 2 of a channel's kit.
func deltaVersions() (v1, v2 map[string][]byte) {
	v1 = fixtures.SampleFiles()
	v2 = fixtures.SampleFiles()
	v2["advisories/demo/osv.jsonl"] = []byte(`{"id":"GO-2024-0002","modified":"2024-02-01T00:00:00Z"}` + "\n")
	delete(v2, "trust/keys/cosign.pub")
	return v1, v2
}

// fakeStore is a verify.DeltaStore.
type fakeStore struct {
	version int64
	targets string
	ok      bool
	blobs   map[string]bool
}

func (f fakeStore) Active(string) (int64, string, bool) { return f.version, f.targets, f.ok }
func (f fakeStore) HasBlob(sha256 string, _ int64) bool { return f.blobs[sha256] }

// runStore is run with Options.Store set.
func runStore(t *testing.T, kit []byte, src verify.TrustSource, st verify.DeltaStore) *verify.Report {
	t.Helper()
	rep, err := verify.Kit(context.Background(), bytes.NewReader(kit), src, verify.Options{At: at, Store: st})
	if err != nil {
		t.Fatalf("verify.Kit: %v", err)
	}
	reached.Lock()
	for _, f := range rep.Failures {
		reached.codes[f.Code] = true
	}
	reached.Unlock()
	return rep
}

func TestDeltaVerifiesAlone(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	v1, v2 := deltaVersions()
	base := fixtures.Kit(ch, v1, fixtures.KitOptions{Version: 1})
	from := fixtures.BaseOf(base, v1)
	d := fixtures.DeltaKit(ch, v2, fixtures.KitOptions{Version: 2}, from)
	rep := run(t, d, pinned(ch.Root()), at)
	if !rep.OK {
		t.Fatalf("delta: %v", rep.Failures)
	}
	if rep.Base == nil || *rep.Base != from.Base || rep.Delta == nil {
		t.Fatalf("base %+v, delta %+v", rep.Base, rep.Delta)
	}
	// osv.jsonl changed; cosign.pub is removed.
	if rep.Delta.Carried != 1 || rep.Delta.Files != len(v2) || strings.Join(rep.Delta.Removed, ",") != "trust/keys/cosign.pub" {
		t.Errorf("carried %d of %d, removed %v", rep.Delta.Carried, rep.Delta.Files, rep.Delta.Removed)
	}
	full := run(t, fixtures.Kit(ch, v2, fixtures.KitOptions{Version: 2}), pinned(ch.Root()), at)
	if rep.Delta.TargetsSHA256 != full.TargetsSHA256 {
		t.Errorf("delta stands for targets %s, the full kit has %s", rep.Delta.TargetsSHA256, full.TargetsSHA256)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text, "d.kit.tar.zst"); err != nil {
		t.Fatal(err)
	}
	if want := "needs           channel acme-feeds version 1"; !strings.Contains(text.String(), want) {
		t.Errorf("report does not say %q:\n%s", want, text.String())
	}
}

func TestDeltaAgainstStore(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	v1, v2 := deltaVersions()
	base := fixtures.Kit(ch, v1, fixtures.KitOptions{Version: 1})
	from := fixtures.BaseOf(base, v1)
	d := fixtures.DeltaKit(ch, v2, fixtures.KitOptions{Version: 2}, from)
	all := map[string]bool{}
	for _, sum := range from.Files {
		all[sum] = true
	}
	good := fakeStore{version: 1, targets: from.Base.TargetsSHA256, ok: true, blobs: all}
	if rep := runStore(t, d, pinned(ch.Root()), good); !rep.OK {
		t.Fatalf("onto its base: %v", rep.Failures)
	}
	for name, st := range map[string]fakeStore{
		"empty store":  {blobs: all},
		"another kit1": {version: 1, targets: strings.Repeat("0", 64), ok: true, blobs: all},
		"gap":          {version: 0, targets: "x", ok: true, blobs: all},
	} {
		rep := runStore(t, d, pinned(ch.Root()), st)
		wantFailures(t, rep, failure{bundle.CodeBaseMismatch, ""})
		if rep.Delta == nil {
			t.Errorf("%s: the report does not say which base the delta needs", name)
		}
	}
	missing := fakeStore{version: 1, targets: from.Base.TargetsSHA256, ok: true, blobs: map[string]bool{}}
	rep := runStore(t, d, pinned(ch.Root()), missing)
	if len(rep.Failures) == 0 || rep.Failures[0].Code != bundle.CodeBlobMissing || !strings.Contains(rep.Failures[0].Message, "sha256:") {
		t.Errorf("store without the blobs: %+v", rep.Failures)
	}
}

// TestDeltaDescriptionAttacks: a delta whose description does not match
// its signed metadata, or is missing, fails.
func TestDeltaDescriptionAttacks(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	v1, v2 := deltaVersions()
	base := fixtures.Kit(ch, v1, fixtures.KitOptions{Version: 1})
	from := fixtures.BaseOf(base, v1)
	good := fixtures.DeltaKit(ch, v2, fixtures.KitOptions{Version: 2}, from)
	var desc []byte
	for _, e := range fixtures.Entries(good) {
		if e.Name == bundle.DeltaPath {
			desc = e.Content
		}
	}
	var d bundle.Delta
	if err := json.Unmarshal(desc, &d); err != nil {
		t.Fatal(err)
	}
	signed := func(base bundle.Base, files map[string][]byte) []byte { return signedDelta(t, ch, base, files) }
	enc := func(d bundle.Delta) []byte { return encDelta(t, d) }

	// No delta.json.
	rep := run(t, signed(from.Base, map[string][]byte{"kit.json": v2["kit.json"]}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeMalformed, bundle.DeltaPath})

	// delta.json names another base than the signed metadata.
	other := d
	other.Base.Version = 0
	rep = run(t, signed(from.Base, map[string][]byte{bundle.DeltaPath: enc(other)}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeBaseMismatch, bundle.DeltaPath})

	// A base of another channel.
	wrong := from.Base
	wrong.Channel = "other"
	rep = run(t, signed(wrong, map[string][]byte{bundle.DeltaPath: enc(d)}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeBaseMismatch, ""})

	// Full targets changed after they were signed: a file of the base
	// swapped for other content the delta does not carry.
	forged := d
	forged.Targets = string(fixtures.EditMetadata(desc2targets(d), func(m *metadata.Metadata[metadata.TargetsType]) {
		m.Signed.Targets["docs/README.md"].Length++
	}))
	sum := sha256.Sum256([]byte(forged.Targets))
	forged.TargetsSHA256 = hex.EncodeToString(sum[:])
	rep = run(t, signed(from.Base, map[string][]byte{bundle.DeltaPath: enc(forged)}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeSignatureInvalid, bundle.DeltaPath})

	// A carried file that the full kit does not list.
	rep = run(t, signed(from.Base, map[string][]byte{bundle.DeltaPath: enc(d), "docs/extra.txt": []byte("x")}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeUnexpectedEntry, "docs/extra.txt"}, failure{bundle.CodeMalformed, bundle.DeltaPath})

	// A signed delta.json that is not JSON, or whose full targets do not
	// have the digest it gives, or are not in canonical form.
	rep = run(t, signed(from.Base, map[string][]byte{bundle.DeltaPath: []byte(`{"schema":`)}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeMalformed, bundle.DeltaPath})
	badSum := d
	badSum.TargetsSHA256 = strings.Repeat("0", 64)
	rep = run(t, signed(from.Base, map[string][]byte{bundle.DeltaPath: enc(badSum)}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeMalformed, bundle.DeltaPath})
	spaced := d
	spaced.Targets += "\n"
	sum = sha256.Sum256([]byte(spaced.Targets))
	spaced.TargetsSHA256 = hex.EncodeToString(sum[:])
	rep = run(t, signed(from.Base, map[string][]byte{bundle.DeltaPath: enc(spaced)}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeMalformed, bundle.DeltaPath})

	// delta.json changed after the delta was signed: its digest fails,
	// and nothing is made of its bytes (its schema is now unknown).
	tampered := fixtures.Tamper(good, func(es []fixtures.TarEntry) []fixtures.TarEntry {
		for i := range es {
			if es[i].Name == bundle.DeltaPath {
				es[i].Content = bytes.Replace(es[i].Content, []byte(bundle.DeltaSchema), []byte(bundle.DeltaSchema[:len(bundle.DeltaSchema)-1]+"9"), 1)
			}
		}
		return es
	})
	rep = run(t, tampered, pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeDigestMismatch, bundle.DeltaPath})
}

// patchDay returns a channel, files of its versions 1 and 2 where 2
// modifies 1 % of the records of an osv.jsonl, what a delta on 1 is made
// against (with 1's bytes), and the delta, which carries the file as a
// patch.
func patchDay() (ch *fixtures.Channel, v1, v2 map[string][]byte, from bundle.DeltaFrom, delta []byte) {
	ch = fixtures.NewChannel("acme-feeds")
	v1, v2 = fixtures.SampleFiles(), fixtures.SampleFiles()
	v1["advisories/go/osv.jsonl"] = fixtures.Advisories(400, nil)
	v2["advisories/go/osv.jsonl"] = fixtures.Advisories(400, func(i int) bool { return i%100 == 7 })
	from = fixtures.BaseOf(fixtures.Kit(ch, v1, fixtures.KitOptions{Version: 1}), v1)
	from.Content = fixtures.ContentOf(v1)
	return ch, v1, v2, from, fixtures.DeltaKit(ch, v2, fixtures.KitOptions{Version: 2}, from)
}

// TestDeltaPatch: a delta carrying a patch verifies alone and says so;
// against a store, the store must hold the patch's base (not the file the
// patch makes).
func TestDeltaPatch(t *testing.T) {
	ch, v1, v2, from, d := patchDay()
	carried := map[string]bool{}
	for _, e := range fixtures.Entries(d) {
		carried[e.Name] = true
	}
	if !carried["delta/advisories/go/osv.jsonl"] || carried["advisories/go/osv.jsonl"] {
		t.Fatalf("the delta carries %v: want the patch of advisories/go/osv.jsonl, not the file", carried)
	}
	rep := run(t, d, pinned(ch.Root()), at)
	if !rep.OK {
		t.Fatalf("delta: %v", rep.Failures)
	}
	sum := sha256.Sum256(v1["advisories/go/osv.jsonl"])
	want := verify.Patch{Path: "advisories/go/osv.jsonl", PatchPath: "delta/advisories/go/osv.jsonl",
		Base: bundle.PatchFile{SHA256: hex.EncodeToString(sum[:]), Length: int64(len(v1["advisories/go/osv.jsonl"]))}}
	if len(rep.Delta.Patches) != 1 || rep.Delta.Carried != 0 {
		t.Fatalf("patches %+v, carried %d", rep.Delta.Patches, rep.Delta.Carried)
	}
	got := rep.Delta.Patches[0]
	sum = sha256.Sum256(v2["advisories/go/osv.jsonl"])
	if got.Path != want.Path || got.PatchPath != want.PatchPath || got.Base != want.Base || got.Result.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("patch %+v, want %+v making sha256 %x", got, want, sum)
	}

	var text bytes.Buffer
	if err := rep.WriteText(&text, "d.kit.tar.zst"); err != nil {
		t.Fatal(err)
	}
	if line := "patched         advisories/go/osv.jsonl, on sha256:" + want.Base.SHA256; !strings.Contains(text.String(), line) {
		t.Errorf("the report does not say %q:\n%s", line, text.String())
	}
	all := map[string]bool{}
	for _, s := range from.Files {
		all[s] = true
	}
	good := fakeStore{version: 1, targets: from.Base.TargetsSHA256, ok: true, blobs: all}
	if rep := runStore(t, d, pinned(ch.Root()), good); !rep.OK {
		t.Fatalf("onto its base: %v", rep.Failures)
	}
	lacking := fakeStore{version: 1, targets: from.Base.TargetsSHA256, ok: true, blobs: map[string]bool{}}
	for s := range all {
		lacking.blobs[s] = s != want.Base.SHA256
	}
	rep = runStore(t, d, pinned(ch.Root()), lacking)
	wantFailures(t, rep, failure{bundle.CodeBlobMissing, "delta/advisories/go/osv.jsonl"})
	if !strings.Contains(rep.Failures[0].Message, want.Base.SHA256) {
		t.Errorf("the failure does not name the base it lacks: %s", rep.Failures[0].Message)
	}
}

// TestDeltaPatchAttacks: a patch delta.json does not name, one it names
// but the delta does not carry, a patched path the full kit lacks or
// carries whole: each fails with its code.
func TestDeltaPatchAttacks(t *testing.T) {
	ch, _, v2, from, good := patchDay()
	var desc, patch []byte
	for _, e := range fixtures.Entries(good) {
		switch e.Name {
		case bundle.DeltaPath:
			desc = e.Content
		case "delta/advisories/go/osv.jsonl":
			patch = e.Content
		}
	}
	var d bundle.Delta
	if err := json.Unmarshal(desc, &d); err != nil {
		t.Fatal(err)
	}
	signed := func(files map[string][]byte) []byte { return signedDelta(t, ch, from.Base, files) }
	enc := func(d bundle.Delta) []byte { return encDelta(t, d) }
	if rep := run(t, signed(map[string][]byte{bundle.DeltaPath: desc, "delta/advisories/go/osv.jsonl": patch}), pinned(ch.Root()), at); !rep.OK {
		t.Fatalf("the delta re-signed as is: %v", rep.Failures)
	}

	unnamed := d
	unnamed.Patches = nil
	rep := run(t, signed(map[string][]byte{bundle.DeltaPath: enc(unnamed), "delta/advisories/go/osv.jsonl": patch}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeUnexpectedEntry, "delta/advisories/go/osv.jsonl"})

	rep = run(t, signed(map[string][]byte{bundle.DeltaPath: desc}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeMissingTarget, "delta/advisories/go/osv.jsonl"})

	elsewhere := d
	elsewhere.Patches = []bundle.DeltaPatch{{Path: "advisories/other/osv.jsonl", Base: d.Patches[0].Base}}
	rep = run(t, signed(map[string][]byte{bundle.DeltaPath: enc(elsewhere), "delta/advisories/other/osv.jsonl": patch}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeMalformed, bundle.DeltaPath})

	both := d
	both.Carried = 1
	rep = run(t, signed(map[string][]byte{bundle.DeltaPath: enc(both), "delta/advisories/go/osv.jsonl": patch,
		"advisories/go/osv.jsonl": v2["advisories/go/osv.jsonl"]}), pinned(ch.Root()), at)
	wantFailures(t, rep, failure{bundle.CodeMalformed, bundle.DeltaPath})
}

// signedDelta signs files as a delta kit of version 2 of ch on base.
func signedDelta(t *testing.T, ch *fixtures.Channel, base bundle.Base, files map[string][]byte) []byte {
	t.Helper()
	return writeKit(t, bundle.WriteOptions{
		Info:  bundle.Info{Channel: ch.Name, Version: 2, Base: &base},
		Roots: ch.Chain, Signers: ch.SigningKeys(),
	}, files)
}

// encDelta encodes a delta's description.
func encDelta(t *testing.T, d bundle.Delta) []byte {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
