package verify

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// DeltaStore is the site a delta kit is checked against (Options.Store).
type DeltaStore interface {
	// Active returns the version and the full kit's targets sha256 of the
	// channel's active kit; ok is false when the store has none.
	Active(channel string) (version int64, targetsSHA256 string, ok bool)
	// HasBlob reports whether the store holds the content with this hex
	// sha256 and length.
	HasBlob(sha256 string, length int64) bool
}

// Delta is what Kit found of a delta kit: which base it needs and the full
// kit it stands for.
type Delta struct {
	Base bundle.Base `json:"base"`
	// Needs says in words what a store must hold for the delta to apply.
	Needs string `json:"needs"`
	// TargetsSHA256 is the sha256 of the full kit's targets.json: the
	// targets digest a store that applied the delta records.
	TargetsSHA256 string `json:"targetsSha256"`
	// Files is how many content files the full kit has, Carried how many
	// of them the delta carries.
	Files   int      `json:"files"`
	Carried int      `json:"carried"`
	Removed []string `json:"removed"`
	// Patches are the full kit's files the delta carries as a patch on a
	// file of the base (bundle/patch.go), sorted by path.
	Patches []Patch `json:"patches,omitempty"`

	// Full lists the full kit's content files, sorted by path: those the
	// delta carries and those it leaves out for the store to supply.
	Full []Target `json:"-"`
}

// Patch is a file of the full kit that a delta carries as a patch.
type Patch struct {
	// Path is the full kit's path, PatchPath where the delta carries the
	// patch.
	Path      string `json:"path"`
	PatchPath string `json:"patchPath"`
	// Base is the content the patch applies to.
	Base bundle.PatchFile `json:"base"`
	// Result is the full kit's target the patch makes.
	Result Target `json:"-"`
}

// Needs describes what a store must hold for a delta with base b to apply.
func Needs(b bundle.Base) string {
	if b.Have {
		if b.Version == 0 {
			return fmt.Sprintf("a store holding the content its have-list listed (channel %s not in it)", b.Channel)
		}
		return fmt.Sprintf("a store holding the content its have-list listed (channel %s version %d)", b.Channel, b.Version)
	}
	return fmt.Sprintf("channel %s version %d (targets sha256 %s) active in the store", b.Channel, b.Version, b.TargetsSHA256)
}

// checkDelta checks a delta kit whose content verified: its delta.json
// against its signed base, the full targets it stands for (signed by the
// channel's targets keys, the same kit), every carried file against them,
// and, with Options.Store, the store's active kit and the content the
// delta leaves out.
func (v *verifier) checkDelta() {
	base := *v.rep.Base
	if base.Channel != v.rep.Channel {
		v.fail(bundle.CodeBaseMismatch, "", "a kit of channel %s names a base of channel %s", v.rep.Channel, base.Channel)
		return
	}
	if !base.Have && base.Version >= v.rep.Version {
		v.fail(bundle.CodeBaseMismatch, "", "version %d names base version %d, which is not older", v.rep.Version, base.Version)
		return
	}
	if v.parsed == nil {
		v.fail(bundle.CodeMalformed, bundle.DeltaPath, "the signed metadata names a base, so the kit is a delta, but it carries no %s", bundle.DeltaPath)
		return
	}
	<-v.parsed.done
	d, err := v.parsed.d, v.parsed.err
	if err != nil {
		v.fail(bundle.CodeMalformed, bundle.DeltaPath, "%v", err)
		return
	}
	if d.Base != base {
		v.fail(bundle.CodeBaseMismatch, bundle.DeltaPath, "names base %s v%d (targets sha256 %s), the signed metadata %s v%d (targets sha256 %s)",
			d.Base.Channel, d.Base.Version, d.Base.TargetsSHA256, base.Channel, base.Version, base.TargetsSHA256)
		return
	}
	full, info, err := v.parsed.full, v.parsed.info, v.parsed.fullErr
	if err != nil {
		v.fail(bundle.CodeMalformed, bundle.DeltaPath, "%v", err)
		return
	}
	if err := v.parsed.sigErr; err != nil {
		v.fail(bundle.CodeSignatureInvalid, bundle.DeltaPath, "the full targets are not signed by the channel's targets keys: %v", err)
		return
	}
	want := bundle.Info{Format: bundle.FormatVersion, Name: v.rep.Name, Channel: v.rep.Channel, Version: v.rep.Version,
		Created: *v.rep.Created, Expires: *v.rep.Expires}
	if full.Signed.Version != v.rep.Version || !info.Created.Equal(want.Created) || !info.Expires.Equal(want.Expires) ||
		info.Name != want.Name || info.Channel != want.Channel || info.Version != want.Version || info.Base != nil {
		v.fail(bundle.CodeMalformed, bundle.DeltaPath, "the full targets describe kit %s %s v%d, not this delta's %s %s v%d without a base",
			info.Channel, info.Name, info.Version, want.Channel, want.Name, want.Version)
		return
	}
	rep := &Delta{Base: base, Needs: Needs(base), TargetsSHA256: d.TargetsSHA256, Removed: d.Removed}
	paths := make([]string, 0, len(full.Signed.Targets))
	for p := range full.Signed.Targets {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		tf := full.Signed.Targets[p]
		if msg := bundle.CheckPath(p); msg != "" || p == bundle.DeltaPath || strings.HasPrefix(p, bundle.MetaDir) {
			v.fail(bundle.CodeUnsafePath, bundle.DeltaPath, "the full targets list %q", p)
			return
		}
		sum, ok := tf.Hashes["sha256"]
		if !ok || len(sum) != 32 || tf.Length < 0 {
			v.fail(bundle.CodeMalformed, bundle.DeltaPath, "the full targets list %q without a sha256 and length", p)
			return
		}
		t := Target{Path: p, Length: tf.Length, SHA256: hex.EncodeToString(sum), Type: bundle.ContentType(p)}
		if tf.Custom != nil {
			t.Custom = *tf.Custom
		}
		rep.Full = append(rep.Full, t)
	}
	carried := map[string]bool{}
	patches := map[string]bool{} // patch paths delta.json names
	for _, p := range d.Patches {
		patches[bundle.PatchPath(p.Path)] = true
	}
	patchCarried, carriedPath := map[string]bool{}, map[string]bool{}
	find := func(p string) (int, bool) {
		return slices.BinarySearchFunc(rep.Full, p, func(a Target, p string) int { return strings.Compare(a.Path, p) })
	}
	for _, t := range v.rep.Targets {
		if t.Path == bundle.DeltaPath {
			continue
		}
		if strings.HasPrefix(t.Path, bundle.PatchDir) {
			if !patches[t.Path] {
				v.fail(bundle.CodeUnexpectedEntry, t.Path, "a patch that %s does not name", bundle.DeltaPath)
			}
			patchCarried[t.Path] = true
			continue
		}
		i, ok := find(t.Path)
		if !ok {
			v.fail(bundle.CodeUnexpectedEntry, t.Path, "carried by the delta but not in the full kit it stands for")
			continue
		}
		f := rep.Full[i]
		if f.SHA256 != t.SHA256 || f.Length != t.Length || !bytes.Equal(f.Custom, t.Custom) {
			v.fail(bundle.CodeDigestMismatch, t.Path, "carried as %d bytes sha256 %s, the full kit lists %d bytes sha256 %s", t.Length, t.SHA256, f.Length, f.SHA256)
			continue
		}
		carried[t.SHA256] = true
		carriedPath[t.Path] = true
		rep.Carried++
	}
	for _, p := range d.Removed {
		if _, ok := full.Signed.Targets[p]; ok {
			v.fail(bundle.CodeMalformed, bundle.DeltaPath, "removed path %q is in the full kit", p)
		}
	}
	for _, p := range d.Patches {
		i, ok := find(p.Path)
		switch {
		case !ok:
			v.fail(bundle.CodeMalformed, bundle.DeltaPath, "patched path %q is not in the full kit", p.Path)
		case carriedPath[p.Path]:
			v.fail(bundle.CodeMalformed, bundle.DeltaPath, "%q is both carried and patched", p.Path)
		case !patchCarried[bundle.PatchPath(p.Path)]:
			v.fail(bundle.CodeMissingTarget, bundle.PatchPath(p.Path), "%s names the patch of %s, which the delta does not carry", bundle.DeltaPath, p.Path)
		default:
			rep.Patches = append(rep.Patches, Patch{Path: p.Path, PatchPath: bundle.PatchPath(p.Path), Base: p.Base, Result: rep.Full[i]})
		}
	}
	rep.Files = len(rep.Full)
	if rep.Carried != d.Carried || rep.Files != d.Files {
		v.fail(bundle.CodeMalformed, bundle.DeltaPath, "says it carries %d of %d files, it carries %d of %d", d.Carried, d.Files, rep.Carried, rep.Files)
	}
	if len(v.rep.Failures) > 0 {
		return
	}
	v.rep.Delta = rep
	if v.opts.Store != nil && !v.rep.SameAsTrusted {
		v.checkDeltaStore(rep, carried)
	}
}

// parsedDelta is a delta.json whose digest verified, parsed, and its full
// targets' signatures checked against the trusted root: the part of
// checkDelta that needs nothing else. It is the same work for a delta
// whatever its size, about as much as hashing a few megabytes, so it runs
// on a goroutine of its own while the content after delta.json is read.
// The fields are set when done is closed; checkDelta reports on them in
// the order it always did.
type parsedDelta struct {
	done    chan struct{}
	d       *bundle.Delta
	err     error // from ParseDelta
	full    *metadata.Metadata[metadata.TargetsType]
	info    bundle.Info
	fullErr error // from FullTargets
	sigErr  error // from verifying full with the root's targets keys
}

// parseDelta starts parsing data, the verified bytes of delta.json, and
// checking its full targets against root, which must not change.
func parseDelta(data []byte, root *metadata.Metadata[metadata.RootType]) *parsedDelta {
	p := &parsedDelta{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if p.d, p.err = bundle.ParseDelta(data); p.err != nil {
			return
		}
		if p.full, p.info, p.fullErr = p.d.FullTargets(); p.fullErr != nil {
			return
		}
		p.sigErr = root.VerifyDelegate(metadata.TARGETS, p.full)
	}()
	return p
}

// checkDeltaStore checks that the store holds the delta's base and every
// content the delta leaves out.
func (v *verifier) checkDeltaStore(d *Delta, carried map[string]bool) {
	ver, sum, ok := v.opts.Store.Active(d.Base.Channel)
	if ok && ver == v.rep.Version && sum == d.TargetsSHA256 {
		return // the store holds the full kit already
	}
	if !d.Base.Have {
		switch {
		case !ok:
			v.fail(bundle.CodeBaseMismatch, "", "the store holds no version of channel %s; this delta needs version %d (targets sha256 %s): import the full kit %d first",
				d.Base.Channel, d.Base.Version, d.Base.TargetsSHA256, d.Base.Version)
			return
		case ver < d.Base.Version:
			v.fail(bundle.CodeBaseMismatch, "", "the store holds version %d of channel %s; this delta needs version %d (a gap: import the kits from %d to %d first)",
				ver, d.Base.Channel, d.Base.Version, ver+1, d.Base.Version)
			return
		case ver > d.Base.Version:
			v.fail(bundle.CodeBaseMismatch, "", "the store holds version %d of channel %s; this delta needs version %d, which the store has gone past",
				ver, d.Base.Channel, d.Base.Version)
			return
		case sum != d.Base.TargetsSHA256:
			v.fail(bundle.CodeBaseMismatch, "", "the store holds version %d of channel %s with targets sha256 %s; this delta needs targets sha256 %s (another kit of the same version)",
				ver, d.Base.Channel, sum, d.Base.TargetsSHA256)
			return
		}
	}
	seen := map[string]bool{}
	for _, p := range d.Patches {
		// A patched file is made on the import from its base, which the
		// store must hold; the file itself it may not.
		seen[p.Result.SHA256] = true
		if !v.opts.Store.HasBlob(p.Base.SHA256, p.Base.Length) {
			v.fail(bundle.CodeBlobMissing, p.PatchPath, "the patch of %s applies to sha256:%s (%d bytes), which the store does not hold", p.Path, p.Base.SHA256, p.Base.Length)
		}
	}
	for _, t := range d.Full {
		if carried[t.SHA256] || seen[t.SHA256] {
			continue
		}
		seen[t.SHA256] = true
		if !v.opts.Store.HasBlob(t.SHA256, t.Length) {
			v.fail(bundle.CodeBlobMissing, t.Path, "the delta leaves out sha256:%s (%d bytes), which the store does not hold", t.SHA256, t.Length)
		}
	}
}
