// Package kitdiff compares two kits of one channel: the images they carry
// (by digest, and the names that moved), the advisories (ids added,
// removed, modified), the VEX documents and the trust material (root
// version, keys, carried trust files). It reads kits as streams, verified
// (verify.Kit) or not; it never writes, never reads the clock and never
// opens a network connection.
package kitdiff

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/format"
	"github.com/ferry-dev/ferry/verify"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Paths of the kit's content that the diff reads.
const (
	imagesIndexPath = "images/index.json"
	advisoriesDir   = "advisories/"
	vexDir          = "vex/"
	trustDir        = "trust/"
)

// maxIndex caps what is read of images/index.json; maxLine an OSV record.
const (
	maxIndex = 64 << 20
	maxLine  = 64 << 20
)

// Kit is what the diff needs of one kit: its description, its final root,
// every content file's sha256, its images and its advisories (with where
// each record's line lies, to follow a delta's patch on the file). Memory
// grows with the number of files, images, advisory lines and patch ops,
// not with their sizes.
type Kit struct {
	Info bundle.Info
	// Verified is true when the kit was read with ReadVerified and passed.
	Verified bool
	// Root is the kit's last root (of the chain it carries).
	Root *metadata.Metadata[metadata.RootType]
	// Files maps every content path to its sha256 (hex).
	Files map[string]string
	// Images maps an image's digest to the names it carries in the kit.
	Images map[string][]string
	// Advisories maps "source/id" to the sha256 of its OSV record line.
	Advisories map[string]string
	// AdvisoryFiles lists the advisories/<source>/osv.jsonl files read.
	AdvisoryFiles []string
	// Removed are, for a delta kit, the paths of its base that the full
	// kit it stands for no longer has (its delta.json), sorted.
	Removed []string
	// Patches are, for a delta kit, the files it carries as a patch on
	// its base's file (its delta.json), sorted by path.
	Patches []bundle.DeltaPatch

	// lines holds the lines of each advisories file read, in order.
	lines map[string][]line
	// patches holds what each patch carried holds, by the patched path.
	patches map[string]*patch
}

// line is one line of an advisories file (or of a patch's data): where
// it starts, its length with its newline, whether it has one, and its
// record's key and sum ("" for a blank line).
type line struct {
	off, n   int64
	nl       bool
	key, sum string
}

// patch is what the diff keeps of a patch: its header and the lines of
// its data.
type patch struct {
	header *bundle.PatchHeader
	data   []line
}

func newKit() *Kit {
	return &Kit{Files: map[string]string{}, Images: map[string][]string{}, Advisories: map[string]string{},
		lines: map[string][]line{}, patches: map[string]*patch{}}
}

// IsDelta reports whether the kit is a delta kit: it carries only what
// changed on its base.
func (k *Kit) IsDelta() bool { return k.Info.Base != nil }

// removes reports whether the delta kit k says that its full kit no
// longer has path.
func (k *Kit) removes(path string) bool {
	_, ok := slices.BinarySearch(k.Removed, path)
	return ok
}

// Read reads a kit without verifying anything: what it says about itself
// is taken as it is. A kit that is not readable as a kit is an error.
func Read(r io.Reader) (*Kit, error) {
	br, err := bundle.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	k := newKit()
	var lastRoot []byte
	var targets *metadata.Metadata[metadata.TargetsType]
	for {
		e, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			data, err := br.ReadAll(bundle.MaxMetadataSize)
			if err != nil {
				return nil, err
			}
			switch {
			case strings.HasSuffix(e.Name, ".root.json"):
				lastRoot = data
			case e.Name == bundle.TargetsPath:
				if targets, err = metadata.Targets().FromBytes(data); err != nil {
					return nil, fmt.Errorf("%s: %w", e.Name, err)
				}
				br.SetBudget(bundle.ClaimedBudget(targets.Signed.Targets))
			}
			continue
		}
		if err := k.collect(e.Name, e.Size, br); err != nil {
			return nil, err
		}
	}
	if targets == nil || lastRoot == nil {
		return nil, errors.New("the kit has no TUF metadata (tuf/targets.json, roots)")
	}
	if k.Info, err = bundle.ClaimedInfo(targets); err != nil {
		return nil, err
	}
	if k.Root, err = metadata.Root().FromBytes(lastRoot); err != nil {
		return nil, fmt.Errorf("last root: %w", err)
	}
	return k, nil
}

// ReadVerified reads a kit through verify.Kit against src with opts (At,
// Attestations; its Content is the diff's): the diff then rests on
// verified bytes only. A kit that fails is an error that wraps the
// report's first failure (a *bundle.Error).
func ReadVerified(ctx context.Context, r io.Reader, src verify.TrustSource, opts verify.Options) (*Kit, error) {
	k := newKit()
	opts.Content = func(t verify.Target, r io.Reader) error { return k.collect(t.Path, t.Length, r) }
	rep, err := verify.Kit(ctx, r, src, opts)
	if err != nil {
		return nil, err
	}
	if !rep.OK {
		return nil, rep.Err()
	}
	k.Verified = true
	k.Info = bundle.Info{Name: rep.Name, Channel: rep.Channel, Version: rep.Version, Created: *rep.Created, Expires: *rep.Expires, Base: rep.Base}
	if k.Root, err = metadata.Root().FromBytes(rep.Metadata().Root); err != nil {
		return nil, err
	}
	return k, nil
}

// collect records one content file: its sha256, and what images/index.json,
// advisories/<source>/osv.jsonl and a delta's patch of one hold. r yields
// the file's size bytes.
func (k *Kit) collect(path string, size int64, r io.Reader) error {
	h := sha256.New()
	tr := io.TeeReader(r, h)
	var err error
	switch {
	case path == bundle.DeltaPath:
		err = k.readDelta(tr)
	case path == imagesIndexPath:
		err = k.readImages(tr)
	case osvSource(path) != "":
		k.AdvisoryFiles = append(k.AdvisoryFiles, path)
		err = k.readAdvisories(path, tr)
	case strings.HasPrefix(path, bundle.PatchDir) && osvSource(strings.TrimPrefix(path, bundle.PatchDir)) != "":
		err = k.readPatch(strings.TrimPrefix(path, bundle.PatchDir), size, tr)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	k.Files[path] = hex.EncodeToString(h.Sum(nil))
	return nil
}

// readDelta reads a delta kit's description for the paths it removes.
func (k *Kit) readDelta(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, bundle.MaxDeltaSize+1))
	if err != nil {
		return err
	}
	d, err := bundle.ParseDelta(data)
	if err != nil {
		return err
	}
	k.Removed, k.Patches = d.Removed, d.Patches
	return nil
}

type ociIndex struct {
	Manifests []struct {
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
	} `json:"manifests"`
}

func (k *Kit) readImages(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, maxIndex+1))
	if err != nil {
		return err
	}
	if len(data) > maxIndex {
		return fmt.Errorf("larger than %d bytes", maxIndex)
	}
	var idx ociIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return err
	}
	for _, d := range idx.Manifests {
		if _, att := d.Annotations[format.AnnotationSubject]; att {
			continue // a signature or attestation of an image
		}
		names := k.Images[d.Digest]
		if names == nil {
			names = []string{}
		}
		if n := d.Annotations[format.AnnotationRefName]; n != "" && !slices.Contains(names, n) {
			names = append(names, n)
			slices.Sort(names)
		}
		k.Images[d.Digest] = names
	}
	return nil
}

// osvSource is the source of an advisories/<source>/osv.jsonl path, or "".
func osvSource(path string) string {
	rest, ok := strings.CutPrefix(path, advisoriesDir)
	if !ok {
		return ""
	}
	source, ok := strings.CutSuffix(rest, "/osv.jsonl")
	if !ok || source == "" {
		return ""
	}
	return source
}

// readAdvisories reads the records of the osv.jsonl file at path.
func (k *Kit) readAdvisories(path string, r io.Reader) error {
	lines, err := readLines(osvSource(path), r, 1)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if l.key != "" {
			k.Advisories[l.key] = l.sum
		}
	}
	k.lines[path] = lines
	return nil
}

// readPatch reads the patch of the osv.jsonl file at path, size bytes: its
// header, and the records of the lines it inserts.
func (k *Kit) readPatch(path string, size int64, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	h, err := bundle.ReadPatchHeader(br, size)
	if err != nil {
		return err
	}
	if h.Path != path {
		return fmt.Errorf("the patch names %s", h.Path)
	}
	data, err := readLines(osvSource(path), br, 2)
	if err != nil {
		return fmt.Errorf("patch data: %w", err)
	}
	k.patches[path] = &patch{header: h, data: data}
	return nil
}

// readLines reads the lines of OSV records of source: each record's key
// (source/id) and the sha256 of its line without surrounding space. first
// is the number of the first line, for errors.
func readLines(source string, r io.Reader, first int) ([]line, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	var lines []line
	var off int64
	for n := first; ; n++ {
		raw, err := readRawLine(br, maxLine)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if len(raw) == 0 {
			return lines, nil
		}
		l := line{off: off, n: int64(len(raw)), nl: raw[len(raw)-1] == '\n'}
		off += l.n
		if b := bytes.TrimSpace(raw); len(b) > 0 {
			var rec struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(b, &rec); err != nil || rec.ID == "" {
				return nil, fmt.Errorf("line %d: not an OSV record with an id", n)
			}
			sum := sha256.Sum256(b)
			l.key, l.sum = source+"/"+rec.ID, hex.EncodeToString(sum[:])
		}
		lines = append(lines, l)
		if err == io.EOF {
			return lines, nil
		}
	}
}

// readRawLine reads one line, its newline included, of at most max bytes.
// The bytes live until the next read of r.
func readRawLine(r *bufio.Reader, max int) ([]byte, error) {
	frag, err := r.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return frag, err
	}
	raw := append([]byte(nil), frag...)
	for err == bufio.ErrBufferFull {
		if len(raw) > max {
			return nil, fmt.Errorf("longer than %d bytes", max)
		}
		frag, err = r.ReadSlice('\n')
		raw = append(raw, frag...)
	}
	if len(raw) > max+1 {
		return nil, fmt.Errorf("longer than %d bytes", max)
	}
	return raw, err
}
