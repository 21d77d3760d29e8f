package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// TUFOptions configures FetchTUF.
type TUFOptions struct {
	// MetadataURL is the base URL of the repository's metadata (where
	// 2.root.json and timestamp.json are). Required.
	MetadataURL string
	// TargetsURL is the base URL of the target files; default
	// MetadataURL + "/targets", as go-tuf expects.
	TargetsURL string
	// Root is the pinned root metadata the chain starts from. Required.
	Root []byte
	// Targets are the target paths to fetch. At least one.
	Targets []string
	// At is the reference time for expiry: the kit's creation time (the
	// package never reads the clock). Required.
	At time.Time
	// Client is the HTTP client; default as Fetcher's.
	Client *http.Client
	// Logger receives progress; discard when nil.
	Logger *slog.Logger
}

// TUFTarget is a fetched target file, verified against targets metadata.
type TUFTarget struct {
	Path string
	Data []byte
}

// TUFResult is what FetchTUF fetched: every piece verified by go-tuf's
// updater from the pinned root, as the bytes the server sent.
type TUFResult struct {
	// Roots are the root metadata from the pinned version to the newest,
	// oldest first; Roots[0] is the pinned root.
	Roots                        [][]byte
	RootVersions                 []int64
	Timestamp, Snapshot, Targets []byte
	// Files are the requested targets in request order.
	Files []TUFTarget
}

// FetchTUF runs go-tuf's updater (TUF client workflow: root rotation,
// timestamp, snapshot, targets, rollback and freeze checks) against a
// remote repository from a pinned root, with expiry checked at opts.At,
// and downloads the named targets, each checked against its length and
// hashes. It keeps no local cache: everything is fetched each time.
//
// Only top-level targets are fetched: a target that is only reachable
// through a delegation is refused. Target files are held in memory (go-tuf
// returns them as bytes); each is capped by the length signed for it.
func FetchTUF(ctx context.Context, opts TUFOptions) (*TUFResult, error) {
	switch {
	case opts.MetadataURL == "":
		return nil, errors.New("no TUF metadata URL")
	case len(opts.Root) == 0:
		return nil, errors.New("no pinned TUF root")
	case len(opts.Targets) == 0:
		return nil, errors.New("no TUF targets named")
	case opts.At.IsZero():
		return nil, errors.New("no reference time")
	}
	metaBase := strings.TrimSuffix(opts.MetadataURL, "/") + "/"
	cfg, err := config.New(opts.MetadataURL, opts.Root)
	if err != nil {
		return nil, fmt.Errorf("TUF repository %s: %w", opts.MetadataURL, err)
	}
	if opts.TargetsURL != "" {
		cfg.RemoteTargetsURL = opts.TargetsURL
	}
	client := opts.Client
	if client == nil {
		client = defaultClient()
	}
	rec := &tufFetcher{ctx: ctx, client: client, logger: opts.Logger, got: map[string][]byte{}}
	cfg.Fetcher = rec
	cfg.DisableLocalCache = true
	up, err := updater.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("pinned TUF root: %w", err)
	}
	up.UnsafeSetRefTime(opts.At) // the kit's time, not the wall clock
	if err := up.Refresh(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("TUF repository %s: %w", opts.MetadataURL, err)
	}
	trusted := up.GetTrustedMetadataSet()
	pinned, err := metadata.Root().FromBytes(opts.Root)
	if err != nil {
		return nil, err
	}
	res := &TUFResult{Roots: [][]byte{opts.Root}, RootVersions: []int64{pinned.Signed.Version}}
	for v := pinned.Signed.Version + 1; v <= trusted.Root.Signed.Version; v++ {
		b, ok := rec.got[metaBase+strconv.FormatInt(v, 10)+".root.json"]
		if !ok {
			return nil, fmt.Errorf("TUF repository %s: root version %d was trusted but not recorded", opts.MetadataURL, v)
		}
		res.Roots = append(res.Roots, b)
		res.RootVersions = append(res.RootVersions, v)
	}
	consistent := trusted.Root.Signed.ConsistentSnapshot
	name := func(role string, version int64) string {
		if consistent && role != metadata.TIMESTAMP {
			return metaBase + strconv.FormatInt(version, 10) + "." + role + ".json"
		}
		return metaBase + role + ".json"
	}
	snapVer := trusted.Timestamp.Signed.Meta["snapshot.json"].Version
	tgtVer := trusted.Snapshot.Signed.Meta["targets.json"].Version
	for _, m := range []struct {
		dst     *[]byte
		role    string
		version int64
		want    int64
	}{
		{&res.Timestamp, metadata.TIMESTAMP, 0, trusted.Timestamp.Signed.Version},
		{&res.Snapshot, metadata.SNAPSHOT, snapVer, trusted.Snapshot.Signed.Version},
		{&res.Targets, metadata.TARGETS, tgtVer, trusted.Targets[metadata.TARGETS].Signed.Version},
	} {
		b, ok := rec.got[name(m.role, m.version)]
		if !ok {
			return nil, fmt.Errorf("TUF repository %s: %s was trusted but not recorded", opts.MetadataURL, m.role)
		}
		if v, err := metadataVersion(b); err != nil || v != m.want {
			return nil, fmt.Errorf("TUF repository %s: recorded %s is not the trusted version %d", opts.MetadataURL, m.role, m.want)
		}
		*m.dst = b
	}
	top := trusted.Targets[metadata.TARGETS].Signed.Targets
	for _, p := range opts.Targets {
		tf, ok := top[p]
		if !ok {
			return nil, fmt.Errorf("TUF repository %s: target %q is not listed in the top-level targets (version %d); delegated targets are not supported",
				opts.MetadataURL, p, trusted.Targets[metadata.TARGETS].Signed.Version)
		}
		_, data, err := up.DownloadTarget(tf, "", "")
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("TUF target %s: %w", p, err)
		}
		res.Files = append(res.Files, TUFTarget{Path: p, Data: data})
	}
	return res, nil
}

func metadataVersion(b []byte) (int64, error) {
	var v struct {
		Signed struct {
			Version int64 `json:"version"`
		} `json:"signed"`
	}
	err := json.Unmarshal(b, &v)
	return v.Signed.Version, err
}

// tufFetcher is go-tuf's download hook: context-aware, size-capped, with
// a few retries on transient failures, and it records every body so that
// the exact bytes the updater verified can be carried.
type tufFetcher struct {
	ctx    context.Context
	client *http.Client
	logger *slog.Logger
	got    map[string][]byte
}

var _ fetcher.Fetcher = (*tufFetcher)(nil)

// DownloadFile implements fetcher.Fetcher.
func (f *tufFetcher) DownloadFile(rawURL string, maxLength int64, _ time.Duration) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", rawURL)
	}
	var last error
	for i := range 3 {
		if i > 0 {
			select {
			case <-f.ctx.Done():
				return nil, f.ctx.Err()
			case <-time.After(time.Duration(250<<i) * time.Millisecond):
			}
		}
		b, err := f.once(rawURL, maxLength)
		if err == nil {
			f.got[rawURL] = b
			return b, nil
		}
		last = err
		var he *metadata.ErrDownloadHTTP
		if errors.As(err, &he) && he.StatusCode != http.StatusTooManyRequests && he.StatusCode < 500 {
			return nil, err // 404 ends the root walk: not an error to retry
		}
		if errors.Is(err, &metadata.ErrDownloadLengthMismatch{}) || f.ctx.Err() != nil {
			return nil, err
		}
		if f.logger != nil {
			f.logger.Info("retrying TUF download", "url", rawURL, "attempt", i+2, "error", err)
		}
	}
	return nil, last
}

func (f *tufFetcher) once(rawURL string, maxLength int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "ferry")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: rawURL}
	}
	if resp.ContentLength > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s: %d bytes announced, at most %d expected", rawURL, resp.ContentLength, maxLength)}
	}
	var b bytes.Buffer
	n, err := b.ReadFrom(io.LimitReader(resp.Body, maxLength+1))
	if err != nil {
		return nil, err
	}
	if n > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s: more than the %d bytes expected", rawURL, maxLength)}
	}
	return b.Bytes(), nil
}
