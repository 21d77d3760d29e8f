package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// DeltaPath is the content file of a delta kit that says how it applies:
// its base, the full kit's signed targets.json and the removed paths.
const DeltaPath = "delta.json"

// DeltaSchema names the JSON schema of DeltaPath.
const DeltaSchema = "ferry.dev/delta/v1"

// MediaDelta is the media type of DeltaPath.
const MediaDelta = "application/vnd.ferry.delta+json"

// MaxDeltaSize caps DeltaPath when it is read: it holds a targets.json,
// which a verifier reads up to DefaultMetadataBudget.
const MaxDeltaSize = 2 * MaxMetadataSize

// Delta is DeltaPath. A delta kit is a kit whose signed Info names a Base
// and which carries, beside DeltaPath, only the files of the full kit
// whose content the base lacks. The full kit is Targets: the signed
// targets.json that the full kit of the same version has, byte for byte,
// so a store that applies the delta holds exactly what the full kit gives
// (the same files, the same targets digest).
type Delta struct {
	Schema string `json:"schema"`
	// Base is the same as the delta's signed Info.Base.
	Base Base `json:"base"`
	// TargetsSHA256 is the sha256 of Targets, the full kit's targets digest.
	TargetsSHA256 string `json:"targetsSha256"`
	// Targets is the full kit's targets.json, its canonical bytes as a
	// string, signed by the channel's targets keys.
	Targets string `json:"targets"`
	// Removed are the base's paths that the full kit no longer has, sorted.
	Removed []string `json:"removed"`
	// Patches are the full kit's files the delta carries as a patch on
	// the base's file (at PatchPath of Path), sorted by path.
	Patches []DeltaPatch `json:"patches,omitempty"`
	// Carried and Files count the content files the delta carries (not
	// DeltaPath) and the full kit has.
	Carried int `json:"carried"`
	Files   int `json:"files"`
}

// DeltaPatch is a file of the full kit that a delta carries as a patch:
// its path, and the base content the patch applies to.
type DeltaPatch struct {
	Path string    `json:"path"`
	Base PatchFile `json:"base"`
}

// ParseDelta decodes DeltaPath and checks its own consistency: schema,
// digest of Targets, sorted unique removed paths. It does not check the
// signatures of Targets (see verify).
func ParseDelta(data []byte) (*Delta, error) {
	if len(data) > MaxDeltaSize {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a delta's description may hold", DeltaPath, len(data), MaxDeltaSize)
	}
	var d Delta
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%s: %w", DeltaPath, err)
	}
	if d.Schema != DeltaSchema {
		return nil, fmt.Errorf("%s: schema %q is not %q", DeltaPath, d.Schema, DeltaSchema)
	}
	sum := sha256.Sum256([]byte(d.Targets))
	if got := hex.EncodeToString(sum[:]); got != d.TargetsSHA256 {
		return nil, fmt.Errorf("%s: the full targets have sha256 %s, targetsSha256 says %s", DeltaPath, got, d.TargetsSHA256)
	}
	for i, p := range d.Removed {
		if i > 0 && d.Removed[i-1] >= p {
			return nil, fmt.Errorf("%s: removed paths not sorted and unique at %q", DeltaPath, p)
		}
		if msg := CheckPath(p); msg != "" {
			return nil, fmt.Errorf("%s: removed path %q: %s", DeltaPath, p, msg)
		}
	}
	for i, p := range d.Patches {
		if i > 0 && d.Patches[i-1].Path >= p.Path {
			return nil, fmt.Errorf("%s: patched paths not sorted and unique at %q", DeltaPath, p.Path)
		}
		if msg := CheckPath(p.Path); msg != "" || !Patchable(p.Path) {
			return nil, fmt.Errorf("%s: patched path %q is not a file a delta may patch", DeltaPath, p.Path)
		}
		if b, err := hex.DecodeString(p.Base.SHA256); err != nil || len(b) != sha256.Size || p.Base.Length < 0 {
			return nil, fmt.Errorf("%s: patch of %q: base %q (%d bytes) is not a hex sha256 and length", DeltaPath, p.Path, p.Base.SHA256, p.Base.Length)
		}
	}
	return &d, nil
}

// DeltaFrom is what a delta is made against: the files of its base kit,
// or those of a site's have-list.
type DeltaFrom struct {
	Base Base
	// Files maps each path of the base (or of the have-list's channel) to
	// its hex sha256: the paths that are not in the new kit are the removed
	// ones, and content with one of these digests is left out.
	Files map[string]string
	// Have holds further hex sha256 digests the site holds (any channel's
	// files, image blobs of a have-list): content with one is left out.
	Have map[string]bool
	// Content, if set, opens the base's file at a path of Files: a changed
	// Patchable file whose patch on it is smaller than a quarter of the
	// file is carried as the patch. Without it, or when it returns an
	// error wrapping fs.ErrNotExist, a changed file goes whole.
	Content func(path string) (io.ReadCloser, error)
}

// WrittenDelta describes a delta kit that WriteDelta produced.
type WrittenDelta struct {
	*Written
	// Full describes the full kit the delta stands for.
	FullTargetsSHA256 string
	FullTargets       int
	FullContentBytes  int64
	// Carried and CarriedBytes count the full kit's files the delta
	// carries (not DeltaPath); Patched and PatchBytes its patches.
	Carried      int
	CarriedBytes int64
	Patched      int
	PatchBytes   int64
	Removed      []string
}

// WriteDelta writes to w the delta kit that takes a site holding from to
// the kit that Write(ctx, w, opts, files) would write. opts.Info.Base must
// be nil: it is set from from.Base. The same files, options, base and
// ed25519 keys give the same bytes.
func WriteDelta(ctx context.Context, w io.Writer, opts WriteOptions, files []File, from DeltaFrom) (*WrittenDelta, error) {
	if len(opts.Roots) == 0 {
		return nil, errors.New("no root metadata given")
	}
	if len(opts.Signers) == 0 {
		return nil, errors.New("no signing key given")
	}
	if opts.Info.Base != nil {
		return nil, errors.New("delta: the full kit's info names a base")
	}
	if from.Base.Channel != opts.Info.Channel {
		return nil, fmt.Errorf("delta: the base is of channel %q, the kit of channel %q", from.Base.Channel, opts.Info.Channel)
	}
	if !from.Base.Have && from.Base.Version >= opts.Info.Version {
		return nil, fmt.Errorf("delta: the base has version %d, not older than the kit's version %d", from.Base.Version, opts.Info.Version)
	}
	info, files, err := prepare(opts, files)
	if err != nil {
		return nil, err
	}
	if err := checkNotDelta(files); err != nil {
		return nil, err
	}
	digests, sizes, err := hashFiles(ctx, files)
	if err != nil {
		return nil, err
	}
	targets, err := targetsOf(info, files, digests, sizes)
	if err != nil {
		return nil, err
	}
	fullJSON, _, err := signMeta(targets, opts.Signers)
	if err != nil {
		return nil, fmt.Errorf("signing the full targets: %w", err)
	}
	fullSum := sha256.Sum256(fullJSON)

	baseDigests := make(map[string]bool, len(from.Files)+len(from.Have))
	for _, d := range from.Files {
		baseDigests[d] = true
	}
	for d := range from.Have {
		baseDigests[d] = true
	}
	inFull := make(map[string]bool, len(files))
	var carried, patches []File
	var patched []DeltaPatch
	var fullBytes, carriedBytes, patchBytes int64
	for i, f := range files {
		inFull[f.Path] = true
		fullBytes += sizes[i]
		if baseDigests[hex.EncodeToString(digests[i])] {
			continue
		}
		if p, ok, err := patchOf(from, f, sizes[i]); err != nil {
			return nil, err
		} else if ok {
			patched = append(patched, p.entry)
			patches = append(patches, p.file)
			patchBytes += int64(len(p.data))
			continue
		}
		f.Digest, f.Size = digests[i], sizes[i]
		carried = append(carried, f)
		carriedBytes += sizes[i]
	}
	removed := []string{}
	for p := range from.Files {
		if !inFull[p] {
			removed = append(removed, p)
		}
	}
	slices.Sort(removed)
	base := from.Base
	d := Delta{
		Schema: DeltaSchema, Base: base, TargetsSHA256: hex.EncodeToString(fullSum[:]), Targets: string(fullJSON),
		Removed: removed, Patches: patched, Carried: len(carried), Files: len(files),
	}
	dj, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	dj = append(dj, '\n')
	carried = append(carried, patches...)
	carried = append(carried, File{
		Path:   DeltaPath,
		Custom: json.RawMessage(`{"mediaType":"` + MediaDelta + `"}`),
		Open:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(dj)), nil },
	})
	dopts := opts
	dopts.Info = info
	dopts.Info.Base = &base
	written, err := Write(ctx, w, dopts, carried)
	if err != nil {
		return nil, err
	}
	return &WrittenDelta{
		Written: written, FullTargetsSHA256: d.TargetsSHA256, FullTargets: len(files), FullContentBytes: fullBytes,
		Carried: d.Carried, CarriedBytes: carriedBytes, Patched: len(patched), PatchBytes: patchBytes, Removed: removed,
	}, nil
}

// madePatch is a file of the full kit carried as a patch.
type madePatch struct {
	entry DeltaPatch
	file  File
	data  []byte
}

// patchOf makes the patch of f, of size bytes, on the base's file at the
// same path, when from can open it and the patch is smaller than a
// quarter of f.
func patchOf(from DeltaFrom, f File, size int64) (*madePatch, bool, error) {
	if from.Content == nil || !Patchable(f.Path) || size < 4096 {
		return nil, false, nil
	}
	if _, ok := from.Files[f.Path]; !ok {
		return nil, false, nil
	}
	rc, err := from.Content(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil // the base's bytes are not at hand (a delta that did not carry them): whole
	}
	if err != nil {
		return nil, false, fmt.Errorf("delta: patch of %s: the base's file: %w", f.Path, err)
	}
	defer rc.Close()
	// The base is read where it is when it can be (a file), so that a
	// large source is never held in memory; else it is read into it.
	var base io.ReaderAt
	var baseLen int64
	if fa, ok := rc.(interface {
		io.ReaderAt
		Stat() (fs.FileInfo, error)
	}); ok {
		fi, err := fa.Stat()
		if err != nil {
			return nil, false, fmt.Errorf("delta: patch of %s: the base's file: %w", f.Path, err)
		}
		base, baseLen = fa, fi.Size()
	} else {
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, false, fmt.Errorf("delta: patch of %s: the base's file: %w", f.Path, err)
		}
		base, baseLen = bytes.NewReader(b), int64(len(b))
	}
	next, err := f.Open()
	if err != nil {
		return nil, false, fmt.Errorf("delta: patch of %s: %w", f.Path, err)
	}
	defer next.Close()
	data, h, err := makePatch(f.Path, base, baseLen, next, int(size/4))
	if errors.Is(err, ErrPatchNotSmaller) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("delta: %w", err)
	}
	// The header names the base by the sha256 of the bytes read: the
	// base's listed digest, or the base's file is not the base's.
	if h.Base.SHA256 != from.Files[f.Path] {
		return nil, false, fmt.Errorf("delta: patch of %s: the base's file has sha256 %s, the base lists %s", f.Path, h.Base.SHA256, from.Files[f.Path])
	}
	return &madePatch{
		entry: DeltaPatch{Path: f.Path, Base: h.Base},
		file: File{Path: PatchPath(f.Path), Custom: json.RawMessage(`{"mediaType":"` + MediaPatch + `"}`),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }},
		data: data,
	}, true, nil
}

// FullTargets parses the full kit's targets of d (canonical form checked,
// signatures not) and returns them with the kit's signed Info.
func (d *Delta) FullTargets() (*metadata.Metadata[metadata.TargetsType], Info, error) {
	t, err := ParseMetadata[metadata.TargetsType]([]byte(d.Targets))
	if err != nil {
		return nil, Info{}, fmt.Errorf("%s: the full targets: %w", DeltaPath, err)
	}
	info, err := KitInfo(t)
	if err != nil {
		return nil, Info{}, fmt.Errorf("%s: the full targets: %w", DeltaPath, err)
	}
	return t, info, nil
}

// ClaimedInfo reads the kit description from targets that were not
// verified, as the kit claims it (unknown fields ignored): for readers that
// only look inside a kit. A kit without one gives the zero Info.
func ClaimedInfo(t *metadata.Metadata[metadata.TargetsType]) (Info, error) {
	var info Info
	raw, ok := t.Signed.UnrecognizedFields[KitField]
	if !ok {
		return info, nil
	}
	b, err := json.Marshal(raw)
	if err == nil {
		err = json.Unmarshal(b, &info)
	}
	if err != nil {
		return info, fmt.Errorf("kit description in targets.json: %w", err)
	}
	return info, nil
}

// KitInfo reads the kit description from the signed part of a kit's
// targets, refusing unknown fields and another format.
func KitInfo(t *metadata.Metadata[metadata.TargetsType]) (Info, error) {
	var info Info
	raw, ok := t.Signed.UnrecognizedFields[KitField]
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
	if info.Format != FormatVersion {
		return info, fmt.Errorf("kit format %d is not supported (this ferry reads format %d)", info.Format, FormatVersion)
	}
	return info, nil
}
