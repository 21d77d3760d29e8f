package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/ferry-dev/ferry/bundle"

	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
)

// Active implements verify.DeltaStore: the channel's active kit as the
// import found it (TrustFor loads it before any content is read).
func (im *importer) Active(channel string) (int64, string, bool) {
	if im.prev == nil || im.prev.Channel != channel {
		return 0, "", false
	}
	return im.prev.Version, im.prev.TargetsSHA256, true
}

// HasBlob implements verify.DeltaStore. The import holds the store's lock,
// so a blob found here stays until the import commits.
func (im *importer) HasBlob(sha256 string, length int64) bool {
	return im.s.holds(context.Background(), sha256, length)
}

var _ verify.DeltaStore = (*importer)(nil)

// fullKit returns, for a verified delta kit, the report of the full kit
// it stands for: every file of the full kit (those the delta carried are
// staged, the others are the store's blobs, which verify found), its
// targets digest and counts. The store then imports it as it would the
// full kit, so that both leave the same state.
func fullKit(rep *verify.Report) *verify.Report {
	full := *rep
	full.Targets = rep.Delta.Full
	full.TargetsSHA256 = rep.Delta.TargetsSHA256
	full.Base = nil
	full.Carried = nil
	full.Counts = map[string]verify.TypeCount{}
	for _, t := range full.Targets {
		c := full.Counts[t.Type]
		c.Files++
		c.Bytes += t.Length
		full.Counts[t.Type] = c
	}
	return &full
}

// DeltaStore returns the store as a verify.DeltaStore, for checking a
// delta kit against the site without importing it (`ferry verify
// --store`): its active kits and its blobs. It reads the store in one read
// transaction per call and never writes.
func (s *Store) DeltaStore(ctx context.Context) verify.DeltaStore {
	return storeDelta{ctx: ctx, s: s}
}

type storeDelta struct {
	ctx context.Context
	s   *Store
}

func (d storeDelta) Active(channel string) (int64, string, bool) {
	if !d.s.exists() {
		return 0, "", false
	}
	var st *channelState
	err := d.s.view(d.ctx, func(tx *bolt.Tx) error {
		var err error
		st, err = getChannel(tx, channel)
		return err
	})
	if err != nil || st == nil {
		return 0, "", false
	}
	return st.Version, st.TargetsSHA256, true
}

func (d storeDelta) HasBlob(sha256 string, length int64) bool {
	return d.s.exists() && d.s.holds(d.ctx, sha256, length)
}

// dropUnreferenced removes, before they are placed, the staged blobs that
// no target of the kit being imported references: a delta's own
// description, which is not a file of the full kit it stands for.
func (st *stager) dropUnreferenced(targets []verify.Target) {
	keep := make(map[string]bool, len(targets))
	for _, t := range targets {
		keep[t.SHA256] = true
	}
	for sha, b := range st.staged {
		if keep[sha] || st.keep[sha] {
			continue
		}
		if b.tmp != "" {
			os.Remove(b.tmp)
		}
		delete(st.staged, sha)
	}
}

// expand makes the file that the staged patch t (staged as b) stands for,
// on the store's blob of the patch's base, and stages it as the kit's
// target it names: its bytes are checked against the sha256 the patch
// says, which checkPatches compares with the full kit's signed targets.
func (st *stager) expand(t verify.Target, b *stagedBlob) error {
	src := b.tmp
	if src == "" {
		src = st.s.blobPath(t.SHA256)
	}
	pf, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Path, err)
	}
	defer pf.Close()
	br := bufio.NewReaderSize(pf, 64<<10)
	h, err := bundle.ReadPatchHeader(br, t.Length)
	if err != nil {
		return &stopError{bundle.Errorf(bundle.CodeMalformed, t.Path, "%v", err)}
	}
	if t.Path != bundle.PatchPath(h.Path) {
		return &stopError{bundle.Errorf(bundle.CodeMalformed, t.Path, "the patch is of %s, not of the path it is carried for", h.Path)}
	}
	if st.expanded == nil {
		st.expanded, st.keep = map[string]*bundle.PatchHeader{}, map[string]bool{}
	}
	missing := func(whole string) error {
		return &stopError{bundle.Errorf(bundle.CodeBlobMissing, t.Path, "the patch of %s applies to sha256:%s (%d bytes), which the store does not hold%s", h.Path, h.Base.SHA256, h.Base.Length, whole)}
	}
	// A layer on the base (store/layer.go), when the store holds the
	// base's record index and the change is small.
	lay, counts, ok, err := st.s.baseOf(st.ctx, h.Base.SHA256, h.Base.Length)
	if err != nil {
		return fmt.Errorf("%s: the base sha256:%s: %w", t.Path, h.Base.SHA256, err)
	}
	_, indexed := advisoriesSource(h.Path) // only a file the advisories index names is a layer
	if _, whole := st.staged[h.Result.SHA256]; whole {
		// The kit carries the same bytes whole under another path (which
		// comes before delta/): they are staged and indexed already.
		indexed = false
	}
	if ok && indexed {
		if !st.s.hasBlobs(lay) {
			return missing(" (a blob of its layer is missing or damaged)")
		}
	}
	if ok && indexed {
		var data int64
		for _, op := range h.Ops {
			if op[0] == bundle.OpInsert {
				data += op[2]
			}
		}
		pl, err := st.s.makeLayer(st.ctx, h, lay, counts, t.SHA256, src, t.Length, t.Length-data)
		var stop *stopError
		if errors.As(err, &stop) {
			return err
		}
		if err != nil {
			return fmt.Errorf("applying %s: %w", t.Path, err)
		}
		if pl != nil {
			pl.patchLen = t.Length
			st.layers = append(st.layers, pl)
			st.keep[t.SHA256] = true
			st.expanded[h.Path] = h
			return nil
		}
	}
	// The file whole, made on the base's bytes: a blob, or a layer.
	var base io.ReaderAt
	if ok && lay.Blobs[0].SHA256 != h.Base.SHA256 {
		r, err := st.s.layerReader(lay, nil)
		if err != nil {
			return missing(": " + err.Error())
		}
		defer r.Close()
		base = r
	} else {
		f, err := os.Open(st.s.blobPath(h.Base.SHA256))
		if err != nil {
			return missing("")
		}
		defer f.Close()
		if fi, err := f.Stat(); err != nil || fi.Size() != h.Base.Length {
			return missing(" whole")
		}
		base = f
	}
	result := verify.Target{Path: h.Path, Length: h.Result.Length, SHA256: h.Result.SHA256, Type: bundle.ContentType(h.Path)}
	if err := st.stage(result, bundle.PatchReader(h, base, br)); err != nil {
		return fmt.Errorf("applying %s: %w", t.Path, err)
	}
	st.expanded[h.Path] = h
	return nil
}

// checkPatches checks that every patch a verified delta names was applied
// and made the file of the full kit's signed targets: the patch's own
// header is not what the channel's keys signed for the file.
func (st *stager) checkPatches(d *verify.Delta) error {
	for _, p := range d.Patches {
		h := st.expanded[p.Path]
		switch {
		case h == nil:
			return bundle.Errorf(bundle.CodeMalformed, p.PatchPath, "the patch of %s was not applied", p.Path)
		case h.Base != p.Base:
			return bundle.Errorf(bundle.CodeMalformed, p.PatchPath, "applies to sha256:%s, %s says sha256:%s", h.Base.SHA256, bundle.DeltaPath, p.Base.SHA256)
		case h.Result.SHA256 != p.Result.SHA256 || h.Result.Length != p.Result.Length:
			return bundle.Errorf(bundle.CodeDigestMismatch, p.Path, "the patch made %d bytes sha256 %s, the full kit lists %d bytes sha256 %s",
				h.Result.Length, h.Result.SHA256, p.Result.Length, p.Result.SHA256)
		}
	}
	return nil
}

// waitLayers waits until the file of every layer the import made
// (store/layer.go) is hashed, and returns the first mismatch.
func (st *stager) waitLayers() error {
	for _, pl := range st.layers {
		if err := pl.wait(); err != nil {
			return err
		}
	}
	return nil
}

// layerInCommit is how many record index entries a layer may have for
// the commit to write them; a larger one is written before, in bounded
// transactions, as a plain record index is.
var layerInCommit = 20_000 // a variable for tests

// writeLargeLayers writes the record indexes of the layers too large for
// the commit before it, all but their completion key, which the commit
// writes (putLayers): a failed import leaves an incomplete index, which no
// reader takes and gc removes, never a layer whose patch blob was not
// placed.
func (st *stager) writeLargeLayers(ctx context.Context) error {
	for _, pl := range st.layers {
		if pl.es.Len() <= layerInCommit {
			continue
		}
		var have bool
		if err := st.s.view(ctx, func(tx *bolt.Tx) error { have = st.s.fileHeld(tx, pl.sha); return nil }); err != nil {
			return err
		}
		if have {
			continue
		}
		m := &entryMerge{runs: []entryRun{&memRun{es: pl.es}}}
		m.start()
		if err := writeRecordIndex(func(fn func(*bolt.Tx) error) error { return st.s.update(ctx, fn) }, pl.sha, m, false); err != nil {
			return fmt.Errorf("the record index of %s: %w", pl.path, err)
		}
		pl.written = true
	}
	return nil
}

// putLayers writes, in the import's commit, the record index of every
// layer the import made (a few entries: those of the changed records), or
// the completion key of one writeLargeLayers wrote; one of a file the
// store holds already, whole or as a layer it can read, is left as it is.
func (st *stager) putLayers(tx *bolt.Tx) error {
	for _, pl := range st.layers {
		if err := pl.wait(); err != nil {
			return err
		}
		if pl.written {
			b := tx.Bucket(bucketRecordIndex).Bucket([]byte(pl.sha))
			if b == nil {
				return fmt.Errorf("the record index of %s is gone before the commit", pl.path)
			}
			if err := b.Put(keyComplete, []byte(strconv.Itoa(pl.es.Len()))); err != nil {
				return err
			}
			continue
		}
		if st.s.fileHeld(tx, pl.sha) {
			continue
		}
		m := &entryMerge{runs: []entryRun{&memRun{es: pl.es}}}
		m.start()
		if err := writeRecordIndex(func(fn func(*bolt.Tx) error) error { return fn(tx) }, pl.sha, m, true); err != nil {
			return fmt.Errorf("the record index of %s: %w", pl.path, err)
		}
	}
	return nil
}

// fileHeld reports whether the store holds the advisories file sha with a
// usable record index: its blob and a plain index, or a layer whose blobs
// are all there. (A complete index alone is not the file: a failed import
// may leave the index of a file it never placed.)
func (s *Store) fileHeld(tx *bolt.Tx, sha string) bool {
	l, ok := s.usableIndex(tx, sha)
	if !ok || l != nil {
		return ok
	}
	fi, err := os.Stat(s.blobPath(sha))
	return err == nil && fi.Mode().IsRegular()
}

// layered returns the layer the import made of the file sha, or nil.
func (st *stager) layered(sha string) *pendingLayer {
	for _, pl := range st.layers {
		if pl.sha == sha {
			return pl
		}
	}
	return nil
}

// holds reports whether the store holds the file sha of length bytes: a
// blob, or a layered file (store/layer.go).
func (s *Store) holds(ctx context.Context, sha string, length int64) bool {
	if !isHexDigest(sha) {
		return false
	}
	if fi, err := os.Stat(s.blobPath(sha)); err == nil && fi.Mode().IsRegular() && fi.Size() == length {
		return true
	}
	var ok bool
	s.view(ctx, func(tx *bolt.Tx) error {
		l, usable := s.usableIndex(tx, sha)
		ok = usable && l != nil && l.Length == length
		return nil
	})
	return ok
}
