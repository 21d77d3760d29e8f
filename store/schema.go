package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout of ferry.db this build reads and writes.
//
// Schema 5 (current):
//
//	meta      "schema" -> decimal schema version
//	channels  channel -> channelState (JSON): the active kit
//	trust     channel -> bucket: root, timestamp, snapshot, targets (the
//	          trusted TUF metadata, as verified), and the bucket roots:
//	          8-byte big-endian version -> root, the trusted root chain
//	          (absent in stores written before it was kept)
//	files     channel -> bucket: path -> fileRec (JSON) of the active kit;
//	          what gc counts as referenced
//	index     indexer name -> channel -> bucket of the indexer's entries:
//	          files, advisories, enrich, vex, sources (see each indexer)
//	advindex  hex sha256 of an osv.jsonl blob -> bucket: the record index
//	          of that file, shared by every kit that carries it
//	          (store/advindex.go); a channel's advisories index names the
//	          blob per source
//	log       8-byte big-endian sequence -> Receipt (JSON)
//	history   channel -> 8-byte big-endian version -> the kits an import
//	          replaced, kept for replay until gc drops them
//	          (store/history.go)
//
// Schema 5 had no layered advisories files (store/layer.go): an older
// ferry would read a layer's own record locations as plain ones, so a
// store that may hold layers is schema 6; migrating changes nothing.
// Schema 4 kept every record's entries in each channel's advisories index
// (so a commit wrote them all, and every historic kit held a copy):
// migrating to 5 moves them into the record indexes. Schema 3 had no
// history, and its VEX index was built without the
// version ranges of CSAF products (product_version_range), so a statement
// about a range matched nothing: migrating to 4 rebuilds every index.
// Schema 2 had the same buckets, but only the files index was built; its
// stores hold no typed indexes for the kits they imported. Schema 1 kept
// files in one flat bucket, "channel\x00path" -> hex sha256, and had no
// index bucket.
const SchemaVersion = 6

var (
	bucketMeta     = []byte("meta")
	bucketChannels = []byte("channels")
	bucketTrust    = []byte("trust")
	bucketFiles    = []byte("files")
	bucketIndex    = []byte("index")
	bucketLog      = []byte("log")
	keySchema      = []byte("schema")
)

// Keys in a channel's trust bucket.
var (
	keyRoot      = []byte("root")
	keyTimestamp = []byte("timestamp")
	keySnapshot  = []byte("snapshot")
	keyTargets   = []byte("targets")
)

func initSchema(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketMeta, bucketChannels, bucketTrust, bucketFiles, bucketIndex, bucketLog, bucketHistory, bucketRecordIndex} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
}

func readSchema(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, errors.New("ferry.db has no meta bucket: not a ferry store")
	}
	v, err := strconv.Atoi(string(meta.Get(keySchema)))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("ferry.db: schema version %q is not a number", meta.Get(keySchema))
	}
	return v, nil
}

func (s *Store) checkSchema(tx *bolt.Tx) error {
	v, err := readSchema(tx)
	if err != nil {
		return fmt.Errorf("%s: %w", s.dir, err)
	}
	if v != SchemaVersion {
		return &SchemaError{Dir: s.dir, Found: v, Want: SchemaVersion}
	}
	return nil
}

// schemaVersion reads the schema version in a read-only transaction.
func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	db, err := s.openDB(true)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var v int
	err = s.guarded(dbName, func() error {
		return db.View(func(tx *bolt.Tx) error {
			var err error
			v, err = readSchema(tx)
			return err
		})
	})
	var dmg *DamagedError
	if errors.As(err, &dmg) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.dir, err)
	}
	return v, nil
}

// A migration moves a store from schema From to From+1 inside one write
// transaction. Migrations run in order, all in the same transaction, so a
// crash leaves the store in its old schema.
type migration struct {
	From int
	Name string
	Run  func(s *Store, tx *bolt.Tx) error
}

// migrations holds one step per older schema.
var migrations = []migration{
	{From: 1, Name: "nest the file map per channel, add indexes", Run: migrate1to2},
	{From: 2, Name: "build the typed indexes of every active kit", Run: migrate2to3},
	{From: 3, Name: "add the kit history, rebuild the indexes (CSAF version ranges)", Run: migrate3to4},
	{From: 4, Name: "index advisory records once per file (record indexes)", Run: migrate4to5},
	{From: 5, Name: "allow layered advisories files (nothing to change)", Run: func(*Store, *bolt.Tx) error { return nil }},
}

// migrate brings the store to SchemaVersion.
func (s *Store) migrate(ctx context.Context) error {
	l, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer l.unlock()
	return s.write(ctx, func(tx *bolt.Tx) error {
		v, err := readSchema(tx)
		if err != nil {
			return err
		}
		if v > SchemaVersion {
			return &SchemaError{Dir: s.dir, Found: v, Want: SchemaVersion}
		}
		for _, m := range migrations {
			if m.From != v {
				continue
			}
			s.log.Info("migrating store", "from", v, "to", v+1, "step", m.Name)
			if err := m.Run(s, tx); err != nil {
				return fmt.Errorf("migrating schema %d to %d (%s): %w", v, v+1, m.Name, err)
			}
			v++
		}
		if v != SchemaVersion {
			return &SchemaError{Dir: s.dir, Found: v, Want: SchemaVersion}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(v)))
	})
}

// migrate1to2 nests the flat schema-1 file map ("channel\x00path" -> hex)
// per channel, taking each file's length from its blob, and indexes every
// channel's active kit with the store's indexers.
func migrate1to2(s *Store, tx *bolt.Tx) error {
	old := tx.Bucket(bucketFiles)
	type entry struct{ channel, path, sha string }
	var entries []entry
	if old != nil {
		err := old.ForEach(func(k, v []byte) error {
			ch, p, ok := bytes.Cut(k, []byte{0})
			if !ok {
				return fmt.Errorf("files: malformed key %q", k)
			}
			entries = append(entries, entry{string(ch), string(p), string(v)})
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketFiles); err != nil {
			return err
		}
	}
	files, err := tx.CreateBucket(bucketFiles)
	if err != nil {
		return err
	}
	perChannel := map[string][]verify.Target{}
	for _, e := range entries {
		if !isHexDigest(e.sha) {
			return fmt.Errorf("files: %s: %s: malformed digest %q", e.channel, e.path, e.sha)
		}
		fi, err := os.Stat(s.blobPath(e.sha))
		if err != nil {
			return fmt.Errorf("channel %s: %s: %w", e.channel, e.path, err)
		}
		b, err := files.CreateBucketIfNotExists([]byte(e.channel))
		if err != nil {
			return err
		}
		rec := fileRec{SHA256: e.sha, Length: fi.Size()}
		if err := putJSON(b, []byte(e.path), rec); err != nil {
			return err
		}
		perChannel[e.channel] = append(perChannel[e.channel], targetOf(e.path, rec))
	}
	if _, err := tx.CreateBucketIfNotExists(bucketIndex); err != nil {
		return err
	}
	return s.reindex(tx, perChannel)
}

// migrate2to3 runs the store's indexers over every channel's active kit,
// reading the blobs, so that kits imported before the typed indexes
// existed (advisories, enrich, vex, sources) can be queried without a new
// import. Every index is rebuilt, which is what an import of the same kit
// would write.
func migrate2to3(s *Store, tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketIndex); err != nil {
		return err
	}
	perChannel := map[string][]verify.Target{}
	err := forEachFile(tx, func(ch, p string, f fileRec) error {
		perChannel[ch] = append(perChannel[ch], targetOf(p, f))
		return nil
	})
	if err != nil {
		return err
	}
	return s.reindex(tx, perChannel)
}

// migrate3to4 adds the history bucket and rebuilds every index of every
// active kit: schema 3 indexed CSAF products without their version ranges.
func migrate3to4(s *Store, tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketHistory); err != nil {
		return err
	}
	return migrate2to3(s, tx)
}

// migrate4to5 moves the records' entries of every advisories index, of
// the active and the historic kits, into the record indexes of their
// files, leaving each channel's index its "f" entries.
func migrate4to5(s *Store, tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketRecordIndex); err != nil {
		return err
	}
	slim := func(parent *bolt.Bucket, channel string) error {
		if parent == nil || parent.Bucket([]byte(channel)) == nil {
			return nil
		}
		var keep []kv
		var targets []verify.Target
		err := scanPrefix(parent.Bucket([]byte(channel)), []byte{'f'}, func(source, sha []byte) error {
			keep = append(keep, kv{k: ikey('f', string(source)), v: bytes.Clone(sha)})
			p := "advisories/" + string(source) + "/osv.jsonl"
			fi, err := os.Stat(s.blobPath(string(sha)))
			if err != nil {
				return fmt.Errorf("channel %s: %s: %w", channel, p, err)
			}
			targets = append(targets, verify.Target{Path: p, SHA256: string(sha), Length: fi.Size()})
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.ensureRecordIndexesTx(context.Background(), tx, targets, func(t verify.Target) string { return s.blobPath(t.SHA256) }); err != nil {
			return err
		}
		return replaceBucket(parent, []byte(channel), func(b *bolt.Bucket) error {
			for _, e := range keep {
				if err := b.Put(e.k, e.v); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if ib := tx.Bucket(bucketIndex).Bucket([]byte(advisoriesIndex)); ib != nil {
		var chans []string
		if err := ib.ForEachBucket(func(ch []byte) error { chans = append(chans, string(ch)); return nil }); err != nil {
			return err
		}
		for _, ch := range chans {
			if err := slim(ib, ch); err != nil {
				return err
			}
		}
	}
	type historic struct {
		channel string
		b       *bolt.Bucket
	}
	var hs []historic
	err := forEachHistoric(tx, func(ch string, vb *bolt.Bucket) error {
		if ix := vb.Bucket(bucketIndex); ix != nil && ix.Bucket([]byte(advisoriesIndex)) != nil {
			hs = append(hs, historic{ch, ix.Bucket([]byte(advisoriesIndex))})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, h := range hs {
		if err := slim(h.b, h.channel); err != nil {
			return err
		}
	}
	return nil
}

// reindex builds and writes every indexer's entries for the given active
// kits, reading their blobs.
func (s *Store) reindex(tx *bolt.Tx, perChannel map[string][]verify.Target) error {
	for _, ch := range sortedKeys(perChannel) {
		kit := IndexKit{Channel: ch}
		if st, err := getChannel(tx, ch); err == nil && st != nil {
			kit.Created, kit.At = st.Created, st.ImportedAt
			if !st.VerifiedAt.IsZero() {
				// Re-verify carried trust on the clock the import used.
				kit.At = st.VerifiedAt
			}
		}
		blob := func(t verify.Target) string { return s.blobPath(t.SHA256) }
		if err := s.ensureRecordIndexesTx(context.Background(), tx, perChannel[ch], blob); err != nil {
			return err
		}
		built, err := s.buildIndexes(context.Background(), kit, perChannel[ch], s.blobOpener)
		if err != nil {
			return err
		}
		if err := writeIndexes(tx, ch, built); err != nil {
			return err
		}
	}
	return nil
}

// fileRec is one content file of a channel's active kit.
type fileRec struct {
	SHA256 string          `json:"sha256"`
	Length int64           `json:"length"`
	Custom json.RawMessage `json:"custom,omitempty"`
}

// channelState is the active kit of a channel.
type channelState struct {
	Channel       string    `json:"channel"`
	Name          string    `json:"name"`
	Version       int64     `json:"version"`
	Created       time.Time `json:"created"`
	Expires       time.Time `json:"expires"`
	RootVersion   int64     `json:"rootVersion"`
	TargetsSHA256 string    `json:"targetsSha256"`
	KitSHA256     string    `json:"kitSha256"`
	ImportedAt    time.Time `json:"importedAt"`
	// VerifiedAt is the pinned clock the kit was verified on, when it was
	// not ImportedAt (the real time).
	VerifiedAt time.Time `json:"verifiedAt,omitzero"`
	// Reason and Operator of a forced activation or a pinned clock.
	Reason   string                      `json:"reason,omitempty"`
	Operator string                      `json:"operator,omitempty"`
	Receipt  uint64                      `json:"receipt"`
	Counts   map[string]verify.TypeCount `json:"counts"`
	// Freshness is the age budget per content type from kit.json.
	Freshness map[string]string `json:"freshness,omitempty"`
	// DataTime is, per content type, when its data was fetched: the oldest
	// fetchedAt of the kit's sources of that type, else the kit's created.
	DataTime map[string]time.Time `json:"dataTime,omitempty"`
	// Sources are the kit's sources with their digests (kit.json).
	Sources []SourceDigest `json:"sources,omitempty"`
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func getChannel(tx *bolt.Tx, channel string) (*channelState, error) {
	data := tx.Bucket(bucketChannels).Get([]byte(channel))
	if data == nil {
		return nil, nil
	}
	var st channelState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("channel %s: %w", channel, err)
	}
	return &st, nil
}

// forEachFile calls fn for every file of every channel's active kit.
func forEachFile(tx *bolt.Tx, fn func(channel, path string, f fileRec) error) error {
	return tx.Bucket(bucketFiles).ForEachBucket(func(ch []byte) error {
		return channelFiles(tx, string(ch), func(path string, f fileRec) error { return fn(string(ch), path, f) })
	})
}

// channelFiles calls fn for every file of the channel's active kit, in
// path order.
func channelFiles(tx *bolt.Tx, channel string, fn func(path string, f fileRec) error) error {
	return channelFilesIn(tx.Bucket(bucketFiles), channel, fn)
}

// channelFilesIn calls fn for every file of the channel's bucket in files
// (the top-level files bucket, or a historic kit's), in path order.
func channelFilesIn(files *bolt.Bucket, channel string, fn func(path string, f fileRec) error) error {
	if files == nil {
		return nil
	}
	b := files.Bucket([]byte(channel))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		var f fileRec
		if err := json.Unmarshal(v, &f); err != nil {
			return fmt.Errorf("files: %s: %s: %w", channel, k, err)
		}
		return fn(string(k), f)
	})
}
