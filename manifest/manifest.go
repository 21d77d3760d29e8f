package manifest

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/ferry-dev/ferry/bundle"
)

// Path is the path of the manifest inside a kit.
const Path = "kit.json"

// Schema names the JSON schema of kit.json.
const Schema = "ferry.dev/kit/v1"

// MaxSize caps kit.json when it is read.
const MaxSize = 16 << 20

// Manifest is kit.json: what the kit is and where each source came from.
type Manifest struct {
	Schema       string            `json:"schema"`
	Name         string            `json:"name"`
	Channel      string            `json:"channel"`
	Version      int64             `json:"version"`
	Created      time.Time         `json:"created"`
	Expires      time.Time         `json:"expires"`
	Base         *bundle.Base      `json:"base,omitempty"`
	FerryVersion string            `json:"ferryVersion"`
	Freshness    map[string]string `json:"freshness,omitempty"`
	Sources      []Provenance      `json:"sources"`
}

// Provenance records where a source's content came from.
type Provenance struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	From  string `json:"from"`
	Dest  string `json:"dest,omitempty"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	// Digest is the sha256 of what was fetched, where the source has one
	// (a resolved image digest, an archive's digest).
	Digest string `json:"digest,omitempty"`
	// FetchedAt is when a remote source was fetched; empty for local ones.
	FetchedAt string `json:"fetchedAt,omitempty"`
	// Counts are what the source counted: records, withdrawn, skipped,
	// documents, statements, attestations verified or rejected …
	Counts map[string]int `json:"counts,omitempty"`
	// Skipped lists what the source left out and why (invalid records with
	// skip-invalid, attestations that failed verification).
	Skipped []Skipped `json:"skipped,omitempty"`
	// Images records each image of an images source: the reference as
	// written, the resolved digest, the platforms carried.
	Images []Image `json:"images,omitempty"`
}

// Skipped is one item a source left out of the kit.
type Skipped struct {
	Item   string `json:"item"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// Image is the provenance of one mirrored image.
type Image struct {
	// Ref is the reference as kit.yaml wrote it; a tag is a label only.
	Ref        string   `json:"ref"`
	Repository string   `json:"repository"`
	Digest     string   `json:"digest"`
	MediaType  string   `json:"mediaType"`
	Platforms  []string `json:"platforms,omitempty"`
	// Manifests counts the image manifests carried (one per platform).
	Manifests int `json:"manifests"`
	// Attachments counts signatures, attestations, SBOMs and referrers.
	Attachments int `json:"attachments"`
	// FetchedAt is the kit's creation time, not the clock.
	FetchedAt time.Time `json:"fetchedAt"`
}

// Read decodes kit.json, refusing another schema.
func Read(r io.Reader) (*Manifest, error) {
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(r, MaxSize)).Decode(&m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", Path, err)
	}
	if m.Schema != Schema {
		return nil, fmt.Errorf("%s: schema %q is not %q", Path, m.Schema, Schema)
	}
	for k, d := range m.Freshness {
		if _, err := ParseDuration(d); err != nil {
			return nil, fmt.Errorf("%s: freshness.%s: %w", Path, k, err)
		}
	}
	return &m, nil
}
