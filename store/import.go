package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/manifest"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
)

// Clock tells the time. The store uses one only to measure how long the
// phases of an import take.
type Clock interface{ Now() time.Time }

// ImportOptions configures Import.
type ImportOptions struct {
	// At is the time the kit is verified against. Required.
	At time.Time
	// Now is the real time of the import: the receipt, the log and the
	// channel's import time record it. Zero means At is the real time.
	// When At differs from Now the verification clock is pinned: a kit
	// that expired by Now may pass as of At, so Reason is required and the
	// receipt records the clock (VerifiedAt), the reason and the operator
	// beside the real time.
	Now time.Time
	// Root is the channel root pinned out of band, used only for a channel
	// the store does not know yet. For a known channel the store's trust
	// state is the trust, and a Root that is not the store's root of the
	// same version is refused with ErrRootMismatch.
	Root []byte
	// DryRun verifies the kit and reports what would change, writing
	// nothing: no staging, no lock file, no database change.
	DryRun bool
	// ForceActivate accepts an older kit, or the same version with other
	// content, which is otherwise refused with KIT_ROLLBACK. The kit is then
	// verified against the channel's trusted root only, without its last
	// timestamp and snapshot. Reason is required and goes into the log.
	ForceActivate bool
	// Reason says why the import is forced or its clock pinned; required
	// for either, refused for neither.
	Reason string
	// Operator is who imports, for the receipt.
	Operator string
	// Source names the kit (its file name) in the receipt.
	Source string
	// Clock, if set, measures the phases into ImportResult.Timings.
	Clock Clock
}

// Timings is how long the phases of an import took. Verification and
// staging run in one streaming pass; Stage counts the time spent writing
// staging files and waiting for their syncs (which run beside the pass),
// indexing and placing blobs, Verify the rest of the pass (decompressing,
// hashing, signature checks). Index is the time the import spent, after
// the pass and the other indexes, waiting for the advisories' record
// indexes started during the pass and building any still missing.
type Timings struct {
	Verify time.Duration `json:"verify"`
	Stage  time.Duration `json:"stage"`
	Index  time.Duration `json:"index"`
	Commit time.Duration `json:"commit"`
}

// Changes is what an import changes (or, in a dry run, would change) in
// the channel's active kit.
type Changes struct {
	Channel      string `json:"channel"`
	NewChannel   bool   `json:"newChannel,omitempty"`
	FromVersion  int64  `json:"fromVersion,omitempty"`
	ToVersion    int64  `json:"toVersion"`
	Added        int    `json:"added"`
	Changed      int    `json:"changed"`
	Removed      int    `json:"removed"`
	Unchanged    int    `json:"unchanged"`
	NewBlobs     int    `json:"newBlobs"`
	NewBlobBytes int64  `json:"newBlobBytes"`
}

// ImportResultSchema names the JSON schema of ImportResult.
const ImportResultSchema = "ferry.dev/import-result/v1"

// ImportResult is the outcome of Import.
type ImportResult struct {
	Schema    string         `json:"schema"`
	DryRun    bool           `json:"dryRun"`
	Outcome   string         `json:"outcome,omitempty"`
	KitSHA256 string         `json:"kitSha256,omitempty"`
	KitBytes  int64          `json:"kitBytes,omitempty"`
	Report    *verify.Report `json:"report"`
	Changes   *Changes       `json:"changes,omitempty"`
	Receipt   *Receipt       `json:"receipt,omitempty"`
	Timings   Timings        `json:"timings"`
}

// Import verifies the kit read from r and, when it verified, makes it the
// active kit of its channel in one transaction. r is read exactly once, to
// its end: the bytes that were verified are the bytes stored.
//
// A kit that fails verification returns a result holding the report and
// an error wrapping a *bundle.Error (KIT_…); the store is unchanged. Other
// errors: ErrLocked, ErrReasonRequired, ErrClockReasonRequired,
// ErrReasonWithoutForce, a *SchemaError, I/O errors (a full disk while
// staging), each leaving the previous state intact.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	if opts.At.IsZero() {
		return nil, errors.New("import: no reference time given")
	}
	if opts.ForceActivate && opts.Reason == "" {
		return nil, ErrReasonRequired
	}
	if opts.clockPinned() && !opts.DryRun && opts.Reason == "" {
		return nil, fmt.Errorf("%w (verification clock %s, real time %s)", ErrClockReasonRequired,
			opts.At.UTC().Format(time.RFC3339), opts.Now.UTC().Format(time.RFC3339))
	}
	if !opts.ForceActivate && !opts.clockPinned() && opts.Reason != "" {
		return nil, ErrReasonWithoutForce
	}
	if !opts.DryRun && s.opts.ReadOnly {
		return nil, fmt.Errorf("%s: %w", s.dir, ErrReadOnly)
	}
	// Every read of the kit checks ctx, so that a cancelled import (SIGINT,
	// SIGTERM) stops within one read and releases the lock.
	r = ctxReader{ctx: ctx, r: r}
	im := &importer{s: s, opts: opts, clock: opts.Clock}
	if opts.DryRun {
		return im.run(ctx, r)
	}
	_, statErr := os.Lstat(s.dir)
	dirExisted := statErr == nil
	_, statErr = os.Lstat(lockPath(s.dir))
	lockExisted := statErr == nil
	l, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	fresh := !s.exists()
	if err := s.create(); err != nil {
		if fresh {
			s.removeData()
		}
		l.unlock()
		if fresh && !lockExisted {
			s.removeNew(!dirExisted)
		}
		return nil, err
	}
	res, err := im.run(ctx, r)
	if err != nil && fresh {
		// The import that would have created the store failed: leave no
		// empty store behind, only what was there before.
		s.removeData()
	}
	l.unlock()
	if err != nil && fresh && !lockExisted {
		s.removeNew(!dirExisted)
	}
	return res, err
}

// removeNew removes, after the unlock, the lock file that the failed first
// import of a store created and, with dirToo, the directory if it is then
// empty. (Another importer that waited for this lock holds it on the
// removed file; it goes on and creates the store itself.)
func (s *Store) removeNew(dirToo bool) {
	os.Remove(lockPath(s.dir))
	if dirToo {
		os.Remove(s.dir)
	}
}

// removeData removes the database, blobs and staging of a store that the
// failed first import created. The caller holds the lock.
func (s *Store) removeData() {
	os.Remove(dbPath(s.dir))
	os.Remove(filepath.Join(s.dir, pendingName))
	os.RemoveAll(filepath.Join(s.dir, "blobs"))
	os.RemoveAll(filepath.Join(s.dir, tmpDir))
}

// ctxReader fails a read once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// maxTrailer is how many bytes may follow the end of a kit's tar stream:
// the tar end-of-archive blocks and the end of the zstd frame. A kit with
// more after its last entry is refused, so that an endless input that
// starts like a kit is not read to its end.
const maxTrailer = 1 << 20

// clockPinned reports whether the kit is verified on another clock than
// the real time of the import.
func (o ImportOptions) clockPinned() bool { return !o.Now.IsZero() && !o.At.Equal(o.Now) }

// realTime is the real time of the import, which the log records.
func (o ImportOptions) realTime() time.Time {
	if o.Now.IsZero() {
		return o.At.UTC()
	}
	return o.Now.UTC()
}

type importer struct {
	s     *Store
	opts  ImportOptions
	clock Clock
	st    *stager

	// Loaded by TrustFor: the channel's state before the import.
	channel   string
	prev      *channelState
	prevTS    []byte
	prevFiles map[string]fileRec
	pinned    bool
}

func (im *importer) now() time.Time {
	if im.clock == nil {
		return time.Time{}
	}
	return im.clock.Now()
}

func (im *importer) run(ctx context.Context, r io.Reader) (res *ImportResult, err error) {
	res = &ImportResult{Schema: ImportResultSchema, DryRun: im.opts.DryRun}
	vopts := verify.Options{At: im.opts.At, Attestations: im.s.attestations(), Store: im}
	var early *earlyIndexes
	if !im.opts.DryRun {
		im.st = newStager(im.s, im.clock)
		im.st.ctx = ctx
		vopts.Content = im.st.stage
		defer im.st.cleanup()
		// Registered after cleanup, so run before it: no build reads a
		// staging file that is gone, and none runs after the import.
		early = im.s.indexEarly(ctx, im.st)
		defer early.wait()
	}
	kh := &hashCounter{r: r, h: sha256.New()}
	t0 := im.now()
	rep, err := verify.Kit(ctx, kh, im, vopts)
	if cerr := ctx.Err(); cerr != nil {
		// Cancelled: whatever verify made of the cut stream is not about
		// the kit.
		return nil, fmt.Errorf("import of %s stopped: %w", orUnnamed(im.opts.Source), cerr)
	}
	var stop *stopError
	if errors.As(err, &stop) {
		// The import stopped at the first entry that failed: a report of
		// that one failure.
		res.Report = &verify.Report{
			Schema: verify.ReportSchema, CheckedAt: im.opts.At.UTC(), Channel: im.channel,
			Counts: map[string]verify.TypeCount{}, Failures: []verify.Failure{{Code: stop.err.Code, Entry: stop.err.Entry, Message: stop.err.Msg + "; the import stopped here"}},
		}
		return res, res.Report.Err()
	}
	if err != nil {
		return nil, err
	}
	if rep.OK {
		// Hash what verification left unread (the zstd and tar trailers).
		// A kit that failed is not read further: its hash is of no use,
		// and the rest of the input may never end.
		n, err := io.Copy(io.Discard, io.LimitReader(kh, maxTrailer+1))
		if err != nil {
			return nil, fmt.Errorf("reading the kit: %w", err)
		}
		if n > maxTrailer {
			return nil, bundle.Errorf(bundle.CodeMalformed, "", "more than %d bytes follow the end of the kit", maxTrailer)
		}
	}
	t1 := im.now()
	res.Report = rep
	if rep.OK {
		res.KitSHA256, res.KitBytes = hex.EncodeToString(kh.h.Sum(nil)), kh.n
	}
	if im.st != nil {
		res.Timings.Verify = t1.Sub(t0) - im.st.spent
		res.Timings.Stage = im.st.spent
	} else {
		res.Timings.Verify = t1.Sub(t0)
	}
	if !rep.OK {
		return res, rep.Err()
	}
	if rep.Delta != nil {
		if im.st != nil {
			if err := im.st.checkPatches(rep.Delta); err != nil {
				return res, err
			}
			if err := im.st.waitLayers(); err != nil {
				return res, err
			}
			if !im.opts.DryRun {
				if err := im.st.writeLargeLayers(ctx); err != nil {
					return res, err
				}
			}
		}
		rep = fullKit(rep)
	}
	outcome, err := im.outcome(rep)
	if err != nil {
		return res, err
	}
	res.Outcome = outcome
	res.Changes = im.changes(rep)
	if im.opts.DryRun {
		return res, nil
	}

	t2 := im.now()
	st, err := im.state(rep, res)
	if err != nil {
		return res, err
	}
	// The other indexes while the record indexes started during the
	// verification may still be built.
	built, err := im.s.buildIndexes(ctx, IndexKit{Channel: rep.Channel, Created: derefTime(rep.Created), At: im.opts.At, Carried: carriedOf(rep)}, rep.Targets, im.st.open)
	if err != nil {
		return res, err
	}
	ti := im.now()
	if err := early.wait(); err != nil {
		return res, err
	}
	// (A layered file's record index is written by the commit.)
	if err := im.s.ensureRecordIndexes(ctx, slices.DeleteFunc(slices.Clone(rep.Targets), func(t verify.Target) bool { return im.layered(t.SHA256) != nil }), im.st.sourceOf); err != nil {
		return res, err
	}
	res.Timings.Index = im.now().Sub(ti)
	// A delta's own description is not a file of the kit it stands for.
	// (No build reads a staging file any more.)
	im.st.dropUnreferenced(rep.Targets)
	t2 = t2.Add(res.Timings.Index)
	if err := im.st.place(); err != nil {
		return res, err
	}
	t3 := im.now()
	res.Timings.Stage += t3.Sub(t2)

	rc := im.receipt(rep, res, outcome)
	err = im.s.update(ctx, func(tx *bolt.Tx) error { return im.commit(tx, rep, st, built, rc) })
	if err != nil {
		return res, err
	}
	res.Timings.Commit = im.now().Sub(t3)
	res.Receipt = rc
	im.s.log.Info("imported kit", "channel", rc.Channel, "version", rc.Version, "outcome", outcome, "receipt", rc.Seq)
	return res, nil
}

// layered returns the layer the import made of the file sha, or nil.
func (im *importer) layered(sha string) *pendingLayer {
	if im.st == nil {
		return nil
	}
	return im.st.layered(sha)
}

// TrustFor implements verify.TrustSource: the store's trust state for a
// known channel, else the pinned root.
func (im *importer) TrustFor(channel string) (verify.Trust, error) {
	im.channel = channel
	var trust verify.Trust
	found := false
	if im.s.exists() {
		err := im.s.view(context.Background(), func(tx *bolt.Tx) error {
			if trust, found = readTrust(tx, channel); !found {
				return nil
			}
			im.prevTS = trust.Timestamp
			var err error
			if im.prev, err = getChannel(tx, channel); err != nil {
				return err
			}
			im.prevFiles = map[string]fileRec{}
			return channelFiles(tx, channel, func(p string, f fileRec) error {
				im.prevFiles[p] = f
				return nil
			})
		})
		if err != nil {
			return verify.Trust{}, err
		}
	}
	if !found {
		if im.opts.Root == nil {
			return verify.Trust{}, bundle.Errorf(bundle.CodeUnknownChannel, "",
				"channel %q is not in the store %s: its root must be pinned on the channel's first import", channel, im.s.dir)
		}
		im.pinned = true
		return verify.Trust{Root: im.opts.Root}, nil
	}
	if im.prev == nil || trust.Root == nil {
		return verify.Trust{}, fmt.Errorf("%s: channel %s has trust but no state: the store is damaged", im.s.dir, channel)
	}
	if im.opts.Root != nil {
		if err := checkGivenRoot(im.s.dir, channel, im.opts.Root, trust); err != nil {
			return verify.Trust{}, err
		}
	}
	if im.opts.ForceActivate {
		// Without the last timestamp and snapshot go-tuf does not apply its
		// rollback rules; outcome applies the forced decision instead.
		trust.Timestamp, trust.Snapshot = nil, nil
	}
	return trust, nil
}

var _ verify.TrustSource = (*importer)(nil)

// outcome decides what the verified kit does to the channel.
func (im *importer) outcome(rep *verify.Report) (string, error) {
	prev := im.prev
	switch {
	case prev == nil:
		return OutcomeActivated, nil
	case rep.SameAsTrusted, rep.Version == prev.Version && rep.TargetsSHA256 == prev.TargetsSHA256:
		return OutcomeUnchanged, nil
	case rep.Version > prev.Version:
		return OutcomeActivated, nil
	case im.opts.ForceActivate:
		return OutcomeForceActivated, nil
	}
	what := "an older kit"
	if rep.Version == prev.Version {
		what = "the same version with different content"
	}
	return "", fmt.Errorf("refused: %w", bundle.Errorf(bundle.CodeRollback, "",
		"channel %s: version %d is %s than the active version %d; only a forced activation with a reason activates it",
		rep.Channel, rep.Version, what, prev.Version))
}

// changes compares the kit with the channel's active kit.
func (im *importer) changes(rep *verify.Report) *Changes {
	c := &Changes{Channel: rep.Channel, ToVersion: rep.Version, NewChannel: im.prev == nil}
	if im.prev != nil {
		c.FromVersion = im.prev.Version
	}
	inKit := map[string]bool{}
	seen := map[string]bool{}
	for _, t := range rep.Targets {
		inKit[t.Path] = true
		old, ok := im.prevFiles[t.Path]
		switch {
		case !ok:
			c.Added++
		case old.SHA256 != t.SHA256:
			c.Changed++
		default:
			c.Unchanged++
		}
		if seen[t.SHA256] {
			continue
		}
		seen[t.SHA256] = true
		if pl := im.layered(t.SHA256); pl != nil {
			// Stored as a layer: what is new is the patch it reads.
			c.NewBlobs++
			c.NewBlobBytes += pl.patchLen
		} else if _, err := os.Stat(im.s.blobPath(t.SHA256)); err != nil {
			c.NewBlobs++
			c.NewBlobBytes += t.Length
		}
	}
	for p := range im.prevFiles {
		if !inKit[p] {
			c.Removed++
		}
	}
	return c
}

// state builds the channel's new state, reading kit.json from staging.
func (im *importer) state(rep *verify.Report, res *ImportResult) (*channelState, error) {
	st := &channelState{
		Channel: rep.Channel, Name: rep.Name, Version: rep.Version,
		Created: rep.Created.UTC(), Expires: rep.Expires.UTC(), RootVersion: rep.RootVersion,
		TargetsSHA256: rep.TargetsSHA256, KitSHA256: res.KitSHA256, ImportedAt: im.opts.realTime(),
		Counts: rep.Counts, DataTime: map[string]time.Time{},
	}
	if im.opts.clockPinned() {
		st.VerifiedAt = im.opts.At.UTC()
	}
	if im.opts.Reason != "" {
		st.Reason, st.Operator = im.opts.Reason, im.opts.Operator
	}
	for typ := range rep.Counts {
		st.DataTime[typ] = st.Created
	}
	for _, t := range rep.Targets {
		if t.Path != manifest.Path {
			continue
		}
		f, err := os.Open(im.st.sourceOf(t))
		if err != nil {
			return nil, err
		}
		man, err := manifest.Read(io.LimitReader(f, t.Length))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("the kit verified, but: %w", err)
		}
		for _, typ := range sortedKeys(man.Freshness) {
			d := man.Freshness[typ]
			if _, err := manifest.ParseDuration(d); err != nil {
				return nil, fmt.Errorf("the kit verified, but %s: freshness.%s: %w", manifest.Path, typ, err)
			}
			if st.Freshness == nil {
				st.Freshness = map[string]string{}
			}
			st.Freshness[typ] = d
		}
		for _, src := range man.Sources {
			st.Sources = append(st.Sources, SourceDigest{Name: src.Name, Kind: src.Kind, From: src.From, Digest: src.Digest, FetchedAt: src.FetchedAt})
			if src.FetchedAt == "" || src.Dest == "" {
				continue
			}
			at, err := time.Parse(time.RFC3339, src.FetchedAt)
			if err != nil {
				return nil, fmt.Errorf("the kit verified, but %s: source %s: fetchedAt %q is not RFC 3339", manifest.Path, src.Name, src.FetchedAt)
			}
			typ := bundle.ContentType(src.Dest)
			if cur, ok := st.DataTime[typ]; ok && at.Before(cur) {
				st.DataTime[typ] = at.UTC()
			}
		}
	}
	return st, nil
}

func (im *importer) receipt(rep *verify.Report, res *ImportResult, outcome string) *Receipt {
	checks := slices.Clone(Checks)
	if outcome == OutcomeForceActivated {
		checks[slices.Index(checks, CheckRollback)] = CheckRollbackOverridden
	}
	if im.opts.clockPinned() {
		checks[slices.Index(checks, CheckExpiry)] = CheckExpiryPinnedClock
	}
	rc := &Receipt{
		Schema: ReceiptSchema, Time: im.opts.realTime(), Operator: im.opts.Operator, Source: im.opts.Source,
		Outcome: outcome, Reason: im.opts.Reason, Channel: rep.Channel, Name: rep.Name, Version: rep.Version,
		PinnedRoot: im.pinned, RootVersion: rep.RootVersion, KitSHA256: res.KitSHA256, KitBytes: res.KitBytes,
		TargetsSHA256: rep.TargetsSHA256, SignerKeyIDs: rep.SignerKeyIDs, Checks: checks, Counts: rep.Counts,
	}
	if im.opts.clockPinned() {
		rc.VerifiedAt = im.opts.At.UTC()
	}
	if rc.SignerKeyIDs == nil {
		rc.SignerKeyIDs = []string{}
	}
	if rep.Delta != nil {
		base := rep.Delta.Base
		rc.DeltaOf = &base
	}
	if im.prev != nil {
		rc.PreviousVersion = im.prev.Version
	}
	return rc
}

// commit is the import's one write transaction.
func (im *importer) commit(tx *bolt.Tx, rep *verify.Report, st *channelState, built []builtIndex, rc *Receipt) error {
	if im.st != nil {
		if err := im.st.putLayers(tx); err != nil {
			return err
		}
	}
	ch := []byte(rep.Channel)
	tb := tx.Bucket(bucketTrust).Bucket(ch)
	var curTS []byte
	if tb != nil {
		curTS = tb.Get(keyTimestamp)
	}
	if (tb == nil) != (im.prev == nil) || !bytes.Equal(curTS, im.prevTS) {
		return fmt.Errorf("%s: %w: channel %s was changed by another writer; run the import again", im.s.dir, ErrChanged, rep.Channel)
	}
	log := tx.Bucket(bucketLog)
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	rc.Seq = seq
	if err := putJSON(log, seqKey(seq), rc); err != nil {
		return err
	}
	if rc.Outcome == OutcomeUnchanged {
		return nil
	}
	st.Receipt = seq
	if err := archiveActive(tx, rep.Channel); err != nil { // store/history.go
		return err
	}
	md := rep.Metadata()
	if err := replaceBucket(tx.Bucket(bucketTrust), ch, func(b *bolt.Bucket) error { return putTrust(b, md) }); err != nil {
		return err
	}
	if err := putJSON(tx.Bucket(bucketChannels), ch, st); err != nil {
		return err
	}
	for _, t := range recordFiles(rep.Targets) {
		// Built before the commit under the import lock; checked here so
		// that the commit never names an index it does not hold.
		if _, err := recordIndex(tx, t.SHA256); err != nil {
			return fmt.Errorf("%s: %s: %w", im.s.dir, t.Path, err)
		}
	}
	targets := slices.Clone(rep.Targets)
	slices.SortFunc(targets, func(a, b verify.Target) int { return bytes.Compare([]byte(a.Path), []byte(b.Path)) })
	if err := replaceBucket(tx.Bucket(bucketFiles), ch, func(b *bolt.Bucket) error {
		for _, t := range targets {
			if err := putJSON(b, []byte(t.Path), fileRec{SHA256: t.SHA256, Length: t.Length, Custom: t.Custom}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return writeIndexes(tx, rep.Channel, built)
}

// hashCounter hashes and counts what is read through it.
type hashCounter struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *hashCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func orUnnamed(source string) string {
	if source == "" {
		return "the kit"
	}
	return source
}

// carriedOf returns what verify re-verified of the kit's carried trust,
// never nil for a verified kit (nil would make buildIndexes check again).
func carriedOf(rep *verify.Report) *verify.Carried {
	if rep.Delta != nil {
		// A delta's trust material is checked with the base's files.
		return nil
	}
	if rep.Carried == nil {
		return &verify.Carried{}
	}
	return rep.Carried
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
