package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/verify"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	bolt "go.etcd.io/bbolt"
)

// TrustSource returns the store's trust state as a verify.TrustSource, for
// checking a kit against a site without importing it (`ferry verify
// --store`): a known channel gives its stored root, timestamp and snapshot,
// so an older kit fails with KIT_ROLLBACK; an unknown channel gives
// pinned when it is set (a root pinned with --root), else
// KIT_UNKNOWN_CHANNEL. It reads the store in one read transaction per call
// and never writes.
func (s *Store) TrustSource(ctx context.Context, pinned []byte) verify.TrustSource {
	return storeTrust{ctx: ctx, s: s, pinned: pinned}
}

type storeTrust struct {
	ctx    context.Context
	s      *Store
	pinned []byte
}

func (t storeTrust) TrustFor(channel string) (verify.Trust, error) {
	var trust verify.Trust
	found := false
	if t.s.exists() {
		err := t.s.view(t.ctx, func(tx *bolt.Tx) error {
			trust, found = readTrust(tx, channel)
			return nil
		})
		if err != nil {
			return verify.Trust{}, err
		}
	}
	if found {
		return trust, nil
	}
	if t.pinned != nil {
		return verify.Trust{Root: t.pinned}, nil
	}
	return verify.Trust{}, bundle.Errorf(bundle.CodeUnknownChannel, "",
		"channel %q is not in the store %s: pin its root with --root", channel, t.s.dir)
}

// keyRoots names the bucket, inside a channel's trust bucket, of the
// trusted root chain: 8-byte big-endian root version -> root, the last
// being the one under keyRoot. Stores written before it have none: their
// kits' lower roots are then checked by the chain alone.
var keyRoots = []byte("roots")

// putTrust writes the verified metadata md into a channel's (new, empty)
// trust bucket b.
func putTrust(b *bolt.Bucket, md verify.Metadata) error {
	for _, kv := range []struct {
		k, v []byte
	}{{keyRoot, md.Root}, {keySnapshot, md.Snapshot}, {keyTargets, md.Targets}, {keyTimestamp, md.Timestamp}} {
		if err := b.Put(kv.k, kv.v); err != nil {
			return err
		}
	}
	rb, err := b.CreateBucket(keyRoots)
	if err != nil {
		return err
	}
	for _, root := range md.Roots {
		r, err := metadata.Root().FromBytes(root)
		if err != nil {
			return fmt.Errorf("trusted root chain: %w", err)
		}
		if err := rb.Put(binary.BigEndian.AppendUint64(nil, uint64(r.Signed.Version)), root); err != nil {
			return err
		}
	}
	return nil
}

// readTrust returns the stored trust state of channel, copied out of the
// transaction, and whether the channel is known.
func readTrust(tx *bolt.Tx, channel string) (verify.Trust, bool) {
	b := tx.Bucket(bucketTrust).Bucket([]byte(channel))
	if b == nil {
		return verify.Trust{}, false
	}
	t := verify.Trust{
		Root:      bytes.Clone(b.Get(keyRoot)),
		Timestamp: bytes.Clone(b.Get(keyTimestamp)),
		Snapshot:  bytes.Clone(b.Get(keySnapshot)),
	}
	if rb := b.Bucket(keyRoots); rb != nil {
		_ = rb.ForEach(func(_, v []byte) error {
			t.Roots = append(t.Roots, bytes.Clone(v))
			return nil
		})
	}
	return t, true
}
