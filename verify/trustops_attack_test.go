package verify_test

import (
	"crypto"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/keys"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// entryOf returns the content of the entry called name in kit.
func entryOf(t *testing.T, kit []byte, name string) []byte {
	t.Helper()
	es := fixtures.Entries(kit)
	i := fixtures.Index(es, name)
	if i < 0 {
		t.Fatalf("no entry %s", name)
	}
	return es[i].Content
}

// TestMixAndMatch: metadata of two genuine kits of the channel, combined
// in one kit (each file validly signed, but not for each other), is
// refused with KIT_DIGEST_MISMATCH at the first file whose length and
// sha256 are not the ones the file before it signed.
func TestMixAndMatch(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	files := fixtures.SampleFiles()
	k1 := fixtures.Kit(ch, files, fixtures.KitOptions{Version: 1})
	files["docs/README.md"] = []byte("version 2\n")
	k2 := fixtures.Kit(ch, files, fixtures.KitOptions{Version: 2})
	for _, tc := range []struct {
		name string
		from []string // entries of k1 put into k2
		want failure
	}{
		{"timestamp of version 2, snapshot and targets of version 1", []string{bundle.SnapshotPath, bundle.TargetsPath}, failure{bundle.CodeDigestMismatch, bundle.SnapshotPath}},
		{"timestamp and snapshot of version 2, targets of version 1", []string{bundle.TargetsPath}, failure{bundle.CodeDigestMismatch, bundle.TargetsPath}},
		{"timestamp of version 1, snapshot and targets of version 2", []string{bundle.TimestampPath}, failure{bundle.CodeDigestMismatch, bundle.SnapshotPath}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kit := k2
			for _, name := range tc.from {
				kit = fixtures.EditEntry(kit, name, func([]byte) []byte { return entryOf(t, k1, name) })
			}
			wantFailures(t, run(t, kit, pinned(ch.Root()), at), tc.want)
		})
	}
}

// forgeRoot returns root v(N+1) after prev that lists newRootKeys as its
// root keys and signer as its only signing key, for channel (or prev's
// channel when empty), signed by signers only: what a thief of some root
// keys could make without the rest.
func forgeRoot(t *testing.T, prev []byte, channel string, newRootKeys []crypto.Signer, signer crypto.Signer, signers ...crypto.Signer) []byte {
	t.Helper()
	r, err := metadata.Root().FromBytes(prev)
	if err != nil {
		t.Fatal(err)
	}
	r.Signed.Version++
	if channel != "" {
		r.Signed.UnrecognizedFields["x-ferry"] = map[string]any{"channel": channel}
	}
	r.Signatures = nil
	r.Signed.Keys = map[string]*metadata.Key{}
	for _, role := range r.Signed.Roles {
		role.KeyIDs = nil
	}
	add := func(k crypto.Signer, roles ...string) {
		tk, err := keys.TUFKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range roles {
			if err := r.Signed.AddKey(tk, role); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range newRootKeys {
		add(k, metadata.ROOT)
	}
	r.Signed.Roles[metadata.ROOT].Threshold = 1
	add(signer, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
	for _, s := range signers {
		sv, err := keys.Signer(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Sign(sv); err != nil {
			t.Fatal(err)
		}
	}
	out, err := bundle.EncodeMetadata(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRootByStolenKeyBelowThreshold: one stolen root key of a 2-of-3 root
// signs a root v2 that hands the channel to the thief's keys: refused at
// root v2, and so every kit signed under it.
func TestRootByStolenKeyBelowThreshold(t *testing.T) {
	ch := fixtures.NewChannelN("acme-feeds", 3, 2, 1, 1)
	thief, evil := ch.RootKeys[0], fixtures.Key("thief/signer")
	v2 := forgeRoot(t, ch.Root(), "", []crypto.Signer{thief}, evil, thief)
	kit := writeKit(t, bundle.WriteOptions{Info: bundle.Info{Channel: ch.Name}, Roots: [][]byte{ch.Root(), v2},
		Signers: []signature.Signer{mustSigner(t, evil)}}, fixtures.SampleFiles())
	wantFailures(t, run(t, kit, pinned(ch.Root()), at), failure{bundle.CodeThresholdNotMet, bundle.RootPath(2)})
}

// TestRootSignedByRemovedKeys: after a rotation removed the old root key,
// a root v3 signed by that key alone (listing it again) is refused at root
// v3 with KIT_SIGNATURE_INVALID (signed only by keys root v2 does not
// list): each root must meet the threshold of the root before it.
func TestRootSignedByRemovedKeys(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	removed := ch.RootKeys[0]
	ch.Rotate()
	evil := fixtures.Key("thief/signer")
	v3 := forgeRoot(t, ch.Root(), "", []crypto.Signer{removed}, evil, removed)
	kit := writeKit(t, bundle.WriteOptions{Info: bundle.Info{Channel: ch.Name}, Roots: append(ch.Chain, v3),
		Signers: []signature.Signer{mustSigner(t, evil)}}, fixtures.SampleFiles())
	wantFailures(t, run(t, kit, pinned(ch.Chain[0]), at), failure{bundle.CodeSignatureInvalid, bundle.RootPath(3)})
}

// TestRootChangesChannel: a root v2 properly signed by the channel's root
// key but naming another channel is refused at root v2 with
// KIT_UNKNOWN_CHANNEL: a channel's chain never becomes another channel's.
func TestRootChangesChannel(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	signer := fixtures.Key("acme-feeds/signer/0")
	v2 := forgeRoot(t, ch.Root(), "other", ch.RootKeys, signer, ch.RootKeys...)
	kit := writeKit(t, bundle.WriteOptions{Info: bundle.Info{Channel: ch.Name}, Roots: [][]byte{ch.Root(), v2},
		Signers: []signature.Signer{mustSigner(t, signer)}}, fixtures.SampleFiles())
	wantFailures(t, run(t, kit, pinned(ch.Root()), at), failure{bundle.CodeUnknownChannel, bundle.RootPath(2)})
}

func mustSigner(t *testing.T, k crypto.Signer) signature.Signer {
	t.Helper()
	s, err := keys.Signer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTrustModelNamesRealTests: every test the attack table of
// docs/trust-model.md names exists (a top-level test function, and the
// case name of a table test), so that the table cannot outlive its tests.
func TestTrustModelNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "trust-model.md"))
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, dir := range []string{"../verify", "../store", "../cmd/ferry/cli"} {
		files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	names := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		for _, m := range regexp.MustCompile("`(Test[A-Za-z]+)(?:/([^`]+))?`").FindAllStringSubmatch(line, -1) {
			names++
			if !strings.Contains(src.String(), "func "+m[1]+"(") || m[2] != "" && !strings.Contains(src.String(), strconv.Quote(m[2])) {
				t.Errorf("docs/trust-model.md names %s, which no test defines", m[0])
			}
		}
	}
	if names < 20 {
		t.Errorf("the attack table names %d tests; it was not found", names)
	}
}
