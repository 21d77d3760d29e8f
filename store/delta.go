package store

import (
	"os"

	"github.com/ferry-dev/ferry/verify"
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
// full kit, so that both leave the same state. For a full kit it returns
// rep.
func fullKit(rep *verify.Report) *verify.Report {
	if rep.Delta == nil {
		return rep
	}
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
