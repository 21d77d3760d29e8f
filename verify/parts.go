package verify

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// PartsInfo describes a kit read from parts, in a Report.
type PartsInfo struct {
	// Index is the file name of the part index.
	Index        string   `json:"index"`
	Count        int      `json:"count"`
	PartSize     int64    `json:"partSize"`
	Size         int64    `json:"size"`
	SignerKeyIDs []string `json:"signerKeyIds"`
	// Only is the part checked alone (--part-only), 0 when the whole kit
	// was verified.
	Only int `json:"only,omitempty"`
}

// maxIndexRead caps what is read of a part index file.
const maxIndexRead = 16<<20 + 1

// OpenPartIndex reads the part index beside the parts of set.Kit and
// verifies its signature against the trust src gives for the channel it
// names: the targets keys of the trusted root, or of a later root that the
// index's root chain leads to from it (a rotation). On success it sets
// set.Index. A failure about the index is a *bundle.Error naming the index
// file: KIT_PART_MISSING when it is not there, KIT_MALFORMED,
// KIT_UNKNOWN_CHANNEL, KIT_SIGNATURE_INVALID or KIT_THRESHOLD_NOT_MET.
func OpenPartIndex(set *bundle.PartSet, src TrustSource) (*PartsInfo, error) {
	entry := filepath.Base(set.IndexPath())
	f, err := os.Open(set.IndexPath())
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, bundle.Errorf(bundle.CodePartMissing, entry, "the part index is missing: it is written beside the parts and must travel with them")
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIndexRead))
	if err != nil {
		return nil, err
	}
	env, idx, err := bundle.ParsePartIndex(entry, data)
	if err != nil {
		return nil, err
	}
	trust, err := src.TrustFor(idx.Channel)
	if err != nil {
		return nil, err
	}
	tm, err := trustedRoot(trust.Root)
	if err != nil {
		return nil, bundle.Errorf(bundle.CodeMalformed, entry, "the trusted root does not load: %v", err)
	}
	for _, data := range idx.Roots {
		r, err := metadata.Root().FromBytes(data)
		if err != nil {
			return nil, bundle.Errorf(bundle.CodeMalformed, entry, "a root of its chain does not parse: %v", err)
		}
		if r.Signed.Version <= tm.Root.Signed.Version {
			continue
		}
		if err := updateRoot(tm, data); err != nil {
			return nil, bundle.Errorf(bundle.CodeSignatureInvalid, entry, "root version %d of its chain does not follow from the trusted root version %d: %v", r.Signed.Version, tm.Root.Signed.Version, err)
		}
	}
	root := tm.Root
	if ch := channelOf(root); ch != idx.Channel {
		return nil, bundle.Errorf(bundle.CodeUnknownChannel, entry, "the part index is for channel %q, the trusted root for %q", idx.Channel, ch)
	}
	signers, e := checkEnvelope(entry, env, root)
	if e != nil {
		return nil, e
	}
	set.Index = idx
	return &PartsInfo{Index: entry, Count: len(idx.Parts), PartSize: idx.PartSize, Size: idx.Size, SignerKeyIDs: short(signers)}, nil
}

// checkEnvelope checks the envelope's signatures against root's targets
// role: every signature must be by a key of the role and verify (as for
// TUF metadata, a bad one is refused even beside enough good ones), and
// the distinct valid ones must meet the threshold.
func checkEnvelope(entry string, env *bundle.PartEnvelope, root *metadata.Metadata[metadata.RootType]) ([]string, *bundle.Error) {
	role := root.Signed.Roles[metadata.TARGETS]
	if role == nil {
		return nil, bundle.Errorf(bundle.CodeMalformed, entry, "the trusted root has no targets role")
	}
	pae := env.PAE()
	var valid []string
	for _, s := range env.Signatures {
		key, ok := root.Signed.Keys[s.KeyID]
		if !ok || !slices.Contains(role.KeyIDs, s.KeyID) {
			return nil, bundle.Errorf(bundle.CodeSignatureInvalid, entry, "signed by key %s, which root version %d does not list for targets", shortID(s.KeyID), root.Signed.Version)
		}
		pub, err := key.ToPublicKey()
		if err != nil {
			return nil, bundle.Errorf(bundle.CodeSignatureInvalid, entry, "key %s: %v", shortID(s.KeyID), err)
		}
		v, err := signature.LoadVerifier(pub, crypto.SHA256)
		if err != nil {
			return nil, bundle.Errorf(bundle.CodeSignatureInvalid, entry, "key %s: %v", shortID(s.KeyID), err)
		}
		if err := v.VerifySignature(bytes.NewReader(s.Sig), bytes.NewReader(pae)); err != nil {
			return nil, bundle.Errorf(bundle.CodeSignatureInvalid, entry, "the signature of key %s does not verify: the part index was changed or signed by another key", shortID(s.KeyID))
		}
		if !slices.Contains(valid, s.KeyID) {
			valid = append(valid, s.KeyID)
		}
	}
	if len(valid) == 0 {
		return nil, bundle.Errorf(bundle.CodeSignatureInvalid, entry, "the part index is not signed")
	}
	if len(valid) < role.Threshold {
		return nil, bundle.Errorf(bundle.CodeThresholdNotMet, entry, "%d valid signature(s), root version %d requires %d for targets", len(valid), root.Signed.Version, role.Threshold)
	}
	slices.Sort(valid)
	return valid, nil
}

func shortID(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

// Parts verifies a kit written in parts, reading them in order as one
// stream (no reassembled copy): the signed part index first
// (OpenPartIndex), then that every part is present with its size, then the
// kit as Kit does. A part that is
// missing or not the one the index lists is reported by its file name
// (KIT_PART_MISSING, KIT_PART_INVALID with the expected and actual
// sha256), and when one stops the stream the others are still checked
// alone, so the report names every part to send again. The index must be
// the one of this kit (its targets sha256, channel and version).
func Parts(ctx context.Context, set *bundle.PartSet, src TrustSource, opts Options) (*Report, error) {
	if opts.At.IsZero() {
		return nil, errors.New("verify: no reference time given")
	}
	info, err := OpenPartIndex(set, src)
	if err != nil {
		return indexFailure(opts, err)
	}
	if errs := set.Check(); len(errs) > 0 {
		rep := partsReport(opts, set, info)
		// Name every bad part, not only those the stat found.
		bad := map[int]bool{}
		for _, e := range errs {
			rep.add(e)
			_, n, _ := bundle.SplitPartPath(e.Entry)
			bad[n] = true
		}
		for _, p := range set.Index.Parts {
			if !bad[p.Number] {
				if e := set.CheckPart(p.Number); e != nil {
					rep.add(e)
				}
			}
		}
		sortPartFailures(rep)
		rep.finish()
		return rep, nil
	}
	// The parts are not hashed on the way: the kit's own verification
	// checks every byte it decodes against signed digests, and hashing
	// the stream a second time would cost as much again. Only when it
	// fails is every part hashed alone, to name the ones to send again.
	pr := set.Reader(false)
	defer pr.Close()
	rep, err := Kit(ctx, pr, src, opts)
	if err != nil {
		return nil, err
	}
	pr.Close()
	rep.Parts = info
	var partErrs []*bundle.Error
	if slices.ContainsFunc(rep.Failures, func(f Failure) bool { return !trustOnly[f.Code] }) {
		partErrs = pr.Failures()
	}
	if len(partErrs) > 0 {
		// The parts are the cause; what the kit reader made of their
		// bytes follows.
		kitFailures := rep.Failures
		rep.Failures = []Failure{}
		for _, e := range partErrs {
			rep.add(e)
		}
		for _, f := range kitFailures {
			// The kit reader reports the part that stopped its stream too.
			if !slices.ContainsFunc(partErrs, func(e *bundle.Error) bool { return e.Code == f.Code && e.Entry == f.Entry }) {
				rep.Failures = append(rep.Failures, f)
			}
		}
	} else if rep.TargetsSHA256 != "" && (rep.TargetsSHA256 != set.Index.TargetsSHA256 || rep.Channel != set.Index.Channel || rep.Version != set.Index.Version) {
		rep.add(bundle.Errorf(bundle.CodePartInvalid, info.Index, "the part index is for %s version %d (targets sha256 %s), the parts hold %s version %d (targets sha256 %s)",
			set.Index.Channel, set.Index.Version, set.Index.TargetsSHA256, rep.Channel, rep.Version, rep.TargetsSHA256))
	}
	rep.finish()
	return rep, nil
}

// trustOnly are the failures that bad bytes in transit cannot cause: an
// intact kit that is too old, expired or of an unknown channel. For them
// the parts are not read a second time.
var trustOnly = map[bundle.Code]bool{
	bundle.CodeExpired: true, bundle.CodeRollback: true, bundle.CodeUnknownChannel: true, bundle.CodeBaseMismatch: true,
}

// Part checks part n of a kit alone against the signed part index, e.g. at
// a data diode before the other parts arrive: the index's signature (as
// OpenPartIndex) and the part's size and sha256. It says nothing about the
// kit's content, expiry or rollback: verify the whole kit (Parts) before
// using it. The report carries the kit's name, channel and version as the
// signed index gives them.
func Part(set *bundle.PartSet, n int, src TrustSource, opts Options) (*Report, error) {
	if opts.At.IsZero() {
		return nil, errors.New("verify: no reference time given")
	}
	info, err := OpenPartIndex(set, src)
	if err != nil {
		return indexFailure(opts, err)
	}
	info.Only = n
	rep := partsReport(opts, set, info)
	if n < 1 || n > len(set.Index.Parts) {
		rep.add(bundle.Errorf(bundle.CodePartInvalid, filepath.Base(bundle.PartName(set.Kit, n)), "the signed index lists parts 1 to %d, not %d", len(set.Index.Parts), n))
	} else if e := set.CheckPart(n); e != nil {
		rep.add(e)
	}
	rep.finish()
	return rep, nil
}

func partsReport(opts Options, set *bundle.PartSet, info *PartsInfo) *Report {
	rep := newReport(opts.At)
	rep.Name, rep.Channel, rep.Version = set.Index.Name, set.Index.Channel, set.Index.Version
	rep.TargetsSHA256 = set.Index.TargetsSHA256
	rep.Parts = info
	return rep
}

// indexFailure turns a failure of the part index into a report, and any
// other error into an error.
func indexFailure(opts Options, err error) (*Report, error) {
	var e *bundle.Error
	if !errors.As(err, &e) {
		return nil, err
	}
	rep := newReport(opts.At)
	rep.add(e)
	rep.finish()
	return rep, nil
}

// sortPartFailures orders part failures by part number.
func sortPartFailures(rep *Report) {
	slices.SortStableFunc(rep.Failures, func(a, b Failure) int {
		_, na, _ := bundle.SplitPartPath(a.Entry)
		_, nb, _ := bundle.SplitPartPath(b.Entry)
		return na - nb
	})
}

// PartFailures returns the part numbers a report names as missing or
// invalid, in order: the parts to send again.
func (r *Report) PartFailures() []int {
	var out []int
	for _, f := range r.Failures {
		if f.Code != bundle.CodePartMissing && f.Code != bundle.CodePartInvalid {
			continue
		}
		if _, n, ok := bundle.SplitPartPath(f.Entry); ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
