package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/keys"
	"github.com/ferry-dev/ferry/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func keyID(t *testing.T, ch *fixtures.Channel, i int) string {
	t.Helper()
	id, err := keys.ID(ch.Signers[i].Public())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// wantOK fails the test unless the report is OK.
func wantOK(t *testing.T, rep *verify.Report) {
	t.Helper()
	if !rep.OK || len(rep.Failures) != 0 {
		t.Fatalf("report not OK: %+v", rep.Failures)
	}
	if err := rep.Err(); err != nil {
		t.Errorf("Err() = %v for an OK report", err)
	}
}

func TestKitValid(t *testing.T) {
	ch, kit := sample(t)
	files := fixtures.SampleFiles()
	type got struct {
		data []byte
		t    verify.Target
	}
	var seen []got
	rep, err := verify.Kit(context.Background(), bytes.NewReader(kit), pinned(ch.Root()), verify.Options{
		At: at,
		Content: func(tgt verify.Target, r io.Reader) error {
			data, err := io.ReadAll(r)
			seen = append(seen, got{data, tgt})
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, rep)

	size := func(paths ...string) int64 {
		var n int64
		for _, p := range paths {
			n += int64(len(files[p]))
		}
		return n
	}
	wantCounts := map[string]verify.TypeCount{
		"advisories": {Files: 1, Bytes: size("advisories/demo/osv.jsonl")},
		"files":      {Files: 2, Bytes: size("docs/README.md", "docs/sub/data.bin")},
		"kit":        {Files: 1, Bytes: size("kit.json")},
		"trust":      {Files: 1, Bytes: size("trust/keys/cosign.pub")},
	}
	if !maps.Equal(rep.Counts, wantCounts) {
		t.Errorf("counts:\n got  %v\n want %v", rep.Counts, wantCounts)
	}
	if want := []string{keyID(t, ch, 0)}; !slices.Equal(rep.SignerKeyIDs, want) {
		t.Errorf("signer key ids %v, want %v", rep.SignerKeyIDs, want)
	}
	if rep.Channel != "acme-feeds" || rep.Name != "acme-feeds" || rep.Version != 1 || rep.RootVersion != 1 {
		t.Errorf("channel %q name %q version %d root version %d", rep.Channel, rep.Name, rep.Version, rep.RootVersion)
	}
	if !rep.Created.Equal(fixtures.Created) || !rep.Expires.Equal(fixtures.Created.Add(30*24*time.Hour)) {
		t.Errorf("created %s expires %s", rep.Created, rep.Expires)
	}
	es := fixtures.Entries(kit)
	sum := sha256.Sum256(es[fixtures.Index(es, bundle.TargetsPath)].Content)
	if want := hex.EncodeToString(sum[:]); rep.TargetsSHA256 != want {
		t.Errorf("targets sha256 %s, want %s", rep.TargetsSHA256, want)
	}
	if rep.SameAsTrusted {
		t.Error("SameAsTrusted without trust state")
	}

	// The ContentFunc saw every file, in kit order, with its bytes.
	wantPaths := slices.Sorted(maps.Keys(files))
	var gotPaths []string
	for _, s := range seen {
		gotPaths = append(gotPaths, s.t.Path)
		if !bytes.Equal(s.data, files[s.t.Path]) {
			t.Errorf("%s: ContentFunc got other bytes", s.t.Path)
		}
		sum := sha256.Sum256(files[s.t.Path])
		if s.t.SHA256 != hex.EncodeToString(sum[:]) || s.t.Length != int64(len(files[s.t.Path])) {
			t.Errorf("%s: target %+v", s.t.Path, s.t)
		}
	}
	if !slices.Equal(gotPaths, wantPaths) {
		t.Errorf("ContentFunc paths %v, want %v", gotPaths, wantPaths)
	}
	if len(rep.Targets) != len(files) {
		t.Errorf("report lists %d targets, want %d", len(rep.Targets), len(files))
	}

	// The JSON form parses back and says ok.
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var j struct {
		OK       bool `json:"ok"`
		Failures []any
	}
	if err := json.Unmarshal(buf.Bytes(), &j); err != nil || !j.OK || j.Failures == nil {
		t.Errorf("JSON report: ok=%v failures=%v err=%v\n%s", j.OK, j.Failures, err, buf.Bytes())
	}
}

// TestKitBeforeExpiry is the other side of the freeze test: the day before
// the kit expires it verifies.
func TestKitBeforeExpiry(t *testing.T) {
	ch, kit := sample(t)
	wantOK(t, run(t, kit, pinned(ch.Root()), fixtures.Created.Add(29*24*time.Hour)))
}

func TestKitThresholdMet(t *testing.T) {
	ch := fixtures.NewChannelN("acme-feeds", 3, 2, 2, 2)
	kit := fixtures.Kit(ch, fixtures.SampleFiles(), fixtures.KitOptions{})
	rep := run(t, kit, pinned(ch.Root()), at)
	wantOK(t, rep)
	want := []string{keyID(t, ch, 0), keyID(t, ch, 1)}
	slices.Sort(want)
	if !slices.Equal(rep.SignerKeyIDs, want) {
		t.Errorf("signer key ids %v, want %v", rep.SignerKeyIDs, want)
	}
}

// TestKitRotatedChain verifies a kit of a channel rotated twice against
// each root a site may have pinned: the kit's chain leads to root v3.
func TestKitRotatedChain(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	ch.Rotate()
	ch.Rotate()
	kit := fixtures.Kit(ch, fixtures.SampleFiles(), fixtures.KitOptions{})
	for i, root := range ch.Chain {
		t.Run(bundle.RootPath(int64(i+1)), func(t *testing.T) {
			rep := run(t, kit, pinned(root), at)
			wantOK(t, rep)
			if rep.RootVersion != 3 {
				t.Errorf("root version %d, want 3", rep.RootVersion)
			}
			if !bytes.Equal(rep.Metadata().Root, ch.Chain[2]) {
				t.Error("Metadata().Root is not root v3")
			}
			// The trusted chain starts at the pinned root: the roots
			// before it were not vouched for by anything trusted.
			if got := rep.Metadata().Roots; len(got) != 3-i || !bytes.Equal(got[0], root) {
				t.Errorf("Metadata().Roots has %d roots, want %d from the pinned one", len(got), 3-i)
			}
			if want := []string{keyID(t, ch, 0)}; !slices.Equal(rep.SignerKeyIDs, want) {
				t.Errorf("signer key ids %v, want %v (the v3 signer)", rep.SignerKeyIDs, want)
			}
		})
	}
}

// TestRollback imports kit version 2 and then offers other kits against the
// trust state it left behind.
func TestRollback(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	files := fixtures.SampleFiles()
	v1 := fixtures.Kit(ch, files, fixtures.KitOptions{Version: 1})
	v2 := fixtures.Kit(ch, files, fixtures.KitOptions{Version: 2, Created: fixtures.Created.Add(time.Hour)})
	first := run(t, v2, pinned(ch.Root()), at)
	wantOK(t, first)
	m := first.Metadata()
	state := verify.Static(verify.Trust{Root: m.Root, Timestamp: m.Timestamp, Snapshot: m.Snapshot})

	t.Run("older kit", func(t *testing.T) {
		wantFailures(t, run(t, v1, state, at), failure{bundle.CodeRollback, bundle.TimestampPath})
	})
	t.Run("same version, other content", func(t *testing.T) {
		other := maps.Clone(files)
		other["docs/README.md"] = []byte("# changed\n")
		v2b := fixtures.Kit(ch, other, fixtures.KitOptions{Version: 2, Created: fixtures.Created.Add(time.Hour)})
		wantFailures(t, run(t, v2b, state, at), failure{bundle.CodeRollback, bundle.TimestampPath})
	})
	t.Run("same kit again", func(t *testing.T) {
		rep := run(t, v2, state, at)
		wantOK(t, rep)
		if !rep.SameAsTrusted {
			t.Error("SameAsTrusted is false for the kit the state came from")
		}
	})
	t.Run("newer kit", func(t *testing.T) {
		v3 := fixtures.Kit(ch, files, fixtures.KitOptions{Version: 3, Created: fixtures.Created.Add(2 * time.Hour)})
		rep := run(t, v3, state, at)
		wantOK(t, rep)
		if rep.SameAsTrusted || rep.Version != 3 {
			t.Errorf("SameAsTrusted=%v version=%d", rep.SameAsTrusted, rep.Version)
		}
	})
	t.Run("newer kit after a key rotation", func(t *testing.T) {
		rot := fixtures.NewChannel("acme-feeds")
		rot.Rotate()
		v3 := fixtures.Kit(rot, files, fixtures.KitOptions{Version: 3, Created: fixtures.Created.Add(2 * time.Hour)})
		rep := run(t, v3, state, at)
		wantOK(t, rep)
		if rep.RootVersion != 2 {
			t.Errorf("root version %d, want 2", rep.RootVersion)
		}
	})
	t.Run("older kit after a key rotation", func(t *testing.T) {
		rot := fixtures.NewChannel("acme-feeds")
		rot.Rotate()
		old := fixtures.Kit(rot, files, fixtures.KitOptions{Version: 1})
		wantFailures(t, run(t, old, state, at), failure{bundle.CodeRollback, bundle.TimestampPath})
	})
}

func TestKitNeedsTime(t *testing.T) {
	ch, kit := sample(t)
	if _, err := verify.Kit(context.Background(), bytes.NewReader(kit), pinned(ch.Root()), verify.Options{}); err == nil {
		t.Fatal("no error without Options.At")
	}
}

// TestKitContentFuncError: an error of the caller's ContentFunc is not a
// kit failure; Kit returns it.
func TestKitContentFuncError(t *testing.T) {
	ch, kit := sample(t)
	boom := errors.New("disk full")
	_, err := verify.Kit(context.Background(), bytes.NewReader(kit), pinned(ch.Root()), verify.Options{
		At:      at,
		Content: func(verify.Target, io.Reader) error { return boom },
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

func TestKitCancelled(t *testing.T) {
	ch, kit := sample(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := verify.Kit(ctx, bytes.NewReader(kit), pinned(ch.Root()), verify.Options{At: at})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestReportErr checks that a failed report's Err carries the first code.
func TestReportErr(t *testing.T) {
	ch, kit := sample(t)
	rep := run(t, kit, pinned(ch.Root()), fixtures.Created.Add(31*24*time.Hour))
	if got := bundle.CodeOf(rep.Err()); got != bundle.CodeExpired {
		t.Fatalf("CodeOf(Err()) = %q, want %s", got, bundle.CodeExpired)
	}
	if rep.Targets != nil {
		t.Error("a failed report lists targets")
	}
}

// TestRollbackTargetsBehindNewerTimestamp: a kit whose timestamp and
// snapshot are newer than the channel's trusted state but whose snapshot
// lists an older targets.json (old content re-wrapped by someone holding
// the timestamp/snapshot key) is a rollback: the store's snapshot must
// take part in the check, not only its timestamp.
func TestRollbackTargetsBehindNewerTimestamp(t *testing.T) {
	ch := fixtures.NewChannel("acme-feeds")
	files := fixtures.SampleFiles()
	v1 := fixtures.Kit(ch, files, fixtures.KitOptions{Version: 1})
	v2 := fixtures.Kit(ch, files, fixtures.KitOptions{Version: 2})
	first := run(t, v2, pinned(ch.Root()), at)
	wantOK(t, first)
	m := first.Metadata()
	state := verify.Static(verify.Trust{Root: m.Root, Timestamp: m.Timestamp, Snapshot: m.Snapshot})

	// v1's targets under a snapshot and timestamp of version 3.
	es := fixtures.Entries(v1)
	targets := es[fixtures.Index(es, bundle.TargetsPath)].Content
	expires := fixtures.Created.Add(30 * 24 * time.Hour)
	signer := ch.SigningKeys()[0]
	snap := metadata.Snapshot(expires)
	snap.Signed.Version = 3
	snap.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": metaFile(1, targets)}
	snapJSON := signed(t, snap, signer)
	ts := metadata.Timestamp(expires)
	ts.Signed.Version = 3
	ts.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metaFile(3, snapJSON)}
	tsJSON := signed(t, ts, signer)
	kit := fixtures.Tamper(v1, func(es []fixtures.TarEntry) []fixtures.TarEntry {
		es[fixtures.Index(es, bundle.SnapshotPath)].Content = snapJSON
		es[fixtures.Index(es, bundle.TimestampPath)].Content = tsJSON
		return es
	})
	// Without trust state the re-wrapped kit is fine…
	wantOK(t, run(t, kit, pinned(ch.Root()), at))
	// …but not after version 2 was imported.
	wantFailures(t, run(t, kit, state, at), failure{bundle.CodeRollback, bundle.SnapshotPath})
}

func metaFile(version int64, data []byte) *metadata.MetaFiles {
	sum := sha256.Sum256(data)
	return &metadata.MetaFiles{Version: version, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
}

func signed[T metadata.Roles](t *testing.T, m *metadata.Metadata[T], s signature.Signer) []byte {
	t.Helper()
	if _, err := m.Sign(s); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.EncodeMetadata(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
