package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ferry-dev/ferry/internal/atomicfile"
	bolt "go.etcd.io/bbolt"
)

// The history keeps the kits an import replaced, so that a decision taken
// on them can be re-evaluated (Store.AtVersions) until GCHistory drops
// them:
//
//	history  channel -> 8-byte big-endian kit version -> bucket:
//	           "state"  channelState (JSON) of that kit
//	           "files"  channel -> bucket path -> fileRec (the files
//	                    bucket the kit had while active, moved here)
//	           "index"  indexer name -> channel -> entries (moved here)
//
// A version bucket mirrors the top-level files and index buckets, so the
// read side finds a historic kit's buckets exactly where it finds an
// active one's (kitRoot). The trust state is not versioned: rollback
// protection always uses the newest.
var (
	bucketHistory   = []byte("history")
	keyHistoryState = []byte("state")
)

// ErrVersionGone matches a *VersionGoneError.
var ErrVersionGone = errors.New("kit version is no longer in the store")

// VersionGoneError reports a read at a kit version that the store does not
// hold (any more): never imported, dropped by GCHistory, or replaced by a
// forced activation of other content under the same version.
type VersionGoneError struct {
	Channel string
	Version int64
	// Active is the channel's active version; 0 when the store has no
	// such channel.
	Active int64
}

func (e *VersionGoneError) Error() string {
	if e.Active == 0 {
		return fmt.Sprintf("channel %s: %v (v%d; the store has no such channel)", e.Channel, ErrVersionGone, e.Version)
	}
	return fmt.Sprintf("channel %s: %v (v%d; active v%d; older versions are kept until store gc --keep drops them)", e.Channel, ErrVersionGone, e.Version, e.Active)
}

// Is makes errors.Is(err, ErrVersionGone) match.
func (e *VersionGoneError) Is(target error) bool { return target == ErrVersionGone }

// A Pin names the kit a read sees for one channel: its version and the
// sha256 of its signed targets metadata (as store info and receipts give
// it); an empty TargetsSHA256 accepts any content of that version.
type Pin struct {
	Version       int64
	TargetsSHA256 string
}

// AtVersions returns a read-only view of s whose reads (View, Info,
// Images, ResolveImage, SigstoreTrustedRoots) see exactly the pinned kits:
// for each channel the active kit when it is the pinned one, else the
// historic one, and no other channel. A pinned kit the store does not hold
// fails the read with a *VersionGoneError. Writes (Import, GC) return
// ErrReadOnly.
func (s *Store) AtVersions(pins map[string]Pin) *Store {
	c := *s
	c.opts.ReadOnly = true
	c.pins = make(map[string]Pin, len(pins))
	for ch, p := range pins {
		c.pins[ch] = p
	}
	return &c
}

// kitRoot is where one channel's kit is in a transaction: the top-level
// files and index buckets for the active kit, a history version's for a
// historic one. Either way a channel's files are files.Bucket(channel) and
// an indexer's entries index.Bucket(name).Bucket(channel).
type kitRoot struct {
	channel string
	state   []byte
	files   *bolt.Bucket
	index   *bolt.Bucket
}

// indexBucket is the channel's bucket of the named index, nil when it has
// none.
func (k kitRoot) indexBucket(name string) *bolt.Bucket {
	if k.index == nil {
		return nil
	}
	ib := k.index.Bucket([]byte(name))
	if ib == nil {
		return nil
	}
	return ib.Bucket([]byte(k.channel))
}

// channelState decodes the kit's state.
func (k kitRoot) channelState() (*channelState, error) {
	var st channelState
	if err := json.Unmarshal(k.state, &st); err != nil {
		return nil, fmt.Errorf("channel %s: %w", k.channel, err)
	}
	return &st, nil
}

// eachFile calls fn for every file of the kit, in path order.
func (k kitRoot) eachFile(fn func(path string, f fileRec) error) error {
	return channelFilesIn(k.files, k.channel, fn)
}

// kitRoots lists the kits s reads in tx, by channel: every active kit, or
// with pins exactly the pinned ones.
func (s *Store) kitRoots(tx *bolt.Tx) ([]kitRoot, error) {
	chb := tx.Bucket(bucketChannels)
	if s.pins == nil {
		var out []kitRoot
		err := chb.ForEach(func(k, v []byte) error {
			out = append(out, kitRoot{channel: string(k), state: v, files: tx.Bucket(bucketFiles), index: tx.Bucket(bucketIndex)})
			return nil
		})
		return out, err
	}
	out := make([]kitRoot, 0, len(s.pins))
	for _, ch := range sortedKeys(s.pins) {
		pin := s.pins[ch]
		active, err := getChannel(tx, ch)
		if err != nil {
			return nil, err
		}
		gone := &VersionGoneError{Channel: ch, Version: pin.Version}
		if active == nil {
			return nil, gone
		}
		gone.Active = active.Version
		if active.Version == pin.Version && matchesPin(active.TargetsSHA256, pin) {
			out = append(out, kitRoot{channel: ch, state: chb.Get([]byte(ch)), files: tx.Bucket(bucketFiles), index: tx.Bucket(bucketIndex)})
			continue
		}
		vb := historyVersion(tx, ch, pin.Version)
		if vb == nil {
			return nil, gone
		}
		k := kitRoot{channel: ch, state: vb.Get(keyHistoryState), files: vb.Bucket(bucketFiles), index: vb.Bucket(bucketIndex)}
		st, err := k.channelState()
		if err != nil {
			return nil, err
		}
		if !matchesPin(st.TargetsSHA256, pin) {
			return nil, gone
		}
		out = append(out, k)
	}
	return out, nil
}

func matchesPin(targets string, p Pin) bool {
	return p.TargetsSHA256 == "" || p.TargetsSHA256 == targets
}

func historyVersion(tx *bolt.Tx, channel string, version int64) *bolt.Bucket {
	h := tx.Bucket(bucketHistory)
	if h == nil || version < 0 {
		return nil
	}
	cb := h.Bucket([]byte(channel))
	if cb == nil {
		return nil
	}
	return cb.Bucket(seqKey(uint64(version)))
}

// archiveActive moves the channel's active kit (its state, files bucket and
// index buckets) into the history, before an import replaces it in the
// same transaction. bbolt moves the buckets without copying their pages,
// so the cost does not grow with the kit. A historic kit of the same
// version (left by a forced activation) is replaced. It must run before
// the transaction touches the channel's files or index buckets.
func archiveActive(tx *bolt.Tx, channel string) error {
	ch := []byte(channel)
	state := tx.Bucket(bucketChannels).Get(ch)
	if state == nil {
		return nil
	}
	st, err := (kitRoot{channel: channel, state: state}).channelState()
	if err != nil {
		return err
	}
	h, err := tx.CreateBucketIfNotExists(bucketHistory)
	if err != nil {
		return err
	}
	cb, err := h.CreateBucketIfNotExists(ch)
	if err != nil {
		return err
	}
	vk := seqKey(uint64(st.Version))
	if cb.Bucket(vk) != nil {
		if err := cb.DeleteBucket(vk); err != nil {
			return err
		}
	}
	vb, err := cb.CreateBucket(vk)
	if err != nil {
		return err
	}
	if err := vb.Put(keyHistoryState, state); err != nil {
		return err
	}
	files, err := vb.CreateBucket(bucketFiles)
	if err != nil {
		return err
	}
	if src := tx.Bucket(bucketFiles); src.Bucket(ch) != nil {
		if err := tx.MoveBucket(ch, src, files); err != nil {
			return fmt.Errorf("history: files of channel %s: %w", channel, err)
		}
	}
	index, err := vb.CreateBucket(bucketIndex)
	if err != nil {
		return err
	}
	root := tx.Bucket(bucketIndex)
	var names [][]byte
	err = root.ForEachBucket(func(name []byte) error {
		if root.Bucket(name).Bucket(ch) != nil {
			names = append(names, slices.Clone(name))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		dst, err := index.CreateBucket(name)
		if err != nil {
			return err
		}
		if err := tx.MoveBucket(ch, root.Bucket(name), dst); err != nil {
			return fmt.Errorf("history: index %s of channel %s: %w", name, channel, err)
		}
	}
	return nil
}

// HistoricKit is a kit the store keeps beside the active one.
type HistoricKit struct {
	Channel       string `json:"channel"`
	Version       int64  `json:"version"`
	TargetsSHA256 string `json:"targetsSha256"`
}

// History lists the historic kits, by channel and version.
func (s *Store) History(ctx context.Context) ([]HistoricKit, error) {
	var out []HistoricKit
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return forEachHistoric(tx, func(ch string, vb *bolt.Bucket) error {
			st, err := (kitRoot{channel: ch, state: vb.Get(keyHistoryState)}).channelState()
			if err != nil {
				return err
			}
			out = append(out, HistoricKit{Channel: ch, Version: st.Version, TargetsSHA256: st.TargetsSHA256})
			return nil
		})
	})
	return out, err
}

// forEachHistoric calls fn with every historic kit's version bucket, by
// channel and then version.
func forEachHistoric(tx *bolt.Tx, fn func(channel string, vb *bolt.Bucket) error) error {
	h := tx.Bucket(bucketHistory)
	if h == nil {
		return nil
	}
	return h.ForEachBucket(func(ch []byte) error {
		cb := h.Bucket(ch)
		return cb.ForEachBucket(func(v []byte) error { return fn(string(ch), cb.Bucket(v)) })
	})
}

// forEachHistoricFile calls fn for every file of every historic kit: gc
// counts them as referenced.
func forEachHistoricFile(tx *bolt.Tx, fn func(channel, path string, f fileRec) error) error {
	return forEachHistoric(tx, func(ch string, vb *bolt.Bucket) error {
		return channelFilesIn(vb.Bucket(bucketFiles), ch, func(p string, f fileRec) error { return fn(ch, p, f) })
	})
}

// dropHistory deletes all but the newest keep historic kits of every
// channel and returns what it dropped, by channel and version.
func dropHistory(tx *bolt.Tx, keep int) ([]HistoricKit, error) {
	h := tx.Bucket(bucketHistory)
	if h == nil || keep < 0 {
		return nil, nil
	}
	var drop []HistoricKit
	err := h.ForEachBucket(func(ch []byte) error {
		var versions [][]byte
		err := h.Bucket(ch).ForEachBucket(func(v []byte) error {
			versions = append(versions, slices.Clone(v))
			return nil
		})
		if err != nil {
			return err
		}
		// Keys are big-endian versions: bucket order is version order.
		for _, v := range versions[:max(0, len(versions)-keep)] {
			st, err := (kitRoot{channel: string(ch), state: h.Bucket(ch).Bucket(v).Get(keyHistoryState)}).channelState()
			if err != nil {
				return err
			}
			drop = append(drop, HistoricKit{Channel: string(ch), Version: st.Version, TargetsSHA256: st.TargetsSHA256})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range drop {
		cb := h.Bucket([]byte(d.Channel))
		if err := cb.DeleteBucket(seqKey(uint64(d.Version))); err != nil {
			return nil, err
		}
		if k, _ := cb.Cursor().First(); k == nil {
			if err := h.DeleteBucket([]byte(d.Channel)); err != nil {
				return nil, err
			}
		}
	}
	return drop, nil
}

// GCResultHistory is what GCHistory dropped and the size of ferry.db
// before and after.
type GCResultHistory struct {
	Dropped []HistoricKit `json:"dropped"`
	// DBBytes and DBBytesAfter are the sizes of ferry.db: when kits were
	// dropped the database is rewritten without its free pages.
	DBBytes      int64 `json:"dbBytes"`
	DBBytesAfter int64 `json:"dbBytesAfter"`
}

// GCHistory drops all but the newest keep historic kits of every channel
// in one write transaction and, when it dropped any, rewrites ferry.db
// without the pages they used (bbolt never shrinks its file). The blobs
// only they referenced stay until GC removes them. It takes the import
// lock.
func (s *Store) GCHistory(ctx context.Context, keep int) (*GCResultHistory, error) {
	if keep < 0 {
		return nil, fmt.Errorf("history: keep %d: not a count", keep)
	}
	if s.opts.ReadOnly {
		return nil, fmt.Errorf("%s: %w", s.dir, ErrReadOnly)
	}
	if !s.exists() {
		return nil, fmt.Errorf("%s: %w (%s is missing)", s.dir, ErrNoStore, dbName)
	}
	l, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	var dropped []HistoricKit
	err = s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if dropped, err = dropHistory(tx, keep); err != nil || len(dropped) == 0 {
			return err
		}
		_, err = dropUnreferencedRecordIndexes(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, d := range dropped {
		s.log.Info("dropped historic kit", "channel", d.Channel, "version", d.Version)
	}
	res := &GCResultHistory{Dropped: dropped}
	if res.Dropped == nil {
		res.Dropped = []HistoricKit{}
	}
	if fi, err := os.Stat(dbPath(s.dir)); err == nil {
		res.DBBytes, res.DBBytesAfter = fi.Size(), fi.Size()
	}
	if len(dropped) == 0 {
		return res, nil
	}
	if err := s.compact(ctx); err != nil {
		return nil, fmt.Errorf("the old kits were dropped, but rewriting %s failed (the store is intact): %w", dbName, err)
	}
	if fi, err := os.Stat(dbPath(s.dir)); err == nil {
		res.DBBytesAfter = fi.Size()
	}
	return res, nil
}

// compact rewrites ferry.db without its free pages: a copy is built
// under tmp/ from the database held exclusively (no read is in a
// transaction meanwhile; new reads wait for the commit marker), synced,
// and renamed over ferry.db. A crash leaves the old file or the new one,
// never a mix. The caller holds the import lock.
func (s *Store) compact(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	pending := filepath.Join(s.dir, pendingName)
	if err := os.WriteFile(pending, nil, 0o644); err != nil {
		return err
	}
	defer os.Remove(pending)
	src, err := s.openDB(false)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := filepath.Join(s.dir, tmpDir, dbName+".compact")
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: s.opts.LockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	err = s.guarded(dbName, func() error { return bolt.Compact(dst, src, 64<<20) })
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, dbPath(s.dir))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return atomicfile.SyncDir(s.dir)
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
