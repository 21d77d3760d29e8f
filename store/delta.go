package store

import (
	"context"
	"os"

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
	if !isHexDigest(sha256) {
		return false
	}
	fi, err := os.Stat(im.s.blobPath(sha256))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == length
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
	if !isHexDigest(sha256) {
		return false
	}
	fi, err := os.Stat(d.s.blobPath(sha256))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == length
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
		if keep[sha] {
			continue
		}
		if b.tmp != "" {
			os.Remove(b.tmp)
		}
		delete(st.staged, sha)
	}
}
