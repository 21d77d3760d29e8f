package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

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
		if t.pinned != nil {
			if err := checkGivenRoot(t.s.dir, channel, t.pinned, trust); err != nil {
				return verify.Trust{}, err
			}
		}
		return trust, nil
	}
	if t.pinned != nil {
		return verify.Trust{Root: t.pinned}, nil
	}
	return verify.Trust{}, bundle.Errorf(bundle.CodeUnknownChannel, "",
		"channel %q is not in the store %s: pin its root with --root", channel, t.s.dir)
}

// checkGivenRoot checks a root given out of band (--root) for a channel
// the store knows against the store's trusted root chain: it must be, in
// canonical form, the store's root of the same version. The store's trust
// is what verifies the channel's kits, so a root that differs (another
// channel's, another chain's, a newer one the store has not seen) would
// otherwise be ignored without a word. The error wraps ErrRootMismatch.
func checkGivenRoot(dir, channel string, given []byte, trust verify.Trust) error {
	g, err := metadata.Root().FromBytes(given)
	if err != nil {
		return fmt.Errorf("%w: the root given does not parse: %v", ErrRootMismatch, err)
	}
	canon, err := bundle.EncodeMetadata(g)
	if err != nil {
		return fmt.Errorf("%w: the root given does not encode: %v", ErrRootMismatch, err)
	}
	copies := map[int64][]byte{}
	top := int64(0)
	for _, data := range append(slices.Clone(trust.Roots), trust.Root) {
		r, err := metadata.Root().FromBytes(data)
		if err != nil {
			continue
		}
		if b, err := bundle.EncodeMetadata(r); err == nil {
			copies[r.Signed.Version] = b
		}
		top = max(top, r.Signed.Version)
	}
	v := g.Signed.Version
	sum := sha256.Sum256(canon)
	what := fmt.Sprintf("the root given (version %d, sha256 %.12s…)", v, hex.EncodeToString(sum[:]))
	switch own, ok := copies[v]; {
	case ok && bytes.Equal(own, canon):
		return nil
	case ok:
		return fmt.Errorf("%w: %s differs from the root of the same version that store %s trusts for channel %s: "+
			"the store's trust verifies the channel's kits; leave the root out, or find out where this one came from",
			ErrRootMismatch, what, dir, channel)
	case v > top:
		return fmt.Errorf("%w: %s is newer than the root version %d that store %s trusts for channel %s: "+
			"the store follows root rotations from the kits that carry them; leave the root out",
			ErrRootMismatch, what, top, dir, channel)
	default:
		return fmt.Errorf("%w: store %s holds no copy of root version %d of channel %s to compare %s with: "+
			"the store's trust verifies the channel's kits; leave the root out",
			ErrRootMismatch, dir, v, channel, what)
	}
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
