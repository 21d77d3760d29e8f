package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-dev/ferry/internal/atomicfile"
)

// DefaultMaxDownload caps one download unless the caller sets a cap.
const DefaultMaxDownload = 4 << 30

// ErrTooLarge is returned when a download exceeds its size cap.
var ErrTooLarge = errors.New("download exceeds the size limit")

// HTTPError is a download that ended with an unexpected HTTP status.
type HTTPError struct {
	URL    string
	Status int
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// Fetcher downloads feed files over HTTP(S): timeouts, retries with
// exponential backoff on transient failures, a size cap, and a conditional
// cache (ETag / Last-Modified) in CacheDir. Its zero value is usable.
type Fetcher struct {
	// Client is the HTTP client; default: proxy from the environment
	// (HTTPS_PROXY, NO_PROXY …), 30 s to connect, 10 min per request.
	Client *http.Client
	// CacheDir keeps downloads between runs; "" disables the cache.
	CacheDir string
	// TempDir receives downloads when there is no cache; default os.TempDir.
	TempDir string
	// MaxSize caps one download; default DefaultMaxDownload.
	MaxSize int64
	// Attempts is how many times a transient failure is tried; default 4.
	Attempts int
	// Backoff is the first wait between attempts, doubled each time;
	// default 500 ms.
	Backoff time.Duration
	// Logger receives progress; discard when nil.
	Logger *slog.Logger
}

// Download is a fetched file on local disk.
type Download struct {
	URL    string
	Path   string // a file in the cache or the temp dir
	SHA256 string
	Size   int64
	// FromCache is true when the server said the cached copy is current.
	FromCache bool
}

type cacheMeta struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
}

func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	t.ResponseHeaderTimeout = 60 * time.Second
	t.TLSHandshakeTimeout = 30 * time.Second
	return &http.Client{Transport: t, Timeout: 10 * time.Minute}
}

// Get downloads rawURL (only http and https).
func (f *Fetcher) Get(ctx context.Context, rawURL string) (*Download, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", rawURL)
	}
	client := f.Client
	if client == nil {
		client = defaultClient()
	}
	attempts := f.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	backoff := f.Backoff
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	var last error
	for i := range attempts {
		if i > 0 {
			f.logger().Info("retrying download", "url", rawURL, "attempt", i+1, "error", last)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(backoff << (i - 1)):
			}
		}
		d, err := f.once(ctx, client, rawURL)
		if err == nil {
			return d, nil
		}
		last = err
		if !transient(err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("after %d attempts: %w", attempts, last)
}

func (f *Fetcher) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

func transient(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusTooManyRequests || he.Status >= 500
	}
	if errors.Is(err, ErrTooLarge) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return true // network errors, resets, short bodies
}

func (f *Fetcher) once(ctx context.Context, client *http.Client, rawURL string) (*Download, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "ferry")
	var meta *cacheMeta
	key := sha256.Sum256([]byte(rawURL))
	base := ""
	if f.CacheDir != "" {
		base = filepath.Join(f.CacheDir, "http", hex.EncodeToString(key[:]))
		if m, err := readMeta(base + ".json"); err == nil && verifyFile(base+".body", m.SHA256, m.Size) {
			meta = m
			if m.ETag != "" {
				req.Header.Set("If-None-Match", m.ETag)
			}
			if m.LastModified != "" {
				req.Header.Set("If-Modified-Since", m.LastModified)
			}
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && meta != nil {
		return &Download{URL: rawURL, Path: base + ".body", SHA256: meta.SHA256, Size: meta.Size, FromCache: true}, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{URL: rawURL, Status: resp.StatusCode}
	}
	max := f.MaxSize
	if max <= 0 {
		max = DefaultMaxDownload
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("GET %s: %w (%d bytes > %d)", rawURL, ErrTooLarge, resp.ContentLength, max)
	}
	dest := base + ".body"
	if base == "" {
		dir := f.TempDir
		if dir == "" {
			dir = os.TempDir()
		}
		dest = filepath.Join(dir, "download-"+hex.EncodeToString(key[:8]))
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, err
	}
	h := sha256.New()
	var n int64
	err = atomicfile.WriteFrom(dest, 0o644, func(w io.Writer) error {
		var err error
		n, err = io.Copy(io.MultiWriter(w, h), io.LimitReader(resp.Body, max+1))
		if err != nil {
			return err
		}
		if n > max {
			return fmt.Errorf("GET %s: %w (more than %d bytes)", rawURL, ErrTooLarge, max)
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return fmt.Errorf("GET %s: got %d bytes, the server announced %d", rawURL, n, resp.ContentLength)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d := &Download{URL: rawURL, Path: dest, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}
	if base != "" {
		m := cacheMeta{URL: rawURL, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), SHA256: d.SHA256, Size: n}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("cache metadata of %s: %w", rawURL, err)
		}
		if err := atomicfile.WriteFile(base+".json", b, 0o644); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func readMeta(path string) (*cacheMeta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m cacheMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// verifyFile re-hashes a cached file: a file with the right size is not
// trusted until its digest checks out.
func verifyFile(path, sha string, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return err == nil && n == size && hex.EncodeToString(h.Sum(nil)) == sha
}

// FileSHA256 returns the sha256 and size of a local file.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
