package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// Trust is what a kit is verified against.
type Trust struct {
	// Root is the trusted root metadata of the channel (any version): pinned
	// out of band on first use, afterwards the store's.
	Root []byte
	// Timestamp and Snapshot are the last trusted metadata of the channel
	// (from the store), or nil. With them, a kit older than the last one
	// imported is refused with KIT_ROLLBACK.
	Timestamp []byte
	Snapshot  []byte
}

// Target is a content entry listed in the signed targets.
type Target struct {
	Path   string          `json:"path"`
	Length int64           `json:"length"`
	SHA256 string          `json:"sha256"`
	Type   string          `json:"type"`
	Custom json.RawMessage `json:"custom,omitempty"`
}

// ContentFunc receives each listed content entry while it is verified: r
// yields exactly the entry's bytes, which are being hashed as they are read.
// The bytes are NOT verified until Kit returns a report with OK set: a
// ContentFunc stages them, never uses them. It need not read r to the end.
type ContentFunc func(t Target, r io.Reader) error

// Options configures Kit.
type Options struct {
	// At is the time to check expiry against. Required.
	At time.Time
	// Content, if set, receives every listed content entry.
	Content ContentFunc
}

// Metadata is the verified TUF metadata of a kit, as bytes, for the store.
type Metadata struct {
	Roots     [][]byte // the root chain the kit carried
	Root      []byte   // the final trusted root
	Timestamp []byte
	Snapshot  []byte
	Targets   []byte
}

// TrustSource gives the trust to verify a kit of a channel against. TrustFor
// is called once, after the kit's TUF metadata has been read and before
// any of it is trusted, with the channel the kit claims. It returns an
// error wrapping a *bundle.Error with code KIT_UNKNOWN_CHANNEL when it has
// no trust for the channel.
type TrustSource interface {
	TrustFor(channel string) (Trust, error)
}

// Static returns a TrustSource that gives t for every channel (a root pinned
// with --root); a kit of another channel fails with KIT_UNKNOWN_CHANNEL
// because t's root names its own channel.
func Static(t Trust) TrustSource { return staticTrust{t} }

type staticTrust struct{ t Trust }

func (s staticTrust) TrustFor(string) (Trust, error) { return s.t, nil }

// Kit verifies the kit read from r against the trust that src gives for the
// kit's channel. It returns a report in every case where it could read
// something; err is non-nil only for failures outside the kit (a
// ContentFunc error, a cancelled context). The kit is good when report.OK.
func Kit(ctx context.Context, r io.Reader, src TrustSource, opts Options) (*Report, error) {
	if opts.At.IsZero() {
		return nil, errors.New("verify: no reference time given")
	}
	br, err := bundle.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	v := &verifier{ctx: ctx, br: br, src: src, opts: opts, rep: newReport(opts.At)}
	if err := v.run(); err != nil {
		return nil, err
	}
	v.rep.finish()
	return v.rep, nil
}

type verifier struct {
	ctx   context.Context
	br    *bundle.Reader
	src   TrustSource
	trust Trust
	opts  Options
	rep   *Report

	targets map[string]*metadata.TargetFiles
}

// rawMeta is the kit's TUF metadata as read, not yet trusted.
type rawMeta struct {
	roots                       [][]byte
	timestamp, snapshot, target []byte
}

// run returns only errors that are not about the kit.
func (v *verifier) run() error {
	raw, ok := v.readMetadata()
	if !ok {
		return nil
	}
	channel, err := claimedChannel(raw.target)
	if err != nil {
		v.fail(bundle.CodeMalformed, bundle.TargetsPath, "%v", err)
		return nil
	}
	v.trust, err = v.src.TrustFor(channel)
	if err != nil {
		var e *bundle.Error
		if errors.As(err, &e) {
			v.rep.add(e)
			return nil
		}
		return err
	}
	if !v.metadataPhase(raw) {
		return nil
	}
	return v.contentPhase()
}

func (v *verifier) fail(code bundle.Code, entry, format string, args ...any) {
	v.rep.add(bundle.Errorf(code, entry, format, args...))
}

func (v *verifier) failErr(err error) {
	var e *bundle.Error
	if errors.As(err, &e) {
		v.rep.add(e)
		return
	}
	v.fail(bundle.CodeMalformed, "", "%v", err)
}

// next returns the next entry, recording entry-level failures and going on.
// It returns nil at the end or when the stream is broken.
func (v *verifier) next() *bundle.Entry {
	for {
		e, err := v.br.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			v.failErr(err)
			if v.br.Err() != nil {
				return nil
			}
			continue
		}
		return e
	}
}

func (v *verifier) readMeta(e *bundle.Entry) ([]byte, bool) {
	b, err := v.br.ReadAll(bundle.MaxMetadataSize)
	if err != nil {
		v.failErr(err)
		return nil, false
	}
	return b, true
}

// readMetadata reads the TUF entries, which must come first and in the
// order roots (1, 2, …), timestamp, snapshot, targets. Nothing is trusted yet.
func (v *verifier) readMetadata() (*rawMeta, bool) {
	raw := &rawMeta{}
	e := v.next()
	for ; e != nil; e = v.next() {
		ver, ok := rootVersion(e.Name)
		if !ok {
			break
		}
		if want := int64(len(raw.roots) + 1); ver != want {
			if want == 1 {
				v.fail(bundle.CodeMalformed, e.Name, "the root chain must start at version 1")
			} else {
				v.fail(bundle.CodeMalformed, e.Name, "root chain has a gap: expected %s", bundle.RootPath(want))
			}
			return nil, false
		}
		data, ok := v.readMeta(e)
		if !ok {
			return nil, false
		}
		raw.roots = append(raw.roots, data)
	}
	if e == nil {
		v.missingMeta()
		return nil, false
	}
	if len(raw.roots) == 0 {
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			v.fail(bundle.CodeMalformed, e.Name, "the kit must start with its root chain (%s)", bundle.RootPath(1))
		} else {
			v.fail(bundle.CodeMalformed, e.Name, "content before the TUF metadata: the kit must start with %s", bundle.RootPath(1))
		}
		return nil, false
	}
	var ok bool
	if raw.timestamp, ok = v.expectMeta(e, bundle.TimestampPath); !ok {
		return nil, false
	}
	if raw.snapshot, ok = v.expectMeta(v.next(), bundle.SnapshotPath); !ok {
		return nil, false
	}
	if raw.target, ok = v.expectMeta(v.next(), bundle.TargetsPath); !ok {
		return nil, false
	}
	return raw, true
}

// claimedChannel returns the channel that unverified targets metadata names.
func claimedChannel(targets []byte) (string, error) {
	var m struct {
		Signed struct {
			Kit struct {
				Channel string `json:"channel"`
			} `json:"kit"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(targets, &m); err != nil {
		return "", fmt.Errorf("not valid JSON: %v", err)
	}
	if m.Signed.Kit.Channel == "" {
		return "", errors.New("the targets metadata names no channel")
	}
	return m.Signed.Kit.Channel, nil
}

// metadataPhase verifies the TUF metadata against the trust. It reports
// whether the content can be checked.
func (v *verifier) metadataPhase(raw *rawMeta) bool {
	tm, err := trustedmetadata.New(v.trust.Root)
	if err != nil {
		v.fail(bundle.CodeMalformed, "", "the trusted root does not load: %v", err)
		return false
	}
	tm.RefTime = v.opts.At
	pinned := tm.Root.Signed.Version
	pinnedChannel := channelOf(tm.Root)
	roots := raw.roots

	// 1. Root chain: versions up to the pinned one must match it; later
	// ones must each be signed by their predecessor and themselves.
	if int64(len(roots)) < pinned {
		v.fail(bundle.CodeRollback, bundle.RootPath(int64(len(roots))), "the kit's root chain ends at version %d, older than the trusted root version %d", len(roots), pinned)
		return false
	}
	for i, data := range roots {
		ver := int64(i + 1)
		name := bundle.RootPath(ver)
		switch {
		case ver < pinned:
		case ver == pinned:
			if !bytes.Equal(data, v.trust.Root) && !sameSigned(data, v.trust.Root) {
				v.fail(bundle.CodeSignatureInvalid, name, "differs from the trusted root of the same version: the kit belongs to another root")
				return false
			}
		default:
			prev := tm.Root
			if _, err := tm.UpdateRoot(data); err != nil {
				v.tufFail(name, err, prev, metadata.ROOT, data)
				return false
			}
			if c := channelOf(tm.Root); c != pinnedChannel {
				v.fail(bundle.CodeUnknownChannel, name, "root changes the channel from %q to %q", pinnedChannel, c)
				return false
			}
		}
	}
	v.rep.RootVersion = tm.Root.Signed.Version
	v.rep.meta.Roots = roots

	// 2. Store trust state, if any, for rollback protection. If the kit
	// rotated the timestamp or snapshot keys, the old state no longer
	// verifies under the new root (TUF 5.3.11): it is dropped, and the
	// version rule is applied by hand below instead.
	stateTS, stateSnap := v.trust.Timestamp, v.trust.Snapshot
	stateVersion := int64(0)
	if stateTS != nil {
		if old, err := metadata.Timestamp().FromBytes(stateTS); err == nil {
			stateVersion = old.Signed.Version
		}
		if _, err := tm.UpdateTimestamp(stateTS); err != nil && !errors.Is(err, &metadata.ErrExpiredMetadata{}) {
			tm = freshFrom(tm)
			stateTS, stateSnap = nil, nil
		}
	}
	if kitTS, err := metadata.Timestamp().FromBytes(raw.timestamp); err == nil && kitTS.Signed.Version < stateVersion {
		v.fail(bundle.CodeRollback, bundle.TimestampPath, "kit version %d is older than version %d, the channel's last accepted kit", kitTS.Signed.Version, stateVersion)
		return false
	}

	// 3. timestamp, snapshot, targets, in this order.
	tsData, snapData, tgtData := raw.timestamp, raw.snapshot, raw.target
	if _, err := tm.UpdateTimestamp(tsData); err != nil {
		if errors.Is(err, &metadata.ErrEqualVersionNumber{}) {
			if !bytes.Equal(tsData, stateTS) {
				v.fail(bundle.CodeRollback, bundle.TimestampPath, "a different kit with the same version was already accepted: %v", err)
				return false
			}
			// The same kit again: verify it on its own, without the state.
			v.rep.SameAsTrusted = true
			tm = freshFrom(tm)
			if _, err := tm.UpdateTimestamp(tsData); err != nil {
				v.tufFail(bundle.TimestampPath, err, tm.Root, metadata.TIMESTAMP, tsData)
				return false
			}
		} else {
			v.tufFail(bundle.TimestampPath, err, tm.Root, metadata.TIMESTAMP, tsData)
			return false
		}
	} else if stateSnap != nil {
		// The store's snapshot goes in after the kit's timestamp (go-tuf
		// refuses a timestamp after a snapshot), as go-tuf's updater loads
		// its local snapshot: it is kept even when go-tuf then says it is
		// not the final one (version, expiry), so that the kit's snapshot
		// below cannot roll back a version it lists. If it does not verify
		// under the kit's root at all, it is left out.
		_, _ = tm.UpdateSnapshot(stateSnap, true)
	}
	if _, err := tm.UpdateSnapshot(snapData, false); err != nil {
		v.tufFail(bundle.SnapshotPath, err, tm.Root, metadata.SNAPSHOT, snapData)
		return false
	}
	targets, err := tm.UpdateTargets(tgtData)
	if err != nil {
		v.tufFail(bundle.TargetsPath, err, tm.Root, metadata.TARGETS, tgtData)
		return false
	}
	v.rep.meta.Root = v.trust.Root
	if final := tm.Root.Signed.Version; final > pinned {
		v.rep.meta.Root = roots[final-1]
	}
	v.rep.meta.Timestamp, v.rep.meta.Snapshot, v.rep.meta.Targets = tsData, snapData, tgtData
	sum := sha256.Sum256(tgtData)
	v.rep.TargetsSHA256 = hex.EncodeToString(sum[:])
	v.rep.SignerKeyIDs = validSigners(tm.Root, metadata.TARGETS, targets)

	// 4. The kit description inside the signed targets.
	info, err := kitInfo(targets)
	if err != nil {
		v.fail(bundle.CodeMalformed, bundle.TargetsPath, "%v", err)
		return false
	}
	v.rep.setInfo(info)
	if info.Channel != pinnedChannel {
		v.fail(bundle.CodeUnknownChannel, bundle.TargetsPath, "the kit is for channel %q but the trusted root is for channel %q", info.Channel, pinnedChannel)
		return false
	}
	if info.Version != targets.Signed.Version {
		v.fail(bundle.CodeMalformed, bundle.TargetsPath, "kit version %d differs from the targets version %d", info.Version, targets.Signed.Version)
		return false
	}

	// 5. Every target: a safe path and a sha256 hash, nothing else.
	var budget int64 = 64 << 10
	v.targets = targets.Signed.Targets
	paths := make([]string, 0, len(v.targets))
	for p := range v.targets {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	bad := false
	for _, p := range paths {
		t := v.targets[p]
		if why := bundle.CheckPath(p); why != "" || strings.HasPrefix(p, bundle.MetaDir) {
			if why == "" {
				why = "reserved for TUF metadata"
			}
			v.fail(bundle.CodeUnsafePath, p, "targets.json lists an unsafe path: %s", why)
			bad = true
			continue
		}
		if h, ok := t.Hashes["sha256"]; !ok || len(h) != sha256.Size || len(t.Hashes) != 1 {
			v.fail(bundle.CodeMalformed, p, "a target must carry exactly one hash, sha256")
			bad = true
			continue
		}
		if t.Length < 0 || t.Length > maxTargetLength {
			v.fail(bundle.CodeMalformed, p, "length %d is out of range", t.Length)
			bad = true
			continue
		}
		budget += t.Length + 3*512 + 2*int64(len(p)) + 1024
	}
	if bad {
		return false
	}
	v.br.SetBudget(budget)
	return true
}

// maxTargetLength caps one target (1 PiB): with it the budget sum below
// cannot overflow for any realistic number of targets.
const maxTargetLength = 1 << 50

// freshFrom returns trusted metadata holding only tm's (verified) root.
func freshFrom(tm *trustedmetadata.TrustedMetadata) *trustedmetadata.TrustedMetadata {
	return &trustedmetadata.TrustedMetadata{
		Root:    tm.Root,
		Targets: map[string]*metadata.Metadata[metadata.TargetsType]{},
		RefTime: tm.RefTime,
	}
}

// missingMeta reports a kit that ends (or breaks) inside its metadata.
func (v *verifier) missingMeta() {
	if v.br.Err() == nil {
		v.fail(bundle.CodeMalformed, "", "the kit ends before its TUF metadata is complete")
	}
}

// expectMeta checks that e is the metadata entry name and reads it.
func (v *verifier) expectMeta(e *bundle.Entry, name string) ([]byte, bool) {
	if e == nil {
		v.missingMeta()
		return nil, false
	}
	if e.Name != name {
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			v.fail(bundle.CodeMalformed, e.Name, "expected %s here: TUF metadata must come in the order roots, timestamp, snapshot, targets", name)
		} else {
			v.fail(bundle.CodeMalformed, e.Name, "content before the TUF metadata: expected %s", name)
		}
		return nil, false
	}
	return v.readMeta(e)
}

func (v *verifier) contentPhase() error {
	seen := make(map[string]bool, len(v.targets))
	buf := make([]byte, 256<<10)
	for {
		if err := v.ctx.Err(); err != nil {
			return err
		}
		e := v.next()
		if e == nil {
			break
		}
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			v.fail(bundle.CodeUnexpectedEntry, e.Name, "unexpected TUF metadata entry")
			continue
		}
		t, ok := v.targets[e.Name]
		if !ok {
			v.fail(bundle.CodeUnexpectedEntry, e.Name, "entry is not listed in the signed targets")
			continue
		}
		seen[e.Name] = true
		if e.Size != t.Length {
			v.fail(bundle.CodeSizeMismatch, e.Name, "entry holds %d bytes, targets.json says %d", e.Size, t.Length)
			continue
		}
		want := []byte(t.Hashes["sha256"])
		tgt := Target{Path: e.Name, Length: t.Length, SHA256: hex.EncodeToString(want), Type: bundle.ContentType(e.Name)}
		if t.Custom != nil {
			tgt.Custom = *t.Custom
		}
		h := sha256.New()
		hr := &hashingReader{r: v.br, h: h}
		if v.opts.Content != nil {
			if err := v.opts.Content(tgt, hr); err != nil {
				if v.br.Err() != nil {
					v.failErr(v.br.Err())
					break
				}
				return fmt.Errorf("%s: %w", e.Name, err)
			}
		}
		if _, err := io.CopyBuffer(io.Discard, hr, buf); err != nil {
			v.failErr(err)
			break
		}
		if got := h.Sum(nil); !bytes.Equal(got, want) {
			v.fail(bundle.CodeDigestMismatch, e.Name, "sha256 is %x, targets.json says %x", got, want)
			continue
		}
		v.rep.count(tgt)
	}
	if v.br.Err() != nil {
		return nil
	}
	var missing []string
	for p := range v.targets {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	for _, p := range missing {
		v.fail(bundle.CodeMissingTarget, p, "listed in targets.json but not in the kit")
	}
	return nil
}

type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

func rootVersion(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, bundle.MetaDir)
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, ".root.json")
	if !ok || num == "" || len(num) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if num[0] == '0' || v < 1 {
		return 0, false
	}
	return v, true
}

func channelOf(root *metadata.Metadata[metadata.RootType]) string {
	f, ok := root.Signed.UnrecognizedFields["x-ferry"].(map[string]any)
	if !ok {
		return ""
	}
	s, _ := f["channel"].(string)
	return s
}

// sameSigned reports whether two roots carry the same signed part (the
// signatures may legitimately differ, e.g. re-serialised).
func sameSigned(a, b []byte) bool {
	ra, err1 := metadata.Root().FromBytes(a)
	rb, err2 := metadata.Root().FromBytes(b)
	if err1 != nil || err2 != nil {
		return false
	}
	ja, err1 := json.Marshal(ra.Signed)
	jb, err2 := json.Marshal(rb.Signed)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func kitInfo(t *metadata.Metadata[metadata.TargetsType]) (bundle.Info, error) {
	var info bundle.Info
	raw, ok := t.Signed.UnrecognizedFields[bundle.KitField]
	if !ok {
		return info, errors.New("the signed targets carry no kit description")
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return info, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		return info, fmt.Errorf("kit description: %w", err)
	}
	if info.Format != bundle.FormatVersion {
		return info, fmt.Errorf("kit format %d is not supported (this ferry reads format %d)", info.Format, bundle.FormatVersion)
	}
	return info, nil
}
