package kit

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
	"os"
	"strings"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/verify"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// DeltaFromKit verifies the kit at path as the base of a delta of channel:
// it must be a kit of that channel (full or itself a delta) that verifies
// under roots, the channel's root chain that the mirror holds, at its own
// creation time (an old base may have expired since); attestations
// re-verifies the attestation records it carries, as ferry verify does. It returns the
// base's files, by the full kit's targets when the base is a delta.
//
// dir, if not "", is a directory the caller owns and removes once the
// delta is written: the base's files that a delta may patch
// (bundle.Patchable: its advisories) are kept there as they verify, one
// temporary file each, and from.Content opens them, so that a changed one
// may go as a patch on it. A base that is itself a delta holds only what
// it carries: for any other path Content returns an error wrapping
// fs.ErrNotExist, and Build carries that file whole. With dir "" Content
// is nil and changed files go whole. On error DeltaFromKit leaves nothing
// in dir.
func DeltaFromKit(ctx context.Context, path string, roots [][]byte, channel string, attestations verify.AttestationVerifier, dir string) (from *bundle.DeltaFrom, err error) {
	if len(roots) == 0 {
		return nil, fmt.Errorf("base %s: no channel root to verify it against", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("base kit: %w", err)
	}
	info, err := peekInfo(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("base kit %s: %w", path, err)
	}
	if info.Channel != channel {
		return nil, fmt.Errorf("base kit %s is of channel %q, the kit of channel %q", path, info.Channel, channel)
	}
	f, err = os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("base kit: %w", err)
	}
	defer f.Close()
	opts := verify.Options{At: info.Created, Attestations: attestations}
	kept := &keptFiles{dir: dir, paths: map[string]string{}}
	defer func() {
		if err != nil {
			kept.remove()
		}
	}()
	if dir != "" {
		opts.Content = kept.keep
	}
	rep, err := verify.Kit(ctx, f, verify.Static(verify.Trust{Root: roots[0]}), opts)
	if err != nil {
		return nil, fmt.Errorf("base kit %s: %w", path, err)
	}
	if !rep.OK {
		return nil, fmt.Errorf("base kit %s does not verify under the channel's root: %w", path, rep.Err())
	}
	if rep.Channel != channel {
		return nil, fmt.Errorf("base kit %s is of channel %q, the kit of channel %q", path, rep.Channel, channel)
	}
	targets, sum := rep.Targets, rep.TargetsSHA256
	if rep.Delta != nil {
		targets, sum = rep.Delta.Full, rep.Delta.TargetsSHA256
	}
	from = &bundle.DeltaFrom{
		Base:  bundle.Base{Channel: rep.Channel, Version: rep.Version, TargetsSHA256: sum},
		Files: make(map[string]string, len(targets)),
	}
	for _, t := range targets {
		if t.Path == bundle.DeltaPath {
			continue
		}
		from.Files[t.Path] = t.SHA256
	}
	if dir != "" {
		from.Content = kept.open
	}
	return from, nil
}

// keptFiles are the base's Patchable files, kept in dir as they verify.
type keptFiles struct {
	dir   string
	paths map[string]string // kit path -> file in dir, for verified bytes only
	made  []string          // every file made in dir
}

// keep is a verify.ContentFunc: it streams a Patchable entry to a file in
// dir and keeps it once the bytes have the sha256 the targets list (the
// whole kit's verification is still to come: DeltaFromKit returns the
// files only when it passed).
func (k *keptFiles) keep(t verify.Target, r io.Reader) error {
	if !bundle.Patchable(t.Path) {
		return nil
	}
	f, err := os.CreateTemp(k.dir, "base-*.jsonl")
	if err != nil {
		return fmt.Errorf("keeping the base's %s: %w", t.Path, err)
	}
	k.made = append(k.made, f.Name())
	h := sha256.New()
	var sum func() []byte
	if dr, ok := r.(verify.DigestReader); ok {
		sum = dr.SHA256
	} else {
		r, sum = io.TeeReader(r, h), func() []byte { return h.Sum(nil) }
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("keeping the base's %s: %w", t.Path, err)
	}
	if n != t.Length || hex.EncodeToString(sum()) != t.SHA256 {
		// Not the listed bytes: the verification fails on them.
		return os.Remove(f.Name())
	}
	k.paths[t.Path] = f.Name()
	return nil
}

// open opens the kept file of path, or fails with fs.ErrNotExist when the
// base did not carry its bytes.
func (k *keptFiles) open(path string) (io.ReadCloser, error) {
	name, ok := k.paths[path]
	if !ok {
		return nil, fmt.Errorf("the base kit does not carry the bytes of %s: %w", path, fs.ErrNotExist)
	}
	return os.Open(name)
}

// remove removes every file keep made.
func (k *keptFiles) remove() {
	for _, name := range k.made {
		os.Remove(name)
	}
	k.made, k.paths = nil, map[string]string{}
}

// HaveSchema is the schema of a have-list: ferry store inventory's output.
const HaveSchema = "ferry.dev/store-inventory/v1"

// haveList is the part of a store inventory that a delta is made against.
type haveList struct {
	Schema   string `json:"schema"`
	Channels []struct {
		Channel       string            `json:"channel"`
		Version       int64             `json:"version"`
		TargetsSHA256 string            `json:"targetsSha256"`
		Files         map[string]string `json:"files"`
	} `json:"channels"`
	Images []string `json:"images"`
}

// DeltaFromHave reads a have-list (ferry store inventory at the site) and
// returns what a delta of channel leaves out: every content the site
// holds, of any channel, and its image blobs. The have-list is signed by
// nobody: it only decides what the delta leaves out; the delta verifies on
// its own, and an import onto a store that lacks something it left out
// fails with KIT_BLOB_MISSING.
func DeltaFromHave(r io.Reader, name, channel string) (*bundle.DeltaFrom, error) {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("have-list %s: %w", name, err)
	}
	var h haveList
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("have-list %s: %w", name, err)
	}
	if h.Schema != HaveSchema {
		return nil, fmt.Errorf("have-list %s: schema %q is not %q (write it with ferry store inventory --have)", name, h.Schema, HaveSchema)
	}
	from := &bundle.DeltaFrom{Base: bundle.Base{Channel: channel, Have: true}, Files: map[string]string{}, Have: map[string]bool{}}
	for i, c := range h.Channels {
		for p, d := range c.Files {
			if !isHex256(d) {
				return nil, fmt.Errorf("have-list %s: channels[%d] (%s): files[%q]: %q is not a hex sha256", name, i, c.Channel, p, d)
			}
			if c.Channel == channel {
				from.Files[p] = d
			} else {
				from.Have[d] = true
			}
		}
		if c.Channel == channel {
			from.Base.Version, from.Base.TargetsSHA256 = c.Version, c.TargetsSHA256
		}
	}
	for i, d := range h.Images {
		hexd, ok := strings.CutPrefix(d, "sha256:")
		if !ok || !isHex256(hexd) {
			return nil, fmt.Errorf("have-list %s: images[%d]: %q is not sha256:<hex>", name, i, d)
		}
		from.Have[hexd] = true
	}
	return from, nil
}

func isHex256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && s == strings.ToLower(s)
}

// peekInfo reads the kit description from the (not yet verified) signed
// targets of a kit, which come before any content: only the time to
// verify the base at is taken from it.
func peekInfo(r io.Reader) (bundle.Info, error) {
	br, err := bundle.NewReader(r)
	if err != nil {
		return bundle.Info{}, err
	}
	defer br.Close()
	for {
		e, err := br.Next()
		if err == io.EOF {
			return bundle.Info{}, errors.New("no tuf/targets.json")
		}
		if err != nil {
			return bundle.Info{}, err
		}
		if !strings.HasPrefix(e.Name, bundle.MetaDir) {
			return bundle.Info{}, errors.New("no tuf/targets.json before the content")
		}
		if e.Name != bundle.TargetsPath {
			continue
		}
		data, err := br.ReadAll(bundle.MaxMetadataSize)
		if err != nil {
			return bundle.Info{}, err
		}
		t, err := metadata.Targets().FromBytes(data)
		if err != nil {
			return bundle.Info{}, fmt.Errorf("%s: %w", e.Name, err)
		}
		return bundle.KitInfo(t)
	}
}
