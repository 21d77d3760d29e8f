package kit

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/ferry-dev/ferry/bundle"
)

// Source is one entry of kit.yaml that puts content into a kit. Each kind
// (files, images, advisories, …) is one small type behind this interface,
// registered in sourceKinds.
type Source interface {
	// Kind is the kit.yaml key of the source, e.g. "files".
	Kind() string
	// Name identifies the source in the kit: in provenance, in the custom
	// object of its targets, in errors.
	Name() string
	// Fetch produces the source's content files. It does not verify the
	// kit; it may open the network only in connected-side sources.
	Fetch(ctx context.Context, env *Env) (*Fetched, error)
}

// Env is what a source gets to work with.
type Env struct {
	// Created is the kit's creation time; sources never read the clock.
	Created time.Time
	// Logger receives progress; discard by default.
	Logger *slog.Logger
	// TempDir is a scratch directory for the build, removed when the kit
	// has been written. Sources put downloaded or reordered data there.
	TempDir string
	// Cache is a directory kept between runs (--cache): downloads and
	// blobs already there are not fetched again (re-checked by digest).
	Cache string
	// HTTPClient, if set, is used for every download (tests inject one
	// for loopback TLS servers).
	HTTPClient *http.Client
}

// Fetched is a source's contribution to a kit.
type Fetched struct {
	Files      []bundle.File
	Provenance Provenance
}

// Provenance records where a source's content came from, in kit.json.
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
	Images []ImageProvenance `json:"images,omitempty"`
}

// Skipped is one item a source left out of the kit.
type Skipped struct {
	Item   string `json:"item"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}
