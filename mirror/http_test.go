package mirror

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestFetcherRetriesCachesAndCaps(t *testing.T) {
	var calls, fail atomic.Int32
	fail.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/flaky":
			if fail.Add(-1) >= 0 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"v1"`)
			w.Write([]byte("hello"))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 2000)))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cache := t.TempDir()
	f := &Fetcher{Client: srv.Client(), CacheDir: cache, Backoff: time.Millisecond, MaxSize: 1000}

	d, err := f.Get(t.Context(), srv.URL+"/flaky")
	if err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("%d requests, want 3 (two 503s then 200)", got)
	}
	if b, _ := os.ReadFile(d.Path); string(b) != "hello" || d.FromCache {
		t.Errorf("got %q fromCache=%v", b, d.FromCache)
	}
	d2, err := f.Get(t.Context(), srv.URL+"/flaky")
	if err != nil || !d2.FromCache || d2.SHA256 != d.SHA256 {
		t.Errorf("second fetch: %+v %v, want a 304 served from the cache", d2, err)
	}
	// A cached body that was tampered with is not trusted: full download.
	os.WriteFile(d.Path, []byte("HELLO"), 0o644)
	d3, err := f.Get(t.Context(), srv.URL+"/flaky")
	if err != nil || d3.FromCache {
		t.Errorf("tampered cache: %+v %v, want a fresh download", d3, err)
	}

	before := calls.Load()
	_, err = f.Get(t.Context(), srv.URL+"/missing")
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 404 || calls.Load()-before != 1 {
		t.Errorf("404: %v after %d requests, want one request and an HTTPError", err, calls.Load()-before)
	}
	if _, err := f.Get(t.Context(), srv.URL+"/big"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size cap: %v", err)
	}
	if _, err := f.Get(t.Context(), "ftp://example.com/x"); err == nil {
		t.Error("ftp URL accepted")
	}
}
