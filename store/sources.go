package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ferry-dev/ferry/manifest"
	"github.com/ferry-dev/ferry/verify"
)

// SourcesIndexer indexes kit.json (content type "kit"): per source its
// kind, files, bytes and the counts its fetch recorded (records, withdrawn,
// skipped, documents, statements, attestations verified or rejected …).
// Entries of a channel's "sources" index: source name -> SourceCounts
// (JSON).
type SourcesIndexer struct{}

var _ Indexer = SourcesIndexer{}

// Name implements Indexer.
func (SourcesIndexer) Name() string { return sourcesIndex }

// Accepts implements Indexer.
func (SourcesIndexer) Accepts(t string) bool { return t == "kit" }

// SourceCounts is what kit.json says about one source of a channel's
// active kit.
type SourceCounts struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	// Counts are the source's own counts, as kit.json records them.
	Counts map[string]int `json:"counts,omitempty"`
	// Skipped counts the items the source left out (kit.json lists them).
	Skipped int `json:"skipped,omitempty"`
}

// Index implements Indexer.
func (SourcesIndexer) Index(_ context.Context, f verify.Target, r io.Reader, w *IndexWriter) error {
	if f.Path != manifest.Path {
		return nil
	}
	man, err := manifest.Read(r)
	if err != nil {
		return err
	}
	for _, src := range man.Sources {
		v, err := json.Marshal(SourceCounts{Name: src.Name, Kind: src.Kind, Files: src.Files, Bytes: src.Bytes, Counts: src.Counts, Skipped: len(src.Skipped)})
		if err != nil {
			return err
		}
		if err := w.Put([]byte(src.Name), v); err != nil {
			return fmt.Errorf("source %q: %w", src.Name, err)
		}
	}
	return nil
}

// Sources returns every channel's sources with their counts, by channel
// and source name.
func (r *Reader) Sources() (map[string][]SourceCounts, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	out := map[string][]SourceCounts{}
	for _, cb := range r.sources {
		ss, err := channelSources(cb)
		if err != nil {
			return nil, err
		}
		out[cb.channel] = ss
	}
	return out, nil
}

func channelSources(cb chanBucket) ([]SourceCounts, error) {
	out := []SourceCounts{}
	err := cb.b.ForEach(func(k, v []byte) error {
		var sc SourceCounts
		if err := json.Unmarshal(v, &sc); err != nil {
			return fmt.Errorf("channel %s: sources index: %s: %w", cb.channel, k, err)
		}
		out = append(out, sc)
		return nil
	})
	return out, err
}
