package push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/images"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// dirBlobs is a blob directory named by hex digest, like the store's.
type dirBlobs string

func (d dirBlobs) BlobPath(hex string) (string, error) { return filepath.Join(string(d), hex), nil }

var _ images.Blobs = dirBlobs("")

// storeImages writes n random images (2 layers each) into a fresh blob
// directory and returns it with their descriptors.
func storeImages(t *testing.T, n int) (dirBlobs, []v1.Descriptor) {
	t.Helper()
	b := dirBlobs(t.TempDir())
	put := func(h v1.Hash, raw []byte) {
		if err := os.WriteFile(filepath.Join(string(b), h.Hex), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var descs []v1.Descriptor
	for range n {
		img, err := random.Image(1<<16, 2)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			h, _ := l.Digest()
			rc, _ := l.Compressed()
			raw, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			put(h, raw)
		}
		cfg, _ := img.RawConfigFile()
		ch, _ := img.ConfigName()
		put(ch, cfg)
		raw, _ := img.RawManifest()
		d, err := partial.Descriptor(img)
		if err != nil {
			t.Fatal(err)
		}
		put(d.Digest, raw)
		descs = append(descs, *d)
	}
	return b, descs
}

// recorder counts the requests the registry sees and the most blob uploads
// (PATCH) in flight at once; lie, if set, rewrites the digest of HEAD
// responses for manifests.
type recorder struct {
	mu       sync.Mutex
	counts   map[string]int
	inflight atomic.Int64
	maxUp    atomic.Int64
	lie      string
}

func newRegistry(t *testing.T) (string, *recorder) {
	t.Helper()
	r := &recorder{counts: map[string]int{}}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		kind := req.Method + " " + req.URL.Path
		if strings.Contains(req.URL.Path, "/blobs/") {
			kind = req.Method + " blobs"
		} else if strings.Contains(req.URL.Path, "/manifests/") {
			kind = req.Method + " manifests"
		}
		r.mu.Lock()
		r.counts[kind]++
		r.mu.Unlock()
		if req.Method == http.MethodPatch {
			n := r.inflight.Add(1)
			defer r.inflight.Add(-1)
			for m := r.maxUp.Load(); n > m && !r.maxUp.CompareAndSwap(m, n); m = r.maxUp.Load() {
			}
			// Long enough for uploads to overlap.
			time.Sleep(20 * time.Millisecond)
		}
		if r.lie != "" && req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/manifests/") && !strings.Contains(req.URL.Path, "sha256:") {
			w = lyingWriter{w, r.lie}
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host, r
}

type lyingWriter struct {
	http.ResponseWriter
	digest string
}

func (l lyingWriter) WriteHeader(code int) {
	l.Header().Set("Docker-Content-Digest", l.digest)
	l.ResponseWriter.WriteHeader(code)
}

func items(descs []v1.Descriptor) []Item {
	var out []Item
	for _, d := range descs {
		out = append(out, Item{Repository: "app/api", Desc: d})
	}
	return out
}

func TestPush(t *testing.T) {
	b, descs := storeImages(t, 6)
	host, rec := newRegistry(t)
	its := items(descs)
	its = append(its, Item{Repository: "app/api", Desc: descs[0], Tag: "sha256-x.sig"})
	res, err := Push(context.Background(), b, its, Options{Registry: host, Insecure: true, Jobs: 2, Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pushed) != len(its) {
		t.Fatalf("pushed %d, want %d", len(res.Pushed), len(its))
	}
	for _, p := range res.Pushed {
		if p.RegistryDigest != p.Digest {
			t.Errorf("%s: registry digest %s, want %s", p.Ref, p.RegistryDigest, p.Digest)
		}
	}
	// One ping for the Pusher, one for the Puller: not one per call.
	if n := rec.counts["GET /v2/"]; n > 2 {
		t.Errorf("%d pings, want at most 2", n)
	}
	// 6 images x (2 layers + config), each uploaded once.
	if n := rec.counts["PATCH blobs"]; n != 18 {
		t.Errorf("%d blob uploads, want 18", n)
	}
	// Jobs bounds the uploads in flight, although MultiWrite pushes Jobs
	// images at a time and each of them Jobs blobs at a time.
	if m := rec.maxUp.Load(); m > 2 {
		t.Errorf("%d uploads in flight, want at most 2 (Jobs)", m)
	}
	d, err := remote.Head(mustRef(t, host+"/app/api:sha256-x.sig"))
	if err != nil || d.Digest != descs[0].Digest {
		t.Errorf("tag: %v %v", d, err)
	}
}

// TestPushProgress: the progress func sees the bytes go out (blobs and
// manifests), ending with all of them uploaded; a second push of the same images uploads
// nothing (the registry holds every blob) and reports no bytes.
func TestPushProgress(t *testing.T) {
	b, descs := storeImages(t, 3)
	host, _ := newRegistry(t)
	var calls int
	var last [2]int64
	opts := Options{Registry: host, Insecure: true, Jobs: 2, Keychain: authn.NewMultiKeychain(), Progress: func(up, total int64) {
		calls++
		if up < last[0] {
			t.Errorf("uploaded went back from %d to %d", last[0], up)
		}
		last = [2]int64{up, total}
	}}
	if _, err := Push(context.Background(), b, items(descs), opts); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, d := range descs {
		m, err := os.ReadFile(filepath.Join(string(b), d.Digest.Hex))
		if err != nil {
			t.Fatal(err)
		}
		mf, err := v1.ParseManifest(bytes.NewReader(m))
		if err != nil {
			t.Fatal(err)
		}
		want += int64(len(m)) + mf.Config.Size
		for _, l := range mf.Layers {
			want += l.Size
		}
	}
	if calls == 0 || last != [2]int64{want, want} {
		t.Errorf("%d calls, last (uploaded, total) = %v, want [%d %d]", calls, last, want, want)
	}
	calls, last = 0, [2]int64{}
	if _, err := Push(context.Background(), b, items(descs), opts); err != nil {
		t.Fatal(err)
	}
	if last[0] != 0 {
		t.Errorf("a second push uploaded %d bytes", last[0])
	}
}

// TestPushTamperedLayer: a stored layer whose bytes changed after import
// (same size) is not re-hashed on the way out, but the registry refuses it
// and Push fails naming the damaged file.
func TestPushTamperedLayer(t *testing.T) {
	b, descs := storeImages(t, 2)
	raw, _ := os.ReadFile(filepath.Join(string(b), descs[1].Digest.Hex))
	m, err := v1.ParseManifest(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	bad := m.Layers[1].Digest
	p := filepath.Join(string(b), bad.Hex)
	data, _ := os.ReadFile(p)
	data[len(data)/2] ^= 1
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mangle func()
	}{
		{"same size", func() {}},
		{"truncated", func() { os.WriteFile(p, data[:len(data)-1], 0o644) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.mangle()
			host, _ := newRegistry(t)
			_, err := Push(context.Background(), b, items(descs), Options{Registry: host, Insecure: true, Keychain: authn.NewMultiKeychain()})
			var de *images.DigestError
			if !errors.As(err, &de) {
				t.Fatalf("want a *images.DigestError, got %v", err)
			}
			if de.Path != p || de.Want != bad.String() || !strings.Contains(err.Error(), "the store is damaged") {
				t.Errorf("error %q does not name %s", err, p)
			}
			if _, err := remote.Head(mustRef(t, host+"/app/api@"+descs[1].Digest.String())); err == nil {
				t.Errorf("the image with the damaged layer is in the registry")
			}
		})
	}
}

// TestPushDigestChanged: a registry that reports another digest for a tag
// fails the push, with every mismatch reported, in a fixed order. (By
// digest, remote.Head itself refuses a mismatch.)
func TestPushDigestChanged(t *testing.T) {
	b, descs := storeImages(t, 4)
	its := items(descs)
	for i, d := range descs {
		its = append(its, Item{Repository: "app/api", Desc: d, Tag: fmt.Sprintf("sha256-%d.sig", i)})
	}
	var first string
	for i := range 3 {
		host, rec := newRegistry(t)
		rec.lie = "sha256:" + strings.Repeat("0", 64)
		_, err := Push(context.Background(), b, its, Options{Registry: host, Insecure: true, Keychain: authn.NewMultiKeychain()})
		if !errors.Is(err, ErrDigestChanged) {
			t.Fatalf("want ErrDigestChanged, got %v", err)
		}
		if n := strings.Count(err.Error(), ErrDigestChanged.Error()); n != len(descs) {
			t.Errorf("%d mismatches reported, want %d", n, len(descs))
		}
		msg := strings.ReplaceAll(err.Error(), host, "HOST")
		if i == 0 {
			first = msg
		} else if msg != first {
			t.Errorf("run %d reported\n%s\nrun 0\n%s", i, msg, first)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
