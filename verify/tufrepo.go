package verify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// TUFCode is a stable code for a failure of carried TUF repository
// material (trust/<name>/ in a kit). Scripts depend on these strings.
type TUFCode string

// The TUF repository failure codes.
const (
	// TUFMissingMetadata: a metadata file the chain needs is not there.
	TUFMissingMetadata TUFCode = "TUF_MISSING_METADATA"
	// TUFMalformed: a file does not parse as the metadata it should be.
	TUFMalformed TUFCode = "TUF_MALFORMED"
	// TUFRootChain: a newer root is not signed by the threshold of its
	// predecessor and of itself, or the chain has a gap.
	TUFRootChain TUFCode = "TUF_ROOT_CHAIN"
	// TUFSignature: timestamp, snapshot or targets is not signed by the
	// threshold of the keys the trusted root names for it.
	TUFSignature TUFCode = "TUF_SIGNATURE_INVALID"
	// TUFExpired: the final root, timestamp, snapshot or targets is
	// expired at the reference time.
	TUFExpired TUFCode = "TUF_EXPIRED"
	// TUFVersionMismatch: snapshot or targets is not the version (or the
	// length and hashes) that the metadata above it lists.
	TUFVersionMismatch TUFCode = "TUF_VERSION_MISMATCH"
	// TUFTargetNotListed: a carried target file is not in targets.json.
	TUFTargetNotListed TUFCode = "TUF_TARGET_NOT_LISTED"
	// TUFTargetMismatch: a carried target's length or hashes differ from
	// what targets.json gives for it.
	TUFTargetMismatch TUFCode = "TUF_TARGET_MISMATCH"
	// TUFMissingTarget: a target the caller requires is not carried.
	TUFMissingTarget TUFCode = "TUF_MISSING_TARGET"
	// TUFUnexpectedFile: a file that is neither metadata nor a target.
	TUFUnexpectedFile TUFCode = "TUF_UNEXPECTED_FILE"
)

// Paths of carried TUF repository material, relative to its directory
// (trust/<name>/ in a kit): the layout of a TUF repository.
const (
	TUFMetadataDir = "metadata"
	TUFTargetsDir  = "targets"
)

// TUFRootPath is the path of root version v in a carried repository.
func TUFRootPath(v int64) string {
	return TUFMetadataDir + "/" + strconv.FormatInt(v, 10) + ".root.json"
}

// Size caps of carried metadata, as go-tuf's updater uses them.
const (
	maxRootSize      = 512000
	maxTimestampSize = 16384
	maxSnapshotSize  = 2000000
	maxTargetsSize   = 5000000
)

// TUFRepoOptions configures TUFRepo.
type TUFRepoOptions struct {
	// At is the time expiry is checked against (--at). Required.
	At time.Time
	// Root is the pinned root metadata to start the chain from. When nil,
	// the oldest root carried in the repository is the starting point: it
	// is the root the connected side pinned in kit.yaml, and it is as
	// trustworthy as the kit that carried it, so verify the kit first.
	Root []byte
	// Targets are target paths that must be carried (besides being
	// checked like every carried target).
	Targets []string
}

// TUFFailure is one failed check of a carried TUF repository. Entry is a
// path relative to the repository directory.
type TUFFailure struct {
	Code    TUFCode `json:"code"`
	Entry   string  `json:"entry,omitempty"`
	Message string  `json:"message"`
}

func (f TUFFailure) String() string {
	if f.Entry == "" {
		return fmt.Sprintf("%s: %s", f.Code, f.Message)
	}
	return fmt.Sprintf("%s: %s: %s", f.Entry, f.Code, f.Message)
}

// TUFTarget is a carried target file that matched targets.json.
type TUFTarget struct {
	Path   string `json:"path"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256,omitempty"`
}

// TUFRepoReport is the outcome of TUFRepo.
type TUFRepoReport struct {
	OK        bool      `json:"ok"`
	CheckedAt time.Time `json:"checkedAt"`
	// Roots are the root versions followed, the pinned one first.
	Roots            []int64 `json:"roots,omitempty"`
	TimestampVersion int64   `json:"timestampVersion,omitempty"`
	SnapshotVersion  int64   `json:"snapshotVersion,omitempty"`
	TargetsVersion   int64   `json:"targetsVersion,omitempty"`
	// Expires is the earliest expiry of the final root, timestamp,
	// snapshot and targets: after it the material no longer verifies.
	Expires  *time.Time   `json:"expires,omitempty"`
	Targets  []TUFTarget  `json:"targets,omitempty"`
	Failures []TUFFailure `json:"failures"`
}

// Err returns nil when the repository verified, else an error listing
// every failure.
func (r *TUFRepoReport) Err() error {
	if len(r.Failures) == 0 {
		return nil
	}
	msgs := make([]string, len(r.Failures))
	for i, f := range r.Failures {
		msgs[i] = f.String()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// Codes returns the failure codes in report order.
func (r *TUFRepoReport) Codes() []TUFCode {
	out := make([]TUFCode, len(r.Failures))
	for i, f := range r.Failures {
		out[i] = f.Code
	}
	return out
}

func (r *TUFRepoReport) fail(code TUFCode, entry, format string, args ...any) {
	r.Failures = append(r.Failures, TUFFailure{Code: code, Entry: entry, Message: fmt.Sprintf(format, args...)})
}

// TUFRepo re-verifies TUF repository material carried in a kit, offline:
// go-tuf's trustedmetadata follows the root chain from the pinned root
// (metadata/N.root.json), then loads metadata/timestamp.json, snapshot.json
// and targets.json with expiry checked at opts.At; then every file under
// targets/ is streamed through the hashes targets.json gives for it,
// bounded by its signed length. fsys holds the repository directory
// (fs.Sub a kit's trust/<name>). Only top-level targets are supported.
//
// Failures come back in the report, as many as can be found: when a
// metadata file is expired, the rest is still checked for signatures and
// versions so that the report says everything that is wrong. The returned
// error is for unusable options or a cancelled context only. TUFRepo
// never opens a network connection.
func TUFRepo(ctx context.Context, fsys fs.FS, opts TUFRepoOptions) (*TUFRepoReport, error) {
	if opts.At.IsZero() {
		return nil, errors.New("no reference time: set At (--at)")
	}
	rep := &TUFRepoReport{CheckedAt: opts.At.UTC(), Failures: []TUFFailure{}}
	roots, other := listRepo(fsys, rep)
	pinned := opts.Root
	if pinned == nil {
		if len(roots) == 0 {
			rep.fail(TUFMissingMetadata, TUFMetadataDir, "no root metadata is carried (want %s/N.root.json)", TUFMetadataDir)
			return finishTUF(rep), nil
		}
		var err error
		if pinned, err = readCapped(fsys, TUFRootPath(roots[0]), maxRootSize); err != nil {
			rep.fail(TUFMissingMetadata, TUFRootPath(roots[0]), "%v", err)
			return finishTUF(rep), nil
		}
	}
	if _, err := trustedRoot(pinned); err != nil {
		rep.fail(TUFMalformed, "", "the pinned root does not load: %v", err)
		return finishTUF(rep), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The metadata, by the book: trustedmetadata with the reference time.
	tm, ok := loadTUFChain(fsys, pinned, roots, opts.At, rep)
	if !ok && hasCode(rep, TUFExpired) {
		// Something is expired. Load again without a clock, to report what
		// else is wrong (signatures, versions) and every expired role;
		// the verdict stays the failure above.
		var diag TUFRepoReport
		first := slices.Clone(rep.Failures)
		tm, ok = loadTUFChain(fsys, pinned, roots, time.Time{}, &diag)
		rep.Failures = slices.DeleteFunc(rep.Failures, func(f TUFFailure) bool { return f.Code == TUFExpired })
		rep.Failures = append(rep.Failures, diag.Failures...)
		if tm != nil {
			expiredRoles(tm, opts.At, rep)
		}
		if !hasCode(rep, TUFExpired) {
			rep.Failures = first // cannot happen; never lose the verdict
		}
	}
	if tm != nil {
		rep.Roots = chainVersions(pinned, tm)
		setVersions(tm, rep)
	}
	if !ok {
		return finishTUF(rep), nil
	}

	// The targets: every carried file must be listed and match.
	listed := tm.Targets[metadata.TARGETS].Signed.Targets
	for _, p := range other {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, isTarget := strings.CutPrefix(p, TUFTargetsDir+"/")
		if !isTarget {
			rep.fail(TUFUnexpectedFile, p, "neither TUF metadata (%s/) nor a target (%s/)", TUFMetadataDir, TUFTargetsDir)
			continue
		}
		tf, ok := listed[name]
		if !ok {
			rep.fail(TUFTargetNotListed, p, "target %q is not listed in targets.json version %d", name, tm.Targets[metadata.TARGETS].Signed.Version)
			continue
		}
		if t, ok := checkTarget(fsys, p, tf, rep); ok {
			rep.Targets = append(rep.Targets, t)
		}
	}
	for _, want := range opts.Targets {
		if !slices.Contains(other, TUFTargetsDir+"/"+want) {
			rep.fail(TUFMissingTarget, TUFTargetsDir+"/"+want, "target %q is required but not carried", want)
		}
	}
	return finishTUF(rep), nil
}

func finishTUF(rep *TUFRepoReport) *TUFRepoReport {
	rep.OK = len(rep.Failures) == 0
	return rep
}

func hasCode(rep *TUFRepoReport, c TUFCode) bool {
	return slices.ContainsFunc(rep.Failures, func(f TUFFailure) bool { return f.Code == c })
}

// listRepo returns the carried root versions (sorted) and every other file
// that is not top-level metadata, sorted.
func listRepo(fsys fs.FS, rep *TUFRepoReport) (roots []int64, other []string) {
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			rep.fail(TUFUnexpectedFile, p, "not a regular file")
			return nil
		}
		dir, base := path.Split(p)
		if dir == TUFMetadataDir+"/" {
			switch base {
			case "timestamp.json", "snapshot.json", "targets.json":
				return nil
			}
			if v, ok := strings.CutSuffix(base, ".root.json"); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 && strconv.FormatInt(n, 10) == v {
					roots = append(roots, n)
					return nil
				}
			}
			rep.fail(TUFUnexpectedFile, p, "not top-level TUF metadata (N.root.json, timestamp.json, snapshot.json, targets.json)")
			return nil
		}
		other = append(other, p)
		return nil
	})
	if err != nil {
		rep.fail(TUFMalformed, "", "listing the repository: %v", err)
	}
	slices.Sort(roots)
	slices.Sort(other)
	return roots, other
}

// loadTUFChain runs go-tuf's client workflow over the carried files. It
// returns the trusted metadata as far as it got, and whether all of it
// loaded.
func loadTUFChain(fsys fs.FS, pinned []byte, roots []int64, at time.Time, rep *TUFRepoReport) (*trustedmetadata.TrustedMetadata, bool) {
	tm, err := trustedRoot(pinned)
	if err != nil {
		rep.fail(TUFMalformed, "", "the pinned root does not load: %v", err)
		return nil, false
	}
	tm.RefTime = at

	// Roots after the pinned one, one version at a time and no gap.
	next := tm.Root.Signed.Version + 1
	for _, v := range roots {
		if v < next {
			continue // the pinned root and older ones: not needed
		}
		name := TUFRootPath(v)
		if v != next {
			rep.fail(TUFRootChain, name, "root version %d is carried but version %d is missing", v, next)
			return tm, false
		}
		data, err := readCapped(fsys, name, maxRootSize)
		if err != nil {
			rep.fail(TUFMissingMetadata, name, "%v", err)
			return tm, false
		}
		prev := tm.Root.Signed.Version
		if err := updateRoot(tm, data); err != nil {
			rep.fail(tufCode(err, TUFRootChain), name, "root version %d does not follow from version %d: %v", v, prev, err)
			return tm, false
		}
		next++
	}

	steps := []struct {
		name string
		max  int64
		load func([]byte) error
	}{
		{metadata.TIMESTAMP, maxTimestampSize, func(b []byte) error { _, err := tm.UpdateTimestamp(b); return err }},
		{metadata.SNAPSHOT, maxSnapshotSize, func(b []byte) error { _, err := tm.UpdateSnapshot(b, false); return err }},
		{metadata.TARGETS, maxTargetsSize, func(b []byte) error { _, err := tm.UpdateTargets(b); return err }},
	}
	for _, s := range steps {
		name := TUFMetadataDir + "/" + s.name + ".json"
		data, err := readCapped(fsys, name, s.max)
		if err != nil {
			rep.fail(TUFMissingMetadata, name, "%v", err)
			return tm, false
		}
		if err := s.load(data); err != nil {
			entry := name
			if errors.Is(err, &metadata.ErrExpiredMetadata{}) && strings.Contains(err.Error(), "root") {
				entry = TUFRootPath(tm.Root.Signed.Version)
			}
			rep.fail(tufCode(err, TUFSignature), entry, "%s: %v", s.name, err)
			return tm, false
		}
	}
	return tm, true
}

// tufCode maps an error of trustedmetadata to a code; unsigned is the
// code for a signature failure at that step.
func tufCode(err error, unsigned TUFCode) TUFCode {
	switch {
	case errors.Is(err, &metadata.ErrExpiredMetadata{}):
		return TUFExpired
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		return unsigned
	case errors.Is(err, &metadata.ErrBadVersionNumber{}), errors.Is(err, &metadata.ErrLengthOrHashMismatch{}):
		if unsigned == TUFRootChain {
			return TUFRootChain
		}
		return TUFVersionMismatch
	}
	return TUFMalformed
}

// expiredRoles reports every final role expired at at.
func expiredRoles(tm *trustedmetadata.TrustedMetadata, at time.Time, rep *TUFRepoReport) {
	type role struct {
		entry   string
		expires time.Time
	}
	var roles []role
	roles = append(roles, role{TUFRootPath(tm.Root.Signed.Version), tm.Root.Signed.Expires})
	if tm.Timestamp != nil {
		roles = append(roles, role{TUFMetadataDir + "/timestamp.json", tm.Timestamp.Signed.Expires})
	}
	if tm.Snapshot != nil {
		roles = append(roles, role{TUFMetadataDir + "/snapshot.json", tm.Snapshot.Signed.Expires})
	}
	if t := tm.Targets[metadata.TARGETS]; t != nil {
		roles = append(roles, role{TUFMetadataDir + "/targets.json", t.Signed.Expires})
	}
	for _, r := range roles {
		if at.After(r.expires) {
			rep.fail(TUFExpired, r.entry, "expired %s (checked at %s)", r.expires.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
		}
	}
}

func chainVersions(pinned []byte, tm *trustedmetadata.TrustedMetadata) []int64 {
	first, err := metadata.Root().FromBytes(pinned)
	if err != nil {
		return nil
	}
	var out []int64
	for v := first.Signed.Version; v <= tm.Root.Signed.Version; v++ {
		out = append(out, v)
	}
	return out
}

func setVersions(tm *trustedmetadata.TrustedMetadata, rep *TUFRepoReport) {
	exp := tm.Root.Signed.Expires
	if tm.Timestamp != nil {
		rep.TimestampVersion = tm.Timestamp.Signed.Version
		exp = minTime(exp, tm.Timestamp.Signed.Expires)
	}
	if tm.Snapshot != nil {
		rep.SnapshotVersion = tm.Snapshot.Signed.Version
		exp = minTime(exp, tm.Snapshot.Signed.Expires)
	}
	if t := tm.Targets[metadata.TARGETS]; t != nil {
		rep.TargetsVersion = t.Signed.Version
		exp = minTime(exp, t.Signed.Expires)
	}
	exp = exp.UTC()
	rep.Expires = &exp
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// readCapped reads a small metadata file, refusing more than max bytes.
func readCapped(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("not carried")
		}
		return nil, err
	}
	defer f.Close()
	var b bytes.Buffer
	n, err := b.ReadFrom(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b.Bytes(), nil
}

// checkTarget streams a carried target through every hash targets.json
// lists for it, reading at most its signed length plus one byte.
func checkTarget(fsys fs.FS, p string, tf *metadata.TargetFiles, rep *TUFRepoReport) (TUFTarget, bool) {
	t := TUFTarget{Path: tf.Path, Length: tf.Length}
	if len(tf.Hashes) == 0 {
		rep.fail(TUFTargetMismatch, p, "targets.json lists no hash for it")
		return t, false
	}
	algs := make([]string, 0, len(tf.Hashes))
	for a := range tf.Hashes {
		algs = append(algs, a)
	}
	slices.Sort(algs)
	hashers := make([]hash.Hash, len(algs))
	writers := make([]io.Writer, len(algs))
	for i, a := range algs {
		switch a {
		case "sha256":
			hashers[i] = sha256.New()
		case "sha384":
			hashers[i] = sha512.New384()
		case "sha512":
			hashers[i] = sha512.New()
		default:
			rep.fail(TUFTargetMismatch, p, "targets.json lists a hash of unknown algorithm %q", a)
			return t, false
		}
		writers[i] = hashers[i]
	}
	f, err := fsys.Open(p)
	if err != nil {
		rep.fail(TUFMissingTarget, p, "%v", err)
		return t, false
	}
	defer f.Close()
	n, err := io.Copy(io.MultiWriter(writers...), io.LimitReader(f, tf.Length+1))
	if err != nil {
		rep.fail(TUFMalformed, p, "reading: %v", err)
		return t, false
	}
	if n != tf.Length {
		what := "shorter"
		if n > tf.Length {
			what = "longer"
		}
		rep.fail(TUFTargetMismatch, p, "%s than the %d bytes targets.json gives for it", what, tf.Length)
		return t, false
	}
	ok := true
	for i, a := range algs {
		got := hashers[i].Sum(nil)
		if !bytes.Equal(got, tf.Hashes[a]) {
			rep.fail(TUFTargetMismatch, p, "%s %s, targets.json says %s", a, hex.EncodeToString(got), hex.EncodeToString(tf.Hashes[a]))
			ok = false
		}
		if a == "sha256" {
			t.SHA256 = hex.EncodeToString(got)
		}
	}
	return t, ok
}

// Roots written before 2023 (Sigstore's versions 1 to 4) give ECDSA keys as
// hex-encoded uncompressed points, where the TUF specification and go-tuf
// v2 want PEM: go-tuf cannot load them. trustedRoot and updateRoot bridge
// that: a root with such keys is checked exactly as trustedmetadata checks
// a root (signed by the threshold of the previous root and of itself,
// version +1), with its keys converted to PEM for verification only. The
// signed bytes are never changed.

// trustedRoot is trustedmetadata.New, also for a root with hex keys.
func trustedRoot(data []byte) (*trustedmetadata.TrustedMetadata, error) {
	tm, err := trustedmetadata.New(data)
	if err == nil {
		return tm, nil
	}
	root, perr := metadata.Root().FromBytes(data)
	if perr != nil {
		return nil, err
	}
	compat, converted, cerr := pemKeys(root)
	if cerr != nil || !converted {
		return nil, err
	}
	if root.Signed.Type != metadata.ROOT {
		return nil, fmt.Errorf("expected %s, got %s", metadata.ROOT, root.Signed.Type)
	}
	if err := compat.VerifyDelegate(metadata.ROOT, root); err != nil {
		return nil, err
	}
	return &trustedmetadata.TrustedMetadata{Root: compat, Targets: map[string]*metadata.Metadata[metadata.TargetsType]{}}, nil
}

// updateRoot is tm.UpdateRoot, also for a new root with hex keys.
func updateRoot(tm *trustedmetadata.TrustedMetadata, data []byte) error {
	root, err := metadata.Root().FromBytes(data)
	if err != nil {
		return err
	}
	compat, converted, err := pemKeys(root)
	if err != nil {
		return err
	}
	if !converted {
		_, err := tm.UpdateRoot(data)
		return err
	}
	if root.Signed.Type != metadata.ROOT {
		return &metadata.ErrRepository{Msg: fmt.Sprintf("expected %s, got %s", metadata.ROOT, root.Signed.Type)}
	}
	if err := tm.Root.VerifyDelegate(metadata.ROOT, root); err != nil {
		return err
	}
	if root.Signed.Version != tm.Root.Signed.Version+1 {
		return &metadata.ErrBadVersionNumber{Msg: fmt.Sprintf("bad version number, expected %d, got %d", tm.Root.Signed.Version+1, root.Signed.Version)}
	}
	if err := compat.VerifyDelegate(metadata.ROOT, root); err != nil {
		return err
	}
	tm.Root = compat
	return nil
}

// pemKeys returns a copy of root whose hex-encoded ECDSA P-256 keys are
// PEM-encoded, for use as a verifier only, and whether it converted any.
func pemKeys(root *metadata.Metadata[metadata.RootType]) (*metadata.Metadata[metadata.RootType], bool, error) {
	keys := make(map[string]*metadata.Key, len(root.Signed.Keys))
	converted := false
	for id, k := range root.Signed.Keys {
		keys[id] = k
		if k.Type != metadata.KeyTypeECDSA_SHA2_P256 && k.Type != metadata.KeyTypeECDSA_SHA2_P256_COMPAT {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(k.Value.PublicKey), "-----BEGIN") {
			continue
		}
		raw, err := hex.DecodeString(k.Value.PublicKey)
		if err != nil {
			return nil, false, fmt.Errorf("key %s: neither PEM nor hex: %w", id, err)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, false, fmt.Errorf("key %s: %w", id, err)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, false, fmt.Errorf("key %s: %w", id, err)
		}
		c := *k
		c.Value.PublicKey = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		keys[id] = &c
		converted = true
	}
	if !converted {
		return root, false, nil
	}
	c := *root
	c.Signed.Keys = keys
	return &c, true, nil
}
