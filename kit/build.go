package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/internal/version"
	"github.com/ferry-dev/ferry/manifest"
	"github.com/ferry-dev/ferry/trust"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ManifestPath is the path of the kit manifest inside a kit.
const ManifestPath = manifest.Path

// ManifestSchema names the JSON schema of kit.json.
const ManifestSchema = manifest.Schema

// Manifest is kit.json (package manifest).
type Manifest = manifest.Manifest

// BuildOptions configures Build.
type BuildOptions struct {
	// Roots is the channel's root chain, oldest first (trust.LoadChain).
	Roots [][]byte
	// Signers sign the kit's targets, snapshot and timestamp.
	Signers []signature.Signer
	// Now is the creation time used when the spec sets none.
	Now time.Time
	// Clock is the real time of the build, read by the caller. When set,
	// a kit that would already be expired at Clock is refused unless
	// AllowExpired is set.
	Clock        time.Time
	AllowExpired bool
	// Logger receives progress; discard when nil.
	Logger *slog.Logger
	// Cache is a directory kept between runs (--cache), or "".
	Cache string
	// HTTPClient, if set, is used for every download.
	HTTPClient *http.Client
	// Delta, if set, makes Build write a delta kit against it (see
	// DeltaFromKit, DeltaFromHave) instead of the full kit.
	Delta *bundle.DeltaFrom
}

// BuildResult describes a built kit.
type BuildResult struct {
	*bundle.Written
	Manifest Manifest
	// Delta describes the full kit a delta stands for; nil for a full kit.
	Delta *bundle.WrittenDelta
}

// Build fetches every source of spec and writes the signed kit to w.
func Build(ctx context.Context, w io.Writer, spec *Spec, opts BuildOptions) (*BuildResult, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	created := spec.Created
	if created.IsZero() {
		created = opts.Now.UTC().Truncate(time.Second)
	}
	if created.IsZero() {
		return nil, errors.New("no creation time: set created in kit.yaml or SOURCE_DATE_EPOCH")
	}
	expires := spec.ExpiryFor(created)
	if !opts.AllowExpired {
		if err := spec.CheckExpiry(created, opts.Clock); err != nil {
			return nil, err
		}
	}
	if err := checkSigning(spec, opts, expires); err != nil {
		return nil, err
	}
	if err := spec.CheckLocal(ctx); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "ferry-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	env := &Env{Created: created, Logger: logger, TempDir: tmp, Cache: opts.Cache, HTTPClient: opts.HTTPClient}
	var files []bundle.File
	owner := map[string]string{}
	// limit refuses a kit that would list more than a verifier reads as
	// soon as a source brings it over, before the next source is fetched.
	var limit bundle.TargetsLimit
	man := Manifest{
		Schema: ManifestSchema, Name: spec.Name, Channel: spec.Channel, Version: spec.Version,
		Created: created, Expires: expires, FerryVersion: version.Version, Sources: []Provenance{},
	}
	if len(spec.Freshness) > 0 {
		man.Freshness = map[string]string{}
		for k, d := range spec.Freshness {
			man.Freshness[k] = manifest.FormatDuration(d)
		}
	}
	for _, src := range spec.Sources {
		logger.Info("fetching source", "source", src.Name(), "kind", src.Kind())
		f, err := src.Fetch(ctx, env)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", src.Name(), err)
		}
		for _, file := range f.Files {
			if prev, dup := owner[file.Path]; dup {
				return nil, &SpecError{File: spec.File, Field: src.Name(), Code: SpecDuplicatePath,
					Msg: fmt.Sprintf("kit path %q is produced by both %s and %s", file.Path, prev, src.Name())}
			}
			owner[file.Path] = src.Name()
			if err := limit.Add(file.Path, file.Custom, knownSize(file)); err != nil {
				return nil, fmt.Errorf("source %s: %w", src.Name(), err)
			}
		}
		files = append(files, f.Files...)
		man.Sources = append(man.Sources, f.Provenance)
	}
	manJSON, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	manJSON = append(manJSON, '\n')
	files = append(files, bundle.File{
		Path:   ManifestPath,
		Custom: json.RawMessage(`{"mediaType":"` + format.MediaKit + `"}`),
		Open:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(manJSON)), nil },
	})
	files = packProgress(files, logger)
	wopts := bundle.WriteOptions{
		Info:    bundle.Info{Name: spec.Name, Channel: spec.Channel, Version: spec.Version, Created: created, Expires: expires},
		Roots:   opts.Roots,
		Signers: opts.Signers,
	}
	if opts.Delta != nil {
		d, err := bundle.WriteDelta(ctx, w, wopts, files, *opts.Delta)
		if err != nil {
			return nil, err
		}
		return &BuildResult{Written: d.Written, Manifest: man, Delta: d}, nil
	}
	written, err := bundle.Write(ctx, w, wopts, files)
	if err != nil {
		return nil, err
	}
	return &BuildResult{Written: written, Manifest: man}, nil
}

// knownSize is f's length if the source gave it, else 0.
func knownSize(f bundle.File) int64 {
	if f.Digest != nil {
		return f.Size
	}
	return 0
}

// BuildFile builds the kit into path atomically: on any error nothing is
// left at path (an earlier file there stays as it was).
func BuildFile(ctx context.Context, path string, spec *Spec, opts BuildOptions) (*BuildResult, error) {
	var res *BuildResult
	err := atomicfile.WriteFrom(path, 0o644, func(w io.Writer) error {
		var err error
		res, err = Build(ctx, w, spec, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// checkSigning makes sure the kit that is about to be built will verify:
// the root chain holds, names the spec's channel, lists the signing keys
// and outlives the kit.
func checkSigning(spec *Spec, opts BuildOptions, expires time.Time) error {
	if len(opts.Roots) == 0 {
		return errors.New("no channel root given")
	}
	if err := trust.VerifyChain(opts.Roots); err != nil {
		return err
	}
	root, err := trust.Parse(opts.Roots[len(opts.Roots)-1])
	if err != nil {
		return err
	}
	if ch := trust.Channel(root); ch != spec.Channel {
		return fmt.Errorf("%s: channel %q, but the root is for channel %q", spec.File, spec.Channel, ch)
	}
	if root.Signed.Expires.Before(expires) {
		return fmt.Errorf("root version %d expires %s, before the kit would (%s): rotate the root (ferry trust rotate) or shorten expires",
			root.Signed.Version, root.Signed.Expires.Format(time.RFC3339), expires.Format(time.RFC3339))
	}
	if len(opts.Signers) == 0 {
		return errors.New("no signing key given")
	}
	role := root.Signed.Roles[metadata.TARGETS]
	valid := 0
	for _, s := range opts.Signers {
		pub, err := s.PublicKey()
		if err != nil {
			return err
		}
		k, err := metadata.KeyFromPublicKey(pub)
		if err != nil {
			return err
		}
		id, err := k.ID()
		if err != nil {
			return err
		}
		if !slices.Contains(role.KeyIDs, id) {
			return fmt.Errorf("signing key %s is not a signing key of root version %d of channel %q", id[:16], root.Signed.Version, spec.Channel)
		}
		valid++
	}
	if valid < role.Threshold {
		return fmt.Errorf("%d signing key(s) given, root version %d requires %d", valid, root.Signed.Version, role.Threshold)
	}
	return nil
}

// ReadManifest decodes kit.json.
func ReadManifest(r io.Reader) (*Manifest, error) { return manifest.Read(r) }
