package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/verify"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func TestImportPinsRootThenUsesStoredTrust(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	k1 := fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1})
	k2 := fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2})

	res := mustImport(t, s, k1, ImportOptions{Root: c.Root(), Source: "acme-1.kit.tar.zst"})
	if res.Outcome != OutcomeActivated || !res.Changes.NewChannel || res.Changes.Added != 6 {
		t.Fatalf("first import: outcome %q, changes %+v", res.Outcome, res.Changes)
	}
	if !res.Receipt.PinnedRoot {
		t.Error("first import: receipt does not say the root was pinned")
	}
	// Later kits: no root given, the store's trust state is the trust.
	res = mustImport(t, s, k2, ImportOptions{})
	want := &Changes{Channel: "acme", FromVersion: 1, ToVersion: 2, Added: 0, Changed: 1, Removed: 1, Unchanged: 4, NewBlobs: 1, NewBlobBytes: 10}
	if diff := diff(want, res.Changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if v := activeVersion(t, s, "acme"); v != 2 {
		t.Errorf("active version %d, want 2", v)
	}
	// The store's trust state is kit 2's metadata.
	var ts []byte
	s.view(context.Background(), func(tx *bolt_Tx) error {
		ts = bytes.Clone(tx.Bucket(bucketTrust).Bucket([]byte("acme")).Get(keyTimestamp))
		return nil
	})
	if m, err := metadata.Timestamp().FromBytes(ts); err != nil || m.Signed.Version != 2 {
		t.Errorf("stored timestamp is not version 2: %v", err)
	}
	// Every verified byte is in the blob store.
	for p, data := range kitFiles(2) {
		sum := sha256Hex(data)
		got, err := os.ReadFile(s.blobPath(sum))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: blob %s: %v", p, sum, err)
		}
	}
}

func TestImportReceipts(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	k1 := fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1})
	mustImport(t, s, k1, ImportOptions{Root: c.Root(), Source: "acme-1.kit.tar.zst", Operator: "alice"})
	mustImport(t, s, k1, ImportOptions{Operator: "bob"})
	log, err := s.Log(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 {
		t.Fatalf("%d receipts, want 2", len(log))
	}
	r := log[0]
	if r.Seq != 1 || r.Operator != "alice" || r.Channel != "acme" || r.Version != 1 || r.Outcome != OutcomeActivated ||
		r.KitSHA256 != sha256Hex(k1) || r.KitBytes != int64(len(k1)) || !r.Time.Equal(at) || r.Source != "acme-1.kit.tar.zst" {
		t.Errorf("receipt 1: %+v", r)
	}
	if len(r.SignerKeyIDs) != 1 || !slices.Equal(r.Checks, Checks) {
		t.Errorf("receipt 1: signers %v, checks %v", r.SignerKeyIDs, r.Checks)
	}
	want := map[string]verify.TypeCount{}
	for p, data := range kitFiles(1) {
		c := want[bundle.ContentType(p)]
		c.Files++
		c.Bytes += int64(len(data))
		want[bundle.ContentType(p)] = c
	}
	if diff := diff(want, r.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if log[1].Outcome != OutcomeUnchanged || log[1].Operator != "bob" || log[1].Seq != 2 {
		t.Errorf("re-import: %+v", log[1])
	}
}

func TestImportUnknownChannel(t *testing.T) {
	acme, other := fixtures.NewChannel("acme"), fixtures.NewChannel("other")
	s := newStore(t)
	_, err := s.Import(context.Background(), bytes.NewReader(fixtures.Kit(acme, kitFiles(1), fixtures.KitOptions{})), ImportOptions{At: at})
	if bundle.CodeOf(err) != bundle.CodeUnknownChannel {
		t.Fatalf("empty store, no root: %v, want KIT_UNKNOWN_CHANNEL", err)
	}
	mustImport(t, s, fixtures.Kit(acme, kitFiles(1), fixtures.KitOptions{}), ImportOptions{Root: acme.Root()})
	before := snapshotDir(t, s.Dir())
	res, err := s.Import(context.Background(), bytes.NewReader(fixtures.Kit(other, kitFiles(1), fixtures.KitOptions{})), ImportOptions{At: at})
	if bundle.CodeOf(err) != bundle.CodeUnknownChannel || res == nil || res.Report.OK {
		t.Fatalf("known store, other channel: %v", err)
	}
	if !strings.Contains(err.Error(), "pinned on the channel's first import") || strings.Contains(err.Error(), "--") {
		t.Errorf("the error does not say what to do, or speaks in command-line flags: %v", err)
	}
	if diff := diff(before, snapshotDir(t, s.Dir())); diff != "" {
		t.Errorf("a refused kit changed the store:\n%s", diff)
	}
}

func TestImportRollback(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	k1 := fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1})
	k2 := fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2})
	k2other := fixtures.Kit(c, kitFiles(3), fixtures.KitOptions{Version: 2})
	mustImport(t, s, k1, ImportOptions{Root: c.Root()})
	mustImport(t, s, k2, ImportOptions{})
	before := snapshotDir(t, s.Dir())

	for _, tc := range []struct {
		name string
		kit  []byte
	}{{"older version", k1}, {"same version, other content", k2other}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Import(context.Background(), bytes.NewReader(tc.kit), ImportOptions{At: at})
			if bundle.CodeOf(err) != bundle.CodeRollback {
				t.Fatalf("got %v, want KIT_ROLLBACK", err)
			}
			if strings.Contains(err.Error(), "--") {
				t.Errorf("the store speaks in command-line flags: %v", err)
			}
			if diff := diff(before, snapshotDir(t, s.Dir())); diff != "" {
				t.Errorf("a refused kit changed the store:\n%s", diff)
			}
		})
	}
	if _, err := s.Import(context.Background(), bytes.NewReader(k1), ImportOptions{At: at, ForceActivate: true}); !errors.Is(err, ErrReasonRequired) {
		t.Errorf("a forced activation without a reason: %v", err)
	}
	if _, err := s.Import(context.Background(), bytes.NewReader(k1), ImportOptions{At: at, Reason: "why"}); !errors.Is(err, ErrReasonWithoutForce) {
		t.Errorf("a reason without a forced activation: %v", err)
	}
	res := mustImport(t, s, k1, ImportOptions{ForceActivate: true, Reason: "feed 2 is broken, INC-42"})
	if res.Outcome != OutcomeForceActivated || activeVersion(t, s, "acme") != 1 {
		t.Fatalf("force-activate: outcome %q, version %d", res.Outcome, activeVersion(t, s, "acme"))
	}
	log, _ := s.Log(context.Background())
	last := log[len(log)-1]
	if last.Reason != "feed 2 is broken, INC-42" || last.PreviousVersion != 2 || !slices.Contains(last.Checks, CheckRollbackOverridden) || slices.Contains(last.Checks, CheckRollback) {
		t.Errorf("forced receipt: %+v", last)
	}
	// Normal imports go on from the forced state.
	mustImport(t, s, k2, ImportOptions{})
	if v := activeVersion(t, s, "acme"); v != 2 {
		t.Errorf("after force: version %d, want 2", v)
	}
}

func TestImportFollowsRootRotation(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	c.Rotate()
	res := mustImport(t, s, fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2}), ImportOptions{})
	if res.Receipt.RootVersion != 2 {
		t.Errorf("root version %d after rotation, want 2", res.Receipt.RootVersion)
	}
	in, _ := s.Info(context.Background(), at)
	if in.Channels[0].RootVersion != 2 {
		t.Errorf("store root version %d, want 2", in.Channels[0].RootVersion)
	}
}

func TestImportDryRunWritesNothing(t *testing.T) {
	c := fixtures.NewChannel("acme")
	k1 := fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1})
	k2 := fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2})

	t.Run("no store yet", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "store")
		s, err := Open(context.Background(), dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		res := mustImport(t, s, k1, ImportOptions{Root: c.Root(), DryRun: true})
		if !res.DryRun || res.Receipt != nil || res.Changes.Added != 6 || res.Changes.NewBlobs != 6 {
			t.Errorf("dry run: %+v %+v", res, res.Changes)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("dry run created the store directory: %v", err)
		}
	})
	t.Run("existing store", func(t *testing.T) {
		s := newStore(t)
		mustImport(t, s, k1, ImportOptions{Root: c.Root()})
		before := snapshotDir(t, s.Dir())
		res := mustImport(t, s, k2, ImportOptions{DryRun: true})
		if res.Outcome != OutcomeActivated || res.Changes.FromVersion != 1 || res.Changes.Changed != 1 || res.Changes.NewBlobs != 1 {
			t.Errorf("dry run: %+v", res.Changes)
		}
		if diff := diff(before, snapshotDir(t, s.Dir())); diff != "" {
			t.Errorf("dry run changed the store:\n%s", diff)
		}
		// A rollback is reported by a dry run too.
		mustImport(t, s, k2, ImportOptions{})
		if _, err := s.Import(context.Background(), bytes.NewReader(k1), ImportOptions{At: at, DryRun: true}); bundle.CodeOf(err) != bundle.CodeRollback {
			t.Errorf("dry run of an older kit: %v", err)
		}
	})
}

func TestImportFailedKitPlacesNothing(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	before := snapshotDir(t, s.Dir())
	files := kitFiles(2)
	files["docs/new.txt"] = []byte("a new file that must never reach the blob store\n")
	bad := tamperContent(t, fixtures.Kit(c, files, fixtures.KitOptions{Version: 2}), files["docs/new.txt"])
	res, err := s.Import(context.Background(), bytes.NewReader(bad), ImportOptions{At: at})
	if bundle.CodeOf(err) != bundle.CodeDigestMismatch || res.Report.OK {
		t.Fatalf("tampered kit: %v", err)
	}
	if diff := diff(before, snapshotDir(t, s.Dir())); diff != "" {
		t.Errorf("a tampered kit changed the store (staged files must be dropped):\n%s", diff)
	}
}

func TestImportRepairsDamagedBlob(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	k1 := fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1})
	mustImport(t, s, k1, ImportOptions{Root: c.Root()})
	big := kitFiles(1)["docs/sub/data.bin"]
	p := s.blobPath(sha256Hex(big))
	damaged := bytes.Clone(big)
	damaged[len(damaged)-3] ^= 1
	if err := os.WriteFile(p, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	mustImport(t, s, fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2}), ImportOptions{})
	if got, _ := os.ReadFile(p); !bytes.Equal(got, big) {
		t.Error("a damaged blob was reused instead of replaced by the verified bytes")
	}
}

func TestQuarantine(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	dir := t.TempDir()
	kitPath := filepath.Join(dir, "acme-1.kit.tar.zst")
	expired := fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1})
	if err := os.WriteFile(kitPath, expired, 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(kitPath)
	res, err := s.Import(context.Background(), f, ImportOptions{At: at.AddDate(0, 2, 0), Root: c.Root()})
	f.Close()
	if bundle.CodeOf(err) != bundle.CodeExpired {
		t.Fatalf("expired kit: %v", err)
	}
	q := filepath.Join(dir, "quarantine")
	for i, want := range []string{"acme-1.kit.tar.zst", "acme-1.kit.tar.zst.1"} {
		if i == 1 {
			os.WriteFile(kitPath, expired, 0o644)
		}
		dest, err := Quarantine(kitPath, q, res.Report)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(dest) != want {
			t.Errorf("quarantined as %s, want %s", dest, want)
		}
		if _, err := os.Stat(kitPath); !os.IsNotExist(err) {
			t.Error("the kit is still where it was")
		}
		if got, _ := os.ReadFile(dest); !bytes.Equal(got, expired) {
			t.Error("quarantined kit differs")
		}
		var rep verify.Report
		data, _ := os.ReadFile(dest + ".report.json")
		if err := json.Unmarshal(data, &rep); err != nil || rep.OK || rep.Failures[0].Code != bundle.CodeExpired {
			t.Errorf("report beside the kit: %v %+v", err, rep)
		}
	}
}

func TestFreshnessInfo(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	files := kitFiles(1)
	files["kit.json"] = []byte(`{"schema":"ferry.dev/kit/v1","freshness":{"advisories":"7d","vex":"7d","files":"30d"},
"sources":[{"name":"osv","kind":"advisories","from":"https://osv.dev","dest":"advisories/demo/","files":1,"bytes":55,"fetchedAt":"2026-11-20T00:00:00Z","digest":"sha256:abc"}]}`)
	mustImport(t, s, fixtures.Kit(c, files, fixtures.KitOptions{}), ImportOptions{Root: c.Root()})
	in, err := s.Info(context.Background(), fixtures.Created.AddDate(0, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ty := range in.Channels[0].Types {
		got[ty.Type] = ty.Freshness + "/" + ty.Budget
		if ty.Type == "advisories" && ty.AgeSeconds != 10*24*3600 {
			t.Errorf("advisories age %ds, want 10 days (from the source's fetchedAt)", ty.AgeSeconds)
		}
	}
	want := map[string]string{"advisories": "stale/7d", "files": "ok/30d", "vex": "missing/7d", "kit": "no-budget/", "trust": "no-budget/"}
	if diff := diff(want, got); diff != "" {
		t.Errorf("freshness (-want +got):\n%s", diff)
	}

	// A budget that does not parse fails the import, before anything changes.
	files["kit.json"] = []byte(`{"schema":"ferry.dev/kit/v1","freshness":{"advisories":"soon"}}`)
	_, err = s.Import(context.Background(), bytes.NewReader(fixtures.Kit(c, files, fixtures.KitOptions{Version: 2})), ImportOptions{At: at})
	if err == nil || !strings.Contains(err.Error(), "freshness.advisories") {
		t.Errorf("bad budget: %v", err)
	}
	if v := activeVersion(t, s, "acme"); v != 1 {
		t.Errorf("version %d after a failed import, want 1", v)
	}
}

func TestInventory(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	files := kitFiles(1)
	files["images/blobs/sha256/"+sha256Hex([]byte("layer"))] = []byte("layer")
	files["images/index.json"] = []byte(`{}`)
	files["kit.json"] = []byte(`{"schema":"ferry.dev/kit/v1","sources":[{"name":"z","kind":"files","from":"./z","files":1,"bytes":1},{"name":"img","kind":"images","from":"registry/x","digest":"sha256:123","files":2,"bytes":7}]}`)
	mustImport(t, s, fixtures.Kit(c, files, fixtures.KitOptions{}), ImportOptions{Root: c.Root()})
	inv, err := s.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := diff([]string{"sha256:" + sha256Hex([]byte("layer"))}, inv.Images); diff != "" {
		t.Errorf("images:\n%s", diff)
	}
	ch := inv.Channels[0]
	if ch.Channel != "acme" || ch.Version != 1 || len(ch.Files) != len(files) || ch.Sources[0].Name != "img" || ch.Sources[0].Digest != "sha256:123" {
		t.Errorf("channel: %+v", ch)
	}
	a, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	inv2, err := s.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(inv2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("inventory is not deterministic")
	}
}

func TestGC(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	mustImport(t, s, fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2}), ImportOptions{})
	// Leftovers of a killed import.
	os.WriteFile(filepath.Join(s.Dir(), tmpDir, "stage-123"), []byte("half"), 0o600)
	os.WriteFile(s.blobPath(sha256Hex([]byte("orphan"))), []byte("orphan"), 0o644)
	res, err := s.GC(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 is kept for replay: only the orphan goes.
	if res.Removed != 1 || res.TempRemoved != 1 || res.Referenced != 7 {
		t.Errorf("gc with history: %+v", res)
	}
	gh, err := s.GCHistory(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(gh.Dropped) != 1 || gh.Dropped[0].Channel != "acme" || gh.Dropped[0].Version != 1 {
		t.Errorf("gc --keep 0 dropped %+v, want acme v1", gh.Dropped)
	}
	res, err = s.GC(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Unreferenced now: version 1's docs/version.txt and trust key.
	if res.Removed != 2 || res.TempRemoved != 0 || res.Referenced != 5 {
		t.Errorf("gc: %+v", res)
	}
	if got := listDir(t, filepath.Join(s.Dir(), blobsDir)); len(got) != 5 {
		t.Errorf("%d blobs left, want 5", len(got))
	}
	if got := listDir(t, filepath.Join(s.Dir(), tmpDir)); len(got) != 0 {
		t.Errorf("tmp not empty: %v", got)
	}
}

// countingIndexer is a test indexer: adding it to Options is all it takes.
type countingIndexer struct{}

func (countingIndexer) Name() string          { return "test-lines" }
func (countingIndexer) Accepts(t string) bool { return t == "advisories" }
func (countingIndexer) Index(_ context.Context, f verify.Target, r io.Reader, w *IndexWriter) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if err := w.Put([]byte(f.Path+"#"+string(rune('0'+i))), line); err != nil {
			return err
		}
	}
	return nil
}

func TestIndexers(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := openStore(t, filepath.Join(t.TempDir(), "store"), Options{Indexers: append(DefaultIndexers(), countingIndexer{})})
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{}), ImportOptions{Root: c.Root()})
	got := map[string]string{}
	s.view(context.Background(), func(tx *bolt_Tx) error {
		for _, name := range []string{"files", "test-lines"} {
			tx.Bucket(bucketIndex).Bucket([]byte(name)).Bucket([]byte("acme")).ForEach(func(k, v []byte) error {
				got[name+":"+string(k)] = string(v)
				return nil
			})
		}
		return nil
	})
	if got["test-lines:advisories/demo/osv.jsonl#0"] != `{"id":"GO-2024-0001","modified":"2024-01-01T00:00:00Z"}` {
		t.Errorf("test indexer entries: %v", got)
	}
	if !strings.Contains(got["files:docs/README.md"], sha256Hex(kitFiles(1)["docs/README.md"])) || len(got) != 4 {
		t.Errorf("files index: %v", got)
	}
}

func TestIndexerFailureLeavesOldState(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := openStore(t, filepath.Join(t.TempDir(), "store"), Options{Indexers: []Indexer{failingIndexer{}}})
	_, err := s.Import(context.Background(), bytes.NewReader(fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{})), ImportOptions{At: at, Root: c.Root()})
	var ie *IndexError
	if !errors.As(err, &ie) || ie.Path != "advisories/demo/osv.jsonl" {
		t.Fatalf("got %v, want an IndexError", err)
	}
	if v := activeVersion(t, s, "acme"); v != 0 {
		t.Errorf("a failed indexer activated version %d", v)
	}
	if got := listDir(t, filepath.Join(s.Dir(), tmpDir)); len(got) != 0 {
		t.Errorf("staging files left: %v", got)
	}
}

type failingIndexer struct{ countingIndexer }

func (failingIndexer) Index(context.Context, verify.Target, io.Reader, *IndexWriter) error {
	return errors.New("malformed record on line 1")
}

// TestImportTamperedMetadataThenGenuine: a kit whose timestamp.json had one
// whitespace byte changed on the way (signatures still valid for go-tuf)
// is refused and changes nothing; the genuine kit of that version is then
// accepted. Before, the tampered bytes became the trust state and the
// genuine kit was refused as a rollback: one flipped bit locked the site
// out of its feed.
func TestImportTamperedMetadataThenGenuine(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	k2 := fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2})
	tampered := fixtures.EditEntry(k2, bundle.TimestampPath, func(b []byte) []byte {
		return bytes.Replace(b, []byte("\t"), []byte("\r"), 1)
	})
	before := snapshotDir(t, s.Dir())
	_, err := s.Import(context.Background(), bytes.NewReader(tampered), ImportOptions{At: at})
	if bundle.CodeOf(err) != bundle.CodeMalformed {
		t.Fatalf("tampered kit: got %v, want KIT_MALFORMED", err)
	}
	if diff := diff(before, snapshotDir(t, s.Dir())); diff != "" {
		t.Errorf("a refused kit changed the store:\n%s", diff)
	}
	res := mustImport(t, s, k2, ImportOptions{})
	if res.Outcome != OutcomeActivated || activeVersion(t, s, "acme") != 2 {
		t.Fatalf("genuine kit: outcome %q, version %d", res.Outcome, activeVersion(t, s, "acme"))
	}
}

// TestImportStateComparedBySigned: a store whose trust state holds
// timestamp bytes that differ from the genuine kit's only outside what was
// signed (as an older ferry could have kept them) takes the genuine kit of
// that version as the same kit, not as a rollback.
func TestImportStateComparedBySigned(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	k1 := fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1})
	mustImport(t, s, k1, ImportOptions{Root: c.Root()})
	err := s.update(context.Background(), func(tx *bolt_Tx) error {
		b := tx.Bucket(bucketTrust).Bucket([]byte("acme"))
		return b.Put(keyTimestamp, bytes.Replace(b.Get(keyTimestamp), []byte("\t"), []byte("\r"), 1))
	})
	if err != nil {
		t.Fatal(err)
	}
	res := mustImport(t, s, k1, ImportOptions{})
	if res.Outcome != OutcomeUnchanged {
		t.Errorf("outcome %q, want %q", res.Outcome, OutcomeUnchanged)
	}
}

// TestImportKeepsTrustedRootChain: the store keeps the root chain from the
// pinned root on, and a later kit whose lower root differs from the kept
// copy is refused.
func TestImportKeepsTrustedRootChain(t *testing.T) {
	c := fixtures.NewChannel("acme")
	c.Rotate()
	s := newStore(t)
	// Pinned at v2: root v1 is not vouched for and not kept.
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	c.Rotate()
	k2 := fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2})
	mustImport(t, s, k2, ImportOptions{})
	var got verify.Trust
	s.view(context.Background(), func(tx *bolt_Tx) error {
		got, _ = readTrust(tx, "acme")
		return nil
	})
	if !slices.EqualFunc(got.Roots, c.Chain[1:], bytes.Equal) || !bytes.Equal(got.Root, c.Root()) {
		t.Fatalf("kept %d roots, want versions 2 and 3", len(got.Roots))
	}
	// Root v2 re-signed by a stranger: canonical, chained, but not the
	// copy the store holds.
	k3 := fixtures.Kit(c, kitFiles(3), fixtures.KitOptions{Version: 3})
	bad := fixtures.EditEntry(k3, bundle.RootPath(2), func(b []byte) []byte {
		m, err := metadata.Root().FromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Sign(fixtures.Signer("stranger")); err != nil {
			t.Fatal(err)
		}
		out, err := bundle.EncodeMetadata(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	})
	before := snapshotDir(t, s.Dir())
	_, err := s.Import(context.Background(), bytes.NewReader(bad), ImportOptions{At: at})
	if bundle.CodeOf(err) != bundle.CodeSignatureInvalid {
		t.Fatalf("altered lower root: got %v, want KIT_SIGNATURE_INVALID", err)
	}
	if diff := diff(before, snapshotDir(t, s.Dir())); diff != "" {
		t.Errorf("a refused kit changed the store:\n%s", diff)
	}
	mustImport(t, s, k3, ImportOptions{})
}
