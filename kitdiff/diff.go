package kitdiff

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/gowebpki/jcs"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Schema names the JSON schema of Diff.
const Schema = "ferry.dev/kit-diff/v1"

// ErrOtherChannel is returned by Compare for kits of two channels.
var ErrOtherChannel = errors.New("the kits belong to different channels")

// Side describes one of the two kits.
type Side struct {
	Name        string       `json:"name"`
	Channel     string       `json:"channel"`
	Version     int64        `json:"version"`
	Created     time.Time    `json:"created"`
	Base        *bundle.Base `json:"base,omitempty"`
	RootVersion int64        `json:"rootVersion"`
	Verified    bool         `json:"verified"`
}

// Image is an image by digest with the names it carries.
type Image struct {
	Digest string   `json:"digest"`
	Names  []string `json:"names"`
}

// NameMove is a name that points to another image digest.
type NameMove struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Images is how the images changed.
type Images struct {
	Added     []Image    `json:"added"`
	Removed   []Image    `json:"removed"`
	Moved     []NameMove `json:"moved"`
	Unchanged int        `json:"unchanged"`
	// BlobsAdded and BlobsRemoved count files under images/blobs/.
	BlobsAdded   int `json:"blobsAdded"`
	BlobsRemoved int `json:"blobsRemoved"`
}

// Advisory names one advisory: its source (advisories/<source>/) and id.
type Advisory struct {
	Source string `json:"source"`
	ID     string `json:"id"`
}

// Advisories is how the advisories changed: a record is modified when its
// line in osv.jsonl differs.
type Advisories struct {
	Added     []Advisory `json:"added"`
	Removed   []Advisory `json:"removed"`
	Modified  []Advisory `json:"modified"`
	Unchanged int        `json:"unchanged"`
}

// Files is how a set of content files changed, by path and sha256.
type Files struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Unchanged int      `json:"unchanged"`
}

// RoleKeys is how the keys of one role of the root changed.
type RoleKeys struct {
	Role          string   `json:"role"`
	Added         []string `json:"added"`
	Removed       []string `json:"removed"`
	ThresholdFrom int      `json:"thresholdFrom"`
	ThresholdTo   int      `json:"thresholdTo"`
}

// Trust is how the trust changed: the channel's root and the trust files
// the kit carries (trust/…: public keys, issuers, carried TUF
// repositories).
type Trust struct {
	RootVersionFrom int64      `json:"rootVersionFrom"`
	RootVersionTo   int64      `json:"rootVersionTo"`
	Roles           []RoleKeys `json:"roles"`
	Files           Files      `json:"files"`
}

// Diff is what changed from the old kit to the new one.
type Diff struct {
	Schema string `json:"schema"`
	// Verified is true when both kits were verified before the diff.
	Verified   bool       `json:"verified"`
	Old        Side       `json:"old"`
	New        Side       `json:"new"`
	Notes      []string   `json:"notes"`
	Images     Images     `json:"images"`
	Advisories Advisories `json:"advisories"`
	VEX        Files      `json:"vex"`
	Trust      Trust      `json:"trust"`
	// Other is every other content file but kit.json.
	Other Files `json:"other"`
}

// Compare returns what changed from old to new, two kits of one channel
// (ErrOtherChannel otherwise), in either order of versions.
//
// When new is a delta kit, it carries only what changed on its base and
// names the base's paths its full kit no longer has (delta.json): a file
// it neither carries nor removes is unchanged, and so are the advisories
// of a source whose osv.jsonl it neither carries nor removes and the
// images when it neither carries nor removes images/index.json. When old
// is a delta, what it does not carry cannot be told from what new adds; a
// note says so. A delta's description itself (delta.json) is not compared.
//
// An osv.jsonl file that new carries as a patch (bundle.PatchPath) is
// compared as if carried whole when old holds the patch's base (the same
// sha256): the records of the base's lines the patch copies and of the
// lines it inserts are the file's. The file's bytes are not rebuilt, so
// its sha256 is not checked here (an import checks it). When old does not
// hold the base, a note says the file cannot be compared and none of its
// source's advisories are counted. The patches themselves are not files
// of the full kit and show nowhere.
func Compare(old, new *Kit) (*Diff, error) {
	if old.Info.Channel != new.Info.Channel {
		return nil, fmt.Errorf("%w: %q and %q", ErrOtherChannel, old.Info.Channel, new.Info.Channel)
	}
	d := &Diff{Schema: Schema, Verified: old.Verified && new.Verified, Old: side(old), New: side(new), Notes: []string{}}
	if !d.Verified {
		d.Notes = append(d.Notes, "NOT VERIFIED: the kits were read as they claim to be; give --root (or --store) to verify them first")
	}
	if new.IsDelta() {
		d.Notes = append(d.Notes, fmt.Sprintf("new is a delta kit on version %d: what it neither carries nor removes is counted as unchanged", new.Info.Base.Version))
	}
	if old.IsDelta() {
		d.Notes = append(d.Notes, fmt.Sprintf("old is a delta kit on version %d: what it does not carry shows as added", old.Info.Base.Version))
	}
	// gone reports whether a path of old that new lacks is removed: always
	// for a full kit, when its delta.json says so for a delta.
	gone := func(p string) bool { return !new.IsDelta() || new.removes(p) }
	d.Images = diffImages(old, new, gone)
	newAdv, patched, unknown, notes := applyPatches(old, new)
	d.Notes = append(d.Notes, notes...)
	// The sources new speaks for: all for a full kit, the carried, patched
	// and removed ones for a delta.
	speaks := func(source string) bool {
		p := advisoriesDir + source + "/osv.jsonl"
		return slices.Contains(new.AdvisoryFiles, p) || patched[source] || gone(p)
	}
	d.Advisories = diffAdvisories(old.Advisories, newAdv, speaks, func(source string) bool { return unknown[source] })
	d.VEX = diffFiles(old.Files, new.Files, gone, func(p string) bool { return strings.HasPrefix(p, vexDir) })
	d.Trust = Trust{
		RootVersionFrom: old.Root.Signed.Version, RootVersionTo: new.Root.Signed.Version,
		Roles: diffRoles(old.Root, new.Root),
		Files: diffFiles(old.Files, new.Files, gone, func(p string) bool { return strings.HasPrefix(p, trustDir) }),
	}
	d.Other = diffFiles(old.Files, new.Files, gone, func(p string) bool {
		return p != "kit.json" && p != bundle.DeltaPath && !strings.HasPrefix(p, bundle.PatchDir) &&
			!strings.HasPrefix(p, vexDir) && !strings.HasPrefix(p, trustDir) &&
			!strings.HasPrefix(p, "images/") && !strings.HasPrefix(p, advisoriesDir)
	})
	return d, nil
}

func side(k *Kit) Side {
	return Side{Name: k.Info.Name, Channel: k.Info.Channel, Version: k.Info.Version, Created: k.Info.Created.UTC(),
		Base: k.Info.Base, RootVersion: k.Root.Signed.Version, Verified: k.Verified}
}

func diffImages(old, new *Kit, gone func(string) bool) Images {
	out := Images{Added: []Image{}, Removed: []Image{}, Moved: []NameMove{}}
	blobs := diffFiles(old.Files, new.Files, gone, func(p string) bool { return strings.HasPrefix(p, "images/blobs/") })
	out.BlobsAdded, out.BlobsRemoved = len(blobs.Added), len(blobs.Removed)
	if _, carried := new.Files[imagesIndexPath]; !carried && !gone(imagesIndexPath) {
		out.Unchanged = len(old.Images)
		return out
	}
	for _, dg := range slices.Sorted(maps.Keys(new.Images)) {
		if _, ok := old.Images[dg]; ok {
			out.Unchanged++
		} else {
			out.Added = append(out.Added, Image{Digest: dg, Names: new.Images[dg]})
		}
	}
	for _, dg := range slices.Sorted(maps.Keys(old.Images)) {
		if _, ok := new.Images[dg]; !ok {
			out.Removed = append(out.Removed, Image{Digest: dg, Names: old.Images[dg]})
		}
	}
	oldName, newName := byName(old.Images), byName(new.Images)
	for _, n := range slices.Sorted(maps.Keys(newName)) {
		if from, ok := oldName[n]; ok && from != newName[n] {
			out.Moved = append(out.Moved, NameMove{Name: n, From: from, To: newName[n]})
		}
	}
	return out
}

// byName maps each name to its digest (the greatest, if a kit gives one
// name to several digests).
func byName(images map[string][]string) map[string]string {
	m := map[string]string{}
	for _, dg := range slices.Sorted(maps.Keys(images)) {
		for _, n := range images[dg] {
			m[n] = dg
		}
	}
	return m
}

// diffAdvisories compares the records of old and new: new speaks for a
// source whose file it carries (else what old has of it is unchanged), and
// nothing is counted of an unknown source.
func diffAdvisories(old, new map[string]string, speaks, unknown func(source string) bool) Advisories {
	out := Advisories{Added: []Advisory{}, Removed: []Advisory{}, Modified: []Advisory{}}
	for _, key := range slices.Sorted(maps.Keys(new)) {
		o, ok := old[key]
		switch {
		case !ok:
			out.Added = append(out.Added, advisory(key))
		case o != new[key]:
			out.Modified = append(out.Modified, advisory(key))
		default:
			out.Unchanged++
		}
	}
	for _, key := range slices.Sorted(maps.Keys(old)) {
		if _, ok := new[key]; ok {
			continue
		}
		switch a := advisory(key); {
		case unknown(a.Source):
		case speaks(a.Source):
			out.Removed = append(out.Removed, a)
		default:
			out.Unchanged++
		}
	}
	return out
}

// applyPatches returns new's records with those of the osv.jsonl files it
// carries as a patch on a file old holds, the sources of these files
// (patched), those of the files it patches on a base old lacks (unknown)
// and a note for each of those.
func applyPatches(old, new *Kit) (adv map[string]string, patched, unknown map[string]bool, notes []string) {
	adv, patched, unknown = new.Advisories, map[string]bool{}, map[string]bool{}
	for _, p := range new.Patches {
		source := osvSource(p.Path)
		if source == "" {
			continue
		}
		recs, why := patchedLines(old, new, p)
		if why != "" {
			unknown[source] = true
			notes = append(notes, fmt.Sprintf("%s is carried as a patch that cannot be compared: %s; none of the %s advisories are counted",
				p.Path, why, source))
			continue
		}
		if len(patched) == 0 {
			adv = maps.Clone(new.Advisories)
		}
		patched[source] = true
		for _, l := range recs {
			if l.key != "" {
				adv[l.key] = l.sum
			}
		}
	}
	return adv, patched, unknown, notes
}

// patchedLines returns the lines of the file that new's patch p makes of
// old's file, or why it cannot.
func patchedLines(old, new *Kit, p bundle.DeltaPatch) ([]line, string) {
	if got, ok := old.Files[p.Path]; !ok {
		return nil, fmt.Sprintf("its base (sha256:%s) is not in old, which has no such file", shortHex(p.Base.SHA256))
	} else if got != p.Base.SHA256 {
		return nil, fmt.Sprintf("its base (sha256:%s) is not in old, whose file has sha256:%s", shortHex(p.Base.SHA256), shortHex(got))
	}
	pt := new.patches[p.Path]
	if pt == nil {
		return nil, "new does not carry the patch its delta.json lists"
	}
	if pt.header.Base != p.Base {
		return nil, "the patch's base is not the one its delta.json lists"
	}
	base := old.lines[p.Path]
	var out []line
	for i, op := range pt.header.Ops {
		src := base
		if op[0] == bundle.OpInsert {
			src = pt.data
		}
		seg, ok := wholeLines(src, op[1], op[2])
		if !ok || (len(out) > 0 && !out[len(out)-1].nl) {
			return nil, fmt.Sprintf("its op %d does not take whole lines", i)
		}
		out = append(out, seg...)
	}
	return out, ""
}

// wholeLines returns the lines of ls that make the n bytes at off, when
// these are whole lines.
func wholeLines(ls []line, off, n int64) ([]line, bool) {
	i, ok := slices.BinarySearchFunc(ls, off, func(l line, off int64) int { return cmp.Compare(l.off, off) })
	if !ok || n <= 0 {
		return nil, false
	}
	j := i
	for j < len(ls) && ls[j].off < off+n {
		j++
	}
	if last := ls[j-1]; last.off+last.n != off+n {
		return nil, false
	}
	return ls[i:j], true
}

// shortHex is the first 12 digits of a hex digest.
func shortHex(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func advisory(key string) Advisory {
	source, id, _ := strings.Cut(key, "/")
	return Advisory{Source: source, ID: id}
}

func diffFiles(old, new map[string]string, gone func(string) bool, in func(string) bool) Files {
	out := Files{Added: []string{}, Removed: []string{}, Changed: []string{}}
	for _, p := range slices.Sorted(maps.Keys(new)) {
		if !in(p) {
			continue
		}
		o, ok := old[p]
		switch {
		case !ok:
			out.Added = append(out.Added, p)
		case o != new[p]:
			out.Changed = append(out.Changed, p)
		default:
			out.Unchanged++
		}
	}
	for _, p := range slices.Sorted(maps.Keys(old)) {
		if _, ok := new[p]; ok || !in(p) {
			continue
		}
		if gone(p) {
			out.Removed = append(out.Removed, p)
		} else {
			out.Unchanged++
		}
	}
	return out
}

var roles = []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

func diffRoles(old, new *metadata.Metadata[metadata.RootType]) []RoleKeys {
	out := []RoleKeys{}
	for _, r := range roles {
		o, n := old.Signed.Roles[r], new.Signed.Roles[r]
		if o == nil || n == nil {
			continue
		}
		rk := RoleKeys{Role: r, Added: []string{}, Removed: []string{}, ThresholdFrom: o.Threshold, ThresholdTo: n.Threshold}
		for _, id := range slices.Sorted(slices.Values(n.KeyIDs)) {
			if !slices.Contains(o.KeyIDs, id) {
				rk.Added = append(rk.Added, id)
			}
		}
		for _, id := range slices.Sorted(slices.Values(o.KeyIDs)) {
			if !slices.Contains(n.KeyIDs, id) {
				rk.Removed = append(rk.Removed, id)
			}
		}
		if len(rk.Added)+len(rk.Removed) > 0 || rk.ThresholdFrom != rk.ThresholdTo {
			out = append(out, rk)
		}
	}
	return out
}

// Empty reports whether nothing changed but the kit's own description.
func (d *Diff) Empty() bool {
	f := func(x Files) bool { return len(x.Added)+len(x.Removed)+len(x.Changed) == 0 }
	return len(d.Images.Added)+len(d.Images.Removed)+len(d.Images.Moved) == 0 &&
		len(d.Advisories.Added)+len(d.Advisories.Removed)+len(d.Advisories.Modified) == 0 &&
		f(d.VEX) && f(d.Trust.Files) && f(d.Other) && len(d.Trust.Roles) == 0 &&
		d.Trust.RootVersionFrom == d.Trust.RootVersionTo
}

// MarshalCanonical returns the diff as canonical JSON (RFC 8785): the same
// kits give the same bytes.
func (d *Diff) MarshalCanonical() ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return jcs.Transform(b)
}
