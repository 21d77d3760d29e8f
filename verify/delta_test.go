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
	signed := func(base bundle.Base, files map[string][]byte) []byte {
		return writeKit(t, bundle.WriteOptions{
			Info:  bundle.Info{Channel: ch.Name, Version: 2, Base: &base},
			Roots: ch.Chain, Signers: ch.SigningKeys(),
		}, files)
	}
	enc := func(d bundle.Delta) []byte {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

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
