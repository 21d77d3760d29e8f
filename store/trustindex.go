package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ferry-dev/ferry/verify"
)

// tufIndex names the index of carried TUF repositories.
const tufIndex = "tuf"

// TUFIndexer records the carried TUF repositories of a kit as package
// verify re-verified them (verify.CheckCarried, run by verify.Kit after
// the content pass, so ferry verify and ferry import decide alike): the
// root chain, signatures and thresholds, versions, and the length and
// hashes of every carried target, at the kit's creation time. Expiry at
// the import's reference time (--at) is only recorded: Sigstore's
// timestamp metadata lives for days, a kit may cross the air gap in weeks,
// and what the site trusts is the kit's signature, so an expired role
// makes the import's status "expired" (shown by ferry store info), never a
// failure. Entries of a channel's "tuf" index:
//
//	repository folder -> TUFStatus (JSON)
//
// All its work is done in Finish, from IndexKit.Carried; it reads no file.
type TUFIndexer struct{}

var (
	_ Indexer  = TUFIndexer{}
	_ Finisher = TUFIndexer{}
)

// Name implements Indexer.
func (TUFIndexer) Name() string { return tufIndex }

// Accepts implements Indexer: no file one at a time.
func (TUFIndexer) Accepts(string) bool { return false }

// Index implements Indexer; it is never called.
func (TUFIndexer) Index(context.Context, verify.Target, io.Reader, *IndexWriter) error { return nil }

// TUF repository states at the import's reference time.
const (
	TUFFresh   = verify.TUFStateFresh
	TUFExpired = verify.TUFStateExpired
)

// TUFStatus is the outcome of re-verifying one carried TUF repository
// (verify.TUFStatus).
type TUFStatus = verify.TUFStatus

// Finish implements Finisher: it records kit.Carried.TUF.
func (TUFIndexer) Finish(_ context.Context, kit IndexKit, w *IndexWriter) error {
	if kit.Carried == nil {
		return nil
	}
	for _, st := range kit.Carried.TUF {
		v, err := json.Marshal(st)
		if err != nil {
			return err
		}
		if err := w.Put([]byte(st.Repository), v); err != nil {
			return err
		}
	}
	return nil
}

// TUFRepositories lists the carried TUF repositories of every channel's
// active kit with their state at import, by channel and folder.
func (r *Reader) TUFRepositories() ([]TUFStatus, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	out := []TUFStatus{}
	for _, k := range r.roots {
		sts, err := channelTUF(k)
		if err != nil {
			return nil, err
		}
		out = append(out, sts...)
	}
	return out, nil
}

// channelTUF reads a channel's "tuf" index, by folder.
func channelTUF(k kitRoot) ([]TUFStatus, error) {
	out := []TUFStatus{}
	channel := k.channel
	b := k.indexBucket(tufIndex)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(_, v []byte) error {
		st, err := decodeTUFStatus(channel, v)
		out = append(out, st)
		return err
	})
	return out, err
}

func decodeTUFStatus(channel string, v []byte) (TUFStatus, error) {
	var st TUFStatus
	if err := json.Unmarshal(v, &st); err != nil {
		return st, fmt.Errorf("channel %s: tuf index: %w", channel, err)
	}
	st.Channel = channel
	return st, nil
}
