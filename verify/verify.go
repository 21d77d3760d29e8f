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
	"testing/fstest"
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
	// Roots, if not empty, is the trusted root chain that ends with Root,
	// oldest first (Metadata.Roots of the kit that set the state). A kit's
	// roots of these versions must be byte for byte their canonical form;
	// its roots below them can only be checked by the chain.
	Roots [][]byte
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

// A DigestReader is the reader a ContentFunc receives: SHA256 is the
// sha256 of the bytes it yielded so far. A ContentFunc that read it to its
// end may compare it with the target's to stop at the first entry that is
// not what targets.json says, without hashing the bytes a second time.
type DigestReader interface {
	io.Reader
	SHA256() []byte
}

var _ DigestReader = (*hashingReader)(nil)

// Options configures Kit.
type Options struct {
	// At is the time to check expiry against. Required.
	At time.Time
	// Content, if set, receives every listed content entry.
	Content ContentFunc
	// Attestations re-verifies the attestation records a kit carries
	// (CheckCarried). When nil, a kit that carries one makes Kit return
	// ErrNoAttestationVerifier.
	Attestations AttestationVerifier
	// Store, if set, is the site a delta kit is checked against: its base
	// (KIT_BASE_MISMATCH) and the content it leaves out (KIT_BLOB_MISSING).
	Store DeltaStore
}

// Metadata is the verified TUF metadata of a kit, as bytes, for the store.
// Every byte of it is authenticated (see bundle.ParseMetadata).
type Metadata struct {
	// Roots is the trusted root chain, oldest first, ending with Root: the
	// kit's roots from the lowest version the trust held a copy of (else
	// the pinned version) on. Roots below it are left out: a root pinned
	// out of band vouches for the roots after it, not for those before.
	Roots     [][]byte
	Root      []byte // the final trusted root
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
// ContentFunc error, a cancelled context, ErrNoAttestationVerifier for a
// kit that carries attestations when opts has no verifier). The kit is
// good when report.OK.
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
	defer func() {
		if v.parsed != nil {
			<-v.parsed.done // nothing Kit started outlives it
		}
	}()
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
	// root is the trusted root the kit's metadata verified with.
	root *metadata.Metadata[metadata.RootType]
	// parsed is a delta kit's delta.json, once read and verified.
	parsed *parsedDelta
}

// rawMeta is the kit's TUF metadata as read, not yet trusted, and as
// parsed by bundle.ParseMetadata (canonical form checked).
type rawMeta struct {
	roots                       [][]byte
	timestamp, snapshot, target []byte

	pRoots     []*metadata.Metadata[metadata.RootType]
	pTimestamp *metadata.Metadata[metadata.TimestampType]
	pSnapshot  *metadata.Metadata[metadata.SnapshotType]
	pTargets   *metadata.Metadata[metadata.TargetsType]
}

// run returns only errors that are not about the kit.
func (v *verifier) run() error {
	raw, ok := v.readMetadata()
	if !ok || !v.parseMetadata(raw) {
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
func (v *verifier) next() *bundle.Entry { return v.nextAfter(nil) }

// nextAfter is next that calls before, if not nil, before it reports a
// failure: the content phase applies the outcomes of the entries still
// being hashed first, to keep the report in kit order.
func (v *verifier) nextAfter(before func()) *bundle.Entry {
	for {
		e, err := v.br.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if before != nil {
				before()
			}
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

// parseMetadata parses every metadata entry and checks that it is in the
// canonical form (bundle.ParseMetadata): a signature covers only the
// signed part as go-tuf re-encodes it, so any other byte of an entry
// (whitespace, key order, escapes, an unknown field, an extra signature,
// trailing bytes) would otherwise pass unauthenticated. It reports every
// entry that fails, as KIT_MALFORMED.
func (v *verifier) parseMetadata(raw *rawMeta) bool {
	ok := true
	check := func(name string, err error) {
		if err != nil {
			v.fail(bundle.CodeMalformed, name, "%v", err)
			ok = false
		}
	}
	for i, data := range raw.roots {
		name := bundle.RootPath(int64(i + 1))
		r, err := bundle.ParseMetadata[metadata.RootType](data)
		if err == nil && r.Signed.Version != int64(i+1) {
			err = fmt.Errorf("holds root version %d", r.Signed.Version)
		}
		check(name, err)
		raw.pRoots = append(raw.pRoots, r)
	}
	var err error
	raw.pTimestamp, err = bundle.ParseMetadata[metadata.TimestampType](raw.timestamp)
	check(bundle.TimestampPath, err)
	raw.pSnapshot, err = bundle.ParseMetadata[metadata.SnapshotType](raw.snapshot)
	check(bundle.SnapshotPath, err)
	raw.pTargets, err = bundle.ParseMetadata[metadata.TargetsType](raw.target)
	check(bundle.TargetsPath, err)
	return ok
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

	// 1. Root chain. Versions the trust holds a copy of must be that copy
	// in canonical form, byte for byte; versions below them must chain up
	// to the lowest copy; later versions must each be signed by their
	// predecessor and themselves. Every signature on a root must be by a
	// root key of the root or of its predecessor, and verify.
	if int64(len(roots)) < pinned {
		v.fail(bundle.CodeRollback, bundle.RootPath(int64(len(roots))), "the kit's root chain ends at version %d, older than the trusted root version %d", len(roots), pinned)
		return false
	}
	copies, low := v.trustedRoots(tm.Root)
	for ver := low; ver <= pinned; ver++ {
		if !bytes.Equal(roots[ver-1], copies[ver]) {
			what := "the trusted root"
			if ver < pinned {
				what = "the trusted copy of this root"
			}
			v.fail(bundle.CodeSignatureInvalid, bundle.RootPath(ver), "differs from %s of the same version: the kit belongs to another root", what)
			return false
		}
	}
	if low > 1 && !v.lowerChain(raw, low) {
		return false
	}
	for ver := pinned + 1; ver <= int64(len(roots)); ver++ {
		name, data := bundle.RootPath(ver), roots[ver-1]
		prev := tm.Root
		if _, err := tm.UpdateRoot(data); err != nil {
			v.tufFail(name, err, prev, metadata.ROOT, data)
			return false
		}
		if c := channelOf(tm.Root); c != pinnedChannel {
			v.fail(bundle.CodeUnknownChannel, name, "root changes the channel from %q to %q", pinnedChannel, c)
			return false
		}
		if msg := signatureProblem(raw.pRoots[ver-1], metadata.ROOT, prev, tm.Root); msg != "" {
			v.fail(bundle.CodeSignatureInvalid, name, "%s", msg)
			return false
		}
	}
	v.rep.RootVersion = tm.Root.Signed.Version
	v.rep.meta.Roots = roots[low-1:]

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
	if kitTS := raw.pTimestamp; kitTS.Signed.Version < stateVersion {
		v.fail(bundle.CodeRollback, bundle.TimestampPath, "kit version %d is older than version %d, the channel's last accepted kit", kitTS.Signed.Version, stateVersion)
		return false
	}

	// 3. timestamp, snapshot, targets, in this order.
	tsData, snapData, tgtData := raw.timestamp, raw.snapshot, raw.target
	if _, err := tm.UpdateTimestamp(tsData); err != nil {
		if errors.Is(err, &metadata.ErrEqualVersionNumber{}) {
			if !sameSigned[metadata.TimestampType](tsData, stateTS) {
				v.fail(bundle.CodeRollback, bundle.TimestampPath, "a different kit with the same version was already accepted: %v", err)
				return false
			}
			// The same kit again (what was signed is the same; the state
			// is compared by that, not by its bytes): verify it on its
			// own, without the state.
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
	}
	if !v.allSigned(bundle.TimestampPath, signatureProblem(raw.pTimestamp, metadata.TIMESTAMP, tm.Root)) {
		return false
	}
	if stateSnap != nil && !v.rep.SameAsTrusted {
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
	if !v.allSigned(bundle.SnapshotPath, signatureProblem(raw.pSnapshot, metadata.SNAPSHOT, tm.Root)) {
		return false
	}
	targets, err := tm.UpdateTargets(tgtData)
	if err != nil {
		v.tufFail(bundle.TargetsPath, err, tm.Root, metadata.TARGETS, tgtData)
		return false
	}
	if !v.allSigned(bundle.TargetsPath, signatureProblem(raw.pTargets, metadata.TARGETS, tm.Root)) {
		return false
	}
	v.root = tm.Root
	v.rep.meta.Root = roots[len(roots)-1]
	v.rep.meta.Timestamp, v.rep.meta.Snapshot, v.rep.meta.Targets = tsData, snapData, tgtData
	sum := sha256.Sum256(tgtData)
	v.rep.TargetsSHA256 = hex.EncodeToString(sum[:])
	// Every signature is by a targets key of tm.Root and verifies (just
	// checked), and ParseMetadata holds them sorted and unique: they are
	// the signers, without verifying each of them a third time.
	v.rep.SignerKeyIDs = make([]string, len(raw.pTargets.Signatures))
	for i, sig := range raw.pTargets.Signatures {
		v.rep.SignerKeyIDs[i] = sig.KeyID
	}

	// 4. The kit description inside the signed targets.
	info, err := bundle.KitInfo(targets)
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
	// Every entry read so far carried the first one's mtime (the reader
	// holds them to it); the format makes it the kit's created time.
	if mt, created := v.br.ModTime(), info.Created.UTC().Truncate(time.Second); !mt.Equal(created) {
		v.fail(bundle.CodeMalformed, bundle.RootPath(1), "the tar mtime of the kit's entries, %s, is not the kit's created time %s",
			mt.UTC().Format(time.RFC3339), created.Format(time.RFC3339))
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
		budget += bundle.EntryBudget(p, t.Length)
	}
	if bad {
		return false
	}
	v.br.SetBudget(budget)
	return true
}

// trustedRoots returns the canonical form of the trust's copies of roots,
// by version, and the lowest version from which on it holds a copy of
// every root up to pinned, the pinned root itself included. A stored copy
// that does not parse or that ferry would not write is left out: that
// version is then checked by the chain like a root the trust never held.
func (v *verifier) trustedRoots(pinned *metadata.Metadata[metadata.RootType]) (map[int64][]byte, int64) {
	copies := map[int64][]byte{}
	top := pinned.Signed.Version
	if b, err := bundle.EncodeMetadata(pinned); err == nil {
		copies[top] = b
	}
	for _, data := range v.trust.Roots {
		r, err := metadata.Root().FromBytes(data)
		if err != nil || r.Signed.Version >= top {
			continue
		}
		if b, err := bundle.EncodeMetadata(r); err == nil {
			copies[r.Signed.Version] = b
		}
	}
	low := top
	for low > 1 && copies[low-1] != nil {
		low--
	}
	return copies, low
}

// lowerChain checks the kit's roots below version low, of which the trust
// holds no copy: root 1 must be signed by itself, and each later root up
// to low by its predecessor and itself, all of one channel, each signature
// by a root key of the root or its predecessor. That proves they lead to
// the trusted root, not that they are the channel's genuine history, so
// they are not kept as trust state.
func (v *verifier) lowerChain(raw *rawMeta, low int64) bool {
	tm, err := trustedmetadata.New(raw.roots[0])
	if err != nil {
		v.tufFail(bundle.RootPath(1), err, raw.pRoots[0], metadata.ROOT, raw.roots[0])
		return false
	}
	if msg := signatureProblem(raw.pRoots[0], metadata.ROOT, tm.Root); msg != "" {
		v.fail(bundle.CodeSignatureInvalid, bundle.RootPath(1), "%s", msg)
		return false
	}
	channel := channelOf(tm.Root)
	for ver := int64(2); ver <= low; ver++ {
		name, data := bundle.RootPath(ver), raw.roots[ver-1]
		prev := tm.Root
		if _, err := tm.UpdateRoot(data); err != nil {
			if ver == low {
				// The trusted root is not at fault: the one before it is.
				v.fail(bundle.CodeSignatureInvalid, bundle.RootPath(ver-1), "does not lead to the trusted root version %d: %v", ver, err)
				return false
			}
			v.tufFail(name, err, prev, metadata.ROOT, data)
			return false
		}
		if c := channelOf(tm.Root); c != channel {
			v.fail(bundle.CodeSignatureInvalid, name, "root changes the channel from %q to %q", channel, c)
			return false
		}
		if ver == low {
			break // the trusted copy: compared byte for byte by the caller
		}
		if msg := signatureProblem(raw.pRoots[ver-1], metadata.ROOT, prev, tm.Root); msg != "" {
			v.fail(bundle.CodeSignatureInvalid, name, "%s", msg)
			return false
		}
	}
	return true
}

// allSigned records msg, if any, as a KIT_SIGNATURE_INVALID failure of
// entry and reports whether there was none.
func (v *verifier) allSigned(entry, msg string) bool {
	if msg != "" {
		v.fail(bundle.CodeSignatureInvalid, entry, "%s", msg)
		return false
	}
	return true
}

// signatureProblem checks every signature on m, not only the threshold
// that go-tuf counts: each must be by a key that one of roots lists for
// role, and must verify with it. An extra or broken signature would
// otherwise travel in the kit unauthenticated. It returns "" when all are
// fine, else what is wrong with the first one that is not.
func signatureProblem[T metadata.Roles](m *metadata.Metadata[T], role string, roots ...*metadata.Metadata[metadata.RootType]) string {
	for _, sig := range m.Signatures {
		listed, valid := false, false
		for _, root := range roots {
			r := root.Signed.Roles[role]
			if r == nil || !slices.Contains(r.KeyIDs, sig.KeyID) {
				continue
			}
			listed = true
			one := *root
			one.Signed.Roles = map[string]*metadata.Role{role: {KeyIDs: []string{sig.KeyID}, Threshold: 1}}
			if one.VerifyDelegate(role, m) == nil {
				valid = true
				break
			}
		}
		switch {
		case !listed:
			return fmt.Sprintf("a signature by key %s, which the root does not list for the %s role", sig.KeyID, role)
		case !valid:
			return fmt.Sprintf("the signature by key %s does not verify", sig.KeyID)
		}
	}
	return ""
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
	paths := make([]string, 0, len(v.targets))
	for p := range v.targets {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	carried := newCarriedFiles(paths)
	// Small entries are hashed on every core while this goroutine goes on
	// decompressing; their outcomes are applied in kit order, and every
	// other outcome waits for them, so the report is that of a serial pass.
	hp := newHashPool()
	defer hp.drain()
	for {
		if err := v.ctx.Err(); err != nil {
			return err
		}
		e := v.nextAfter(hp.drain)
		if e == nil {
			break
		}
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			hp.drain()
			v.fail(bundle.CodeUnexpectedEntry, e.Name, "unexpected TUF metadata entry")
			continue
		}
		t, ok := v.targets[e.Name]
		if !ok {
			hp.drain()
			v.fail(bundle.CodeUnexpectedEntry, e.Name, "entry is not listed in the signed targets")
			continue
		}
		seen[e.Name] = true
		if e.Size != t.Length {
			hp.drain()
			v.fail(bundle.CodeSizeMismatch, e.Name, "entry holds %d bytes, targets.json says %d", e.Size, t.Length)
			continue
		}
		want := []byte(t.Hashes["sha256"])
		tgt := Target{Path: e.Name, Length: t.Length, SHA256: hex.EncodeToString(want), Type: bundle.ContentType(e.Name)}
		if t.Custom != nil {
			tgt.Custom = *t.Custom
		}
		isDelta := e.Name == bundle.DeltaPath && v.rep.Base != nil
		if v.opts.Content == nil && !carried.wants(e.Name) && !isDelta && t.Length <= maxPooledEntry && hp.workers > 1 {
			data := hp.buffer(t.Length)
			n, err := io.ReadFull(v.br, data)
			if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
				hp.drain()
				v.failErr(err)
				break
			}
			name := e.Name
			hp.add(data[:n], func(got [sha256.Size]byte) {
				if !bytes.Equal(got[:], want) {
					v.fail(bundle.CodeDigestMismatch, name, "sha256 is %x, targets.json says %x", got, want)
					return
				}
				v.rep.count(tgt)
			})
			continue
		}
		hp.drain()
		h := sha256.New()
		hr := &hashingReader{r: v.br, h: h}
		if carried.wants(e.Name) {
			if carried.size+t.Length > maxCarried {
				v.fail(bundle.CodeTooLarge, e.Name, "the carried trust material (TUF repositories, attestations, their keys) exceeds %d bytes in all", maxCarried)
			} else {
				carried.size += t.Length
				hr.tee = bytes.NewBuffer(make([]byte, 0, t.Length))
			}
		}
		if isDelta {
			if t.Length > bundle.MaxDeltaSize {
				v.fail(bundle.CodeTooLarge, e.Name, "%d bytes, more than the %d a delta's description may hold", t.Length, bundle.MaxDeltaSize)
			} else {
				hr.tee = bytes.NewBuffer(make([]byte, 0, t.Length))
			}
		}
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
		if hr.tee != nil && isDelta {
			v.parsed = parseDelta(hr.tee.Bytes(), v.root)
		} else if hr.tee != nil {
			carried.files[e.Name] = &fstest.MapFile{Data: hr.tee.Bytes(), Mode: 0o444}
		}
	}
	hp.drain()
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
	if len(v.rep.Failures) > 0 {
		return nil
	}
	if v.rep.Base != nil {
		// A delta: its trust material is checked with the base's, when
		// the store applies it (the files it leaves out are not here).
		v.checkDelta()
		return nil
	}
	// The content verified: now the trust material it carries.
	c, fails, err := CheckCarried(v.ctx, carried.files, v.rep.Targets, CarriedOptions{
		Created: *v.rep.Created, At: v.opts.At, Attestations: v.opts.Attestations})
	if err != nil {
		return err
	}
	for _, f := range fails {
		v.rep.add(f)
	}
	if len(fails) == 0 && (len(c.TUF) > 0 || len(c.Attestations) > 0) {
		v.rep.Carried = c
	}
	return nil
}

type hashingReader struct {
	r   io.Reader
	h   hash.Hash
	tee *bytes.Buffer // if not nil, keeps the bytes read
}

// SHA256 implements DigestReader.
func (h *hashingReader) SHA256() []byte { return h.h.Sum(nil) }

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	if h.tee != nil {
		h.tee.Write(p[:n])
	}
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

// sameSigned reports whether two metadata documents of role T carry the
// same signed part. Trust state is compared by what was signed, never by
// its bytes: those were not all authenticated by older versions of ferry.
func sameSigned[T metadata.Roles](a, b []byte) bool {
	ma, err1 := new(metadata.Metadata[T]).FromBytes(a)
	mb, err2 := new(metadata.Metadata[T]).FromBytes(b)
	if err1 != nil || err2 != nil {
		return false
	}
	ja, err1 := json.Marshal(ma.Signed)
	jb, err2 := json.Marshal(mb.Signed)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
