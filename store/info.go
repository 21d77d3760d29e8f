package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/manifest"
	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
)

// SourceDigest is a source of a channel's active kit as kit.json records it.
type SourceDigest struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	From      string `json:"from,omitempty"`
	Digest    string `json:"digest,omitempty"`
	FetchedAt string `json:"fetchedAt,omitempty"`
}

// InfoSchema names the JSON schema of Info.
const InfoSchema = "ferry.dev/store-info/v1"

// Freshness states of a content type.
const (
	FreshOK       = "ok"        // younger than its budget
	FreshStale    = "stale"     // older than its budget
	FreshNoBudget = "no-budget" // kit.json sets no budget for the type
	FreshMissing  = "missing"   // a budget, but the kit holds no such content
)

// Info describes a store: every channel's active kit and the age of each
// content type against its freshness budget.
type Info struct {
	Schema        string        `json:"schema"`
	Dir           string        `json:"dir"`
	SchemaVersion int           `json:"schemaVersion"`
	At            time.Time     `json:"at"`
	Imports       int           `json:"imports"`
	Channels      []ChannelInfo `json:"channels"`
}

// ChannelInfo is one channel's active kit.
type ChannelInfo struct {
	Channel    string    `json:"channel"`
	Name       string    `json:"name"`
	Version    int64     `json:"version"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	Expired    bool      `json:"expired"`
	ImportedAt time.Time `json:"importedAt"`
	// VerifiedAt is the pinned clock the active kit was verified on, when
	// the import pinned one (ImportedAt is always the real time); Reason
	// and Operator say why and who, for a pinned clock or a forced
	// activation.
	VerifiedAt    time.Time  `json:"verifiedAt,omitzero"`
	Reason        string     `json:"reason,omitempty"`
	Operator      string     `json:"operator,omitempty"`
	RootVersion   int64      `json:"rootVersion"`
	TargetsSHA256 string     `json:"targetsSha256"`
	KitSHA256     string     `json:"kitSha256"`
	Types         []TypeInfo `json:"types"`
	// Sources are the kit's sources with the counts kit.json recorded
	// (records, withdrawn, skipped, documents, statements …), by name.
	Sources []SourceCounts `json:"sources"`
	// TUF are the carried TUF repositories, re-verified at import, with
	// their state at import and whether they are expired at Info's time.
	TUF []TUFInfo `json:"tuf"`
}

// TUFInfo is a carried TUF repository: its state recorded at import, and
// ExpiredNow, whether its earliest expiry is before Info's time.
type TUFInfo struct {
	TUFStatus
	ExpiredNow bool `json:"expiredNow"`
}

// TypeInfo is one content type of a channel: how much there is (counted
// from the file map, in the same read as the version) and how old it is.
type TypeInfo struct {
	Type       string    `json:"type"`
	Files      int       `json:"files"`
	Bytes      int64     `json:"bytes"`
	DataTime   time.Time `json:"dataTime,omitzero"`
	AgeSeconds int64     `json:"ageSeconds"`
	Budget     string    `json:"budget,omitempty"`
	Freshness  string    `json:"freshness"`
}

// Info reads the store's state as of at (for ages and expiry) in one read
// transaction.
func (s *Store) Info(ctx context.Context, at time.Time) (*Info, error) {
	var in *Info
	err := s.View(ctx, func(r *Reader) error {
		var err error
		in, err = r.Info(at)
		return err
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// Info is Store.Info inside r's transaction: a caller that also reads
// indexes (the gate) records the channel versions of exactly what it read.
func (r *Reader) Info(at time.Time) (*Info, error) {
	in := &Info{Schema: InfoSchema, Dir: r.s.dir, SchemaVersion: SchemaVersion, At: at.UTC(), Channels: []ChannelInfo{}}
	in.Imports = r.tx.Bucket(bucketLog).Stats().KeyN
	for _, k := range r.roots {
		st, err := k.channelState()
		if err != nil {
			return nil, err
		}
		ci, err := channelInfo(k, st, at)
		if err != nil {
			return nil, err
		}
		in.Channels = append(in.Channels, ci)
	}
	return in, nil
}

func channelInfo(k kitRoot, st *channelState, at time.Time) (ChannelInfo, error) {
	ci := ChannelInfo{
		Channel: st.Channel, Name: st.Name, Version: st.Version, Created: st.Created, Expires: st.Expires,
		Expired: at.After(st.Expires), ImportedAt: st.ImportedAt, RootVersion: st.RootVersion,
		VerifiedAt: st.VerifiedAt, Reason: st.Reason, Operator: st.Operator,
		TargetsSHA256: st.TargetsSHA256, KitSHA256: st.KitSHA256, Types: []TypeInfo{}, Sources: []SourceCounts{},
		TUF: []TUFInfo{},
	}
	tufs, err := channelTUF(k)
	if err != nil {
		return ci, err
	}
	for _, t := range tufs {
		t.Channel = ""
		ci.TUF = append(ci.TUF, TUFInfo{TUFStatus: t, ExpiredNow: !t.Expires.IsZero() && at.After(t.Expires)})
	}
	if b := k.indexBucket(sourcesIndex); b != nil {
		ss, err := channelSources(chanBucket{st.Channel, b})
		if err != nil {
			return ci, err
		}
		ci.Sources = ss
	}
	counts := map[string]verify.TypeCount{}
	err = k.eachFile(func(p string, f fileRec) error {
		t := targetOf(p, f).Type
		c := counts[t]
		c.Files++
		c.Bytes += f.Length
		counts[t] = c
		return nil
	})
	if err != nil {
		return ci, err
	}
	types := sortedKeys(counts)
	for t := range st.Freshness {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	for _, t := range types {
		ti := TypeInfo{Type: t, Files: counts[t].Files, Bytes: counts[t].Bytes, DataTime: st.DataTime[t], Budget: st.Freshness[t]}
		if !ti.DataTime.IsZero() {
			ti.AgeSeconds = int64(at.Sub(ti.DataTime) / time.Second)
		}
		switch {
		case ti.Budget == "":
			ti.Freshness = FreshNoBudget
		case ti.Files == 0:
			ti.Freshness = FreshMissing
		default:
			d, err := manifest.ParseDuration(ti.Budget)
			if err != nil {
				return ci, fmt.Errorf("channel %s: freshness.%s: %w", st.Channel, t, err)
			}
			ti.Freshness = FreshOK
			if at.Sub(ti.DataTime) > d {
				ti.Freshness = FreshStale
			}
		}
		ci.Types = append(ci.Types, ti)
	}
	return ci, nil
}

// InventorySchema names the JSON schema of Inventory.
const InventorySchema = "ferry.dev/store-inventory/v1"

// Inventory is what a site has, for the connected side to build a minimal
// delta from: channels and versions, image blob digests and source digests.
// Everything is sorted; the same store gives the same bytes.
type Inventory struct {
	Schema   string             `json:"schema"`
	Channels []InventoryChannel `json:"channels"`
	// Images are the digests ("sha256:<hex>") of the OCI blobs the site
	// holds (files under images/blobs/sha256/ of any active kit).
	Images []string `json:"images"`
}

// InventoryChannel is one channel in an Inventory.
type InventoryChannel struct {
	Channel       string         `json:"channel"`
	Version       int64          `json:"version"`
	TargetsSHA256 string         `json:"targetsSha256"`
	RootVersion   int64          `json:"rootVersion"`
	Sources       []SourceDigest `json:"sources"`
	// Files maps every content path to its sha256, so a delta can leave
	// out what is unchanged.
	Files map[string]string `json:"files"`
}

// Inventory lists what the store holds.
func (s *Store) Inventory(ctx context.Context) (*Inventory, error) {
	inv := &Inventory{Schema: InventorySchema, Channels: []InventoryChannel{}, Images: []string{}}
	images := map[string]bool{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChannels).ForEach(func(k, _ []byte) error {
			st, err := getChannel(tx, string(k))
			if err != nil {
				return err
			}
			ic := InventoryChannel{Channel: st.Channel, Version: st.Version, TargetsSHA256: st.TargetsSHA256,
				RootVersion: st.RootVersion, Sources: st.Sources, Files: map[string]string{}}
			if ic.Sources == nil {
				ic.Sources = []SourceDigest{}
			}
			slices.SortFunc(ic.Sources, func(a, b SourceDigest) int { return strings.Compare(a.Name, b.Name) })
			err = channelFiles(tx, st.Channel, func(p string, f fileRec) error {
				ic.Files[p] = f.SHA256
				if d, ok := imageBlob(p); ok {
					images[d] = true
				}
				return nil
			})
			inv.Channels = append(inv.Channels, ic)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	inv.Images = sortedKeys(images)
	if inv.Images == nil {
		inv.Images = []string{}
	}
	return inv, nil
}

// imageBlob reports the OCI digest of a kit path under images/blobs/.
func imageBlob(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "images/blobs/")
	if !ok {
		return "", false
	}
	alg, hexd, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(hexd, "/") || alg == "" || hexd == "" {
		return "", false
	}
	return alg + ":" + hexd, true
}
