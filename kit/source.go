package kit

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/manifest"
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
type Provenance = manifest.Provenance

// Skipped is one item a source left out of the kit.
type Skipped = manifest.Skipped
