package mirror_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"github.com/ferry-dev/ferry/format"
	"io"
	"log"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/mirror"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

var fetchedAt = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

// testRegistry is ggcr's in-memory registry on loopback that records the
// requests it serves.
type testRegistry struct {
	host string
	mu   sync.Mutex
	reqs []string // "GET /v2/…"
	user string   // basic auth user, "" for none
	pass string
}

func newRegistry(t *testing.T, referrers bool, basic ...string) *testRegistry {
	t.Helper()
	r := &testRegistry{}
	if len(basic) == 2 {
		r.user, r.pass = basic[0], basic[1]
	}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrers))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != r.user || p != r.pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	r.host = u.Host
	return r
}

func (r *testRegistry) auth() remote.Option {
	if r.user == "" {
		return remote.WithAuth(authn.Anonymous)
	}
	return remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass})
}

// requests returns the recorded requests matching prefix.
func (r *testRegistry) requests(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		if strings.HasPrefix(q, prefix) {
			out = append(out, q)
		}
	}
	return out
}

func (r *testRegistry) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := mirror.ParseReference(r.host+"/"+s, true)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (r *testRegistry) push(t *testing.T, s string, img v1.Image) v1.Hash {
	t.Helper()
	if err := remote.Write(r.ref(t, s), img, r.auth()); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (r *testRegistry) pushIndex(t *testing.T, s string, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	if err := remote.WriteIndex(r.ref(t, s), idx, r.auth()); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func randomImage(t *testing.T, seed int64, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(512, layers, random.WithSource(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// fetchLayout mirrors refs and returns the layout's files by path.
func fetchLayout(t *testing.T, reg *testRegistry, cacheDir string, refs []mirror.ImageRef, opts ...mirror.ImagesOption) (*mirror.Layout, map[string][]byte) {
	t.Helper()
	l, err := tryFetch(t, reg, cacheDir, refs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l, readFiles(t, l)
}

func tryFetch(t *testing.T, reg *testRegistry, cacheDir string, refs []mirror.ImageRef, opts ...mirror.ImagesOption) (*mirror.Layout, error) {
	t.Helper()
	if cacheDir == "" {
		cacheDir = t.TempDir()
	}
	cache, err := mirror.OpenBlobCache(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]mirror.ImagesOption{mirror.WithRegistry(reg.host, mirror.RegistryConfig{Insecure: true})}, opts...)
	m, err := mirror.NewImages(refs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m.Fetch(t.Context(), cache, fetchedAt)
}

func readFiles(t *testing.T, l *mirror.Layout) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range l.Files {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if int64(len(b)) != f.Size {
			t.Fatalf("%s: %d bytes, listed as %d", f.Path, len(b), f.Size)
		}
		if strings.HasPrefix(f.Path, "images/blobs/sha256/") {
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != strings.TrimPrefix(f.Path, "images/blobs/sha256/") {
				t.Fatalf("%s does not hash to its name", f.Path)
			}
		}
		out[f.Path] = b
	}
	return out
}

func indexOf(t *testing.T, files map[string][]byte) *v1.IndexManifest {
	t.Helper()
	im, err := v1.ParseIndexManifest(bytes.NewReader(files["images/index.json"]))
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func blobPath(h v1.Hash) string { return "images/blobs/sha256/" + h.Hex }

// writeLayout writes the layout files under dir, for ggcr's layout reader.
func writeLayout(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "images")
}

func TestSingleImage(t *testing.T) {
	reg := newRegistry(t, true)
	img := randomImage(t, 1, 3)
	want := reg.push(t, "app/api:1.4", img)
	written := reg.host + "/app/api:1.4"

	l, files := fetchLayout(t, reg, "", []mirror.ImageRef{{Ref: reg.ref(t, "app/api:1.4"), Written: written}})

	im := indexOf(t, files)
	if len(im.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1: %s", len(im.Manifests), files["images/index.json"])
	}
	d := im.Manifests[0]
	if d.Digest != want || d.MediaType != types.DockerManifestSchema2 {
		t.Errorf("descriptor %s %s, want %s", d.MediaType, d.Digest, want)
	}
	wantAnn := map[string]string{
		format.AnnotationRefName:        written,
		format.AnnotationRepository:     reg.host + "/app/api",
		format.AnnotationResolvedDigest: want.String(),
	}
	if diff := cmp.Diff(wantAnn, d.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	// manifest + config + 3 layers, plus index.json and oci-layout.
	if len(files) != 7 {
		t.Errorf("%d files, want 7: %v", len(files), slices.Sorted(mapKeys(files)))
	}
	raw, _ := img.RawManifest()
	if !bytes.Equal(files[blobPath(want)], raw) {
		t.Error("the manifest blob is not the registry's manifest")
	}
	if string(files["images/oci-layout"]) != "{\"imageLayoutVersion\":\"1.0.0\"}\n" {
		t.Errorf("oci-layout %q", files["images/oci-layout"])
	}
	wantProv := []mirror.ImageProvenance{{Ref: written, Repository: reg.host + "/app/api", Digest: want.String(),
		MediaType: string(types.DockerManifestSchema2), Manifests: 1, FetchedAt: fetchedAt}}
	if diff := cmp.Diff(wantProv, l.Images); diff != "" {
		t.Errorf("provenance (-want +got):\n%s", diff)
	}
	if !slices.IsSortedFunc(l.Files, func(a, b mirror.LayoutFile) int { return strings.Compare(a.Path, b.Path) }) {
		t.Error("files are not sorted by path")
	}

	// The layout is a valid OCI layout that ggcr reads back.
	idx, err := layout.ImageIndexFromPath(writeLayout(t, files))
	if err != nil {
		t.Fatal(err)
	}
	got, err := idx.Image(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("mirrored image does not validate: %v", err)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func platform(t *testing.T, s string) v1.Platform {
	t.Helper()
	p, err := mirror.ParsePlatform(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMultiArchIndex(t *testing.T) {
	reg := newRegistry(t, true)
	plats := []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}
	var adds []mutate.IndexAddendum
	imgs := map[string]v1.Image{}
	for i, p := range plats {
		img := randomImage(t, int64(10+i), 2)
		imgs[p] = img
		pl := platform(t, p)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	want := reg.pushIndex(t, "base/debian:12", idx)
	rawIdx, _ := idx.RawManifest()

	for _, tc := range []struct {
		name      string
		platforms []string
		carried   []string
	}{
		{"all platforms", nil, plats},
		{"listed platforms", []string{"linux/amd64", "linux/arm64"}, []string{"linux/amd64", "linux/arm64"}},
		{"variant matched", []string{"linux/arm"}, []string{"linux/arm/v7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := mirror.ImageRef{Ref: reg.ref(t, "base/debian@"+want.String())}
			for _, p := range tc.platforms {
				ref.Platforms = append(ref.Platforms, platform(t, p))
			}
			l, files := fetchLayout(t, reg, "", []mirror.ImageRef{ref})
			if !bytes.Equal(files[blobPath(want)], rawIdx) {
				t.Fatal("the index blob is not the registry's index: its digest would not survive")
			}
			if got := indexOf(t, files).Manifests; len(got) != 1 || got[0].Digest != want || got[0].MediaType != types.OCIImageIndex {
				t.Fatalf("index.json: %s", files["images/index.json"])
			}
			if len(tc.platforms) > 0 {
				if got := indexOf(t, files).Manifests[0].Annotations[format.AnnotationPlatforms]; got != strings.Join(tc.platforms, ",") {
					t.Errorf("platforms annotation %q", got)
				}
			}
			for _, p := range plats {
				img := imgs[p]
				d, _ := img.Digest()
				m, _ := img.Manifest()
				_, has := files[blobPath(d)]
				_, hasLayer := files[blobPath(m.Layers[0].Digest)]
				if want := slices.Contains(tc.carried, p); has != want || hasLayer != want {
					t.Errorf("%s: manifest carried %v, layer carried %v, want %v", p, has, hasLayer, want)
				}
			}
			if l.Images[0].Manifests != len(tc.carried) {
				t.Errorf("provenance counts %d manifests, want %d", l.Images[0].Manifests, len(tc.carried))
			}
		})
	}

	t.Run("platform not in index", func(t *testing.T) {
		_, err := tryFetch(t, reg, "", []mirror.ImageRef{{Ref: reg.ref(t, "base/debian:12"), Platforms: []v1.Platform{platform(t, "windows/amd64")}}})
		if !errors.Is(err, mirror.ErrPlatformNotFound) {
			t.Fatalf("err = %v, want ErrPlatformNotFound", err)
		}
	})
	t.Run("single image for another platform", func(t *testing.T) {
		reg.push(t, "single:1", imgs["linux/amd64"])
		_, err := tryFetch(t, reg, "", []mirror.ImageRef{{Ref: reg.ref(t, "single:1"), Platforms: []v1.Platform{platform(t, "linux/s390x")}}})
		if !errors.Is(err, mirror.ErrPlatformNotFound) {
			t.Fatalf("err = %v, want ErrPlatformNotFound", err)
		}
	})
}

func TestSharedLayersStoredOnce(t *testing.T) {
	reg := newRegistry(t, true)
	base := randomImage(t, 20, 2)
	extra := func(seed int64) v1.Image {
		l, err := random.Layer(256, types.DockerLayer, random.WithSource(rand.NewSource(seed)))
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, l)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	a, b := extra(21), extra(22)
	da := reg.push(t, "one:1", a)
	db := reg.push(t, "two:1", b)

	unique := map[v1.Hash]bool{da: true, db: true}
	for _, img := range []v1.Image{a, b} {
		m, _ := img.Manifest()
		unique[m.Config.Digest] = true
		for _, l := range m.Layers {
			unique[l.Digest] = true
		}
	}
	_, files := fetchLayout(t, reg, "", []mirror.ImageRef{{Ref: reg.ref(t, "one:1")}, {Ref: reg.ref(t, "two:1")}})
	blobs := 0
	for p := range files {
		if strings.HasPrefix(p, "images/blobs/") {
			blobs++
		}
	}
	// 2 manifests + 2 configs + 2 shared layers + 2 own layers.
	if blobs != len(unique) || blobs != 8 {
		t.Errorf("%d blobs in the layout, want %d (each shared layer once)", blobs, len(unique))
	}
	// Each blob was downloaded once.
	gets := reg.requests("GET /v2/")
	seen := map[string]int{}
	for _, g := range gets {
		if strings.Contains(g, "/blobs/") {
			seen[g]++
		}
	}
	for g, n := range seen {
		if n != 1 {
			t.Errorf("%s requested %d times", g, n)
		}
	}
	if len(seen) != 6 {
		t.Errorf("%d blob downloads, want 6 (2 configs + 4 distinct layers)", len(seen))
	}
	if got := len(indexOf(t, files).Manifests); got != 2 {
		t.Errorf("index.json has %d entries, want 2", got)
	}
}

// cosignSignature is a manifest like cosign's legacy .sig tag.
func cosignSignature(t *testing.T, subject v1.Hash) v1.Image {
	t.Helper()
	payload := []byte(`{"critical":{"image":{"docker-manifest-digest":"` + subject.String() + `"},"type":"cosign container image signature"}}`)
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:       static.NewLayer(payload, "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": "MEUCIQDfake"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// sbomReferrer is an OCI 1.1 artifact manifest whose subject is desc.
func sbomReferrer(t *testing.T, desc v1.Descriptor) v1.Image {
	t.Helper()
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer: static.NewLayer([]byte(`{"spdxVersion":"SPDX-2.3"}`), "application/spdx+json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, "application/spdx+json")
	return mutate.Subject(img, desc).(v1.Image)
}

func TestSignaturesAndReferrers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		referrers bool
	}{{"referrers API", true}, {"referrers tag fallback", false}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t, tc.referrers)
			img := randomImage(t, 30, 1)
			d := reg.push(t, "app:1", img)
			sig := cosignSignature(t, d)
			sigDigest := reg.push(t, "app:sha256-"+d.Hex+".sig", sig)
			raw, _ := img.RawManifest()
			ref := sbomReferrer(t, v1.Descriptor{MediaType: types.DockerManifestSchema2, Digest: d, Size: int64(len(raw))})
			refDigest, _ := ref.Digest()
			if err := remote.Write(reg.ref(t, "app@"+refDigest.String()), ref); err != nil {
				t.Fatal(err)
			}
			if !tc.referrers {
				if _, err := remote.Head(reg.ref(t, "app:sha256-"+d.Hex)); err != nil {
					t.Fatalf("ggcr did not write the referrers tag: %v", err)
				}
			}

			l, files := fetchLayout(t, reg, "", []mirror.ImageRef{{Ref: reg.ref(t, "app:1")}})
			im := indexOf(t, files)
			var got []string
			for _, m := range im.Manifests {
				got = append(got, m.Digest.String()+" "+m.Annotations[format.AnnotationKind]+" "+m.Annotations[format.AnnotationSubject]+" "+m.Annotations[format.AnnotationTag])
			}
			want := []string{
				d.String() + "   ",
				sigDigest.String() + " signature " + d.String() + " sha256-" + d.Hex + ".sig",
				refDigest.String() + " referrer " + d.String() + " ",
			}
			// Attachments sort by subject, then kind: referrer < signature.
			want = []string{want[0], want[2], want[1]}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("index.json (-want +got):\n%s\n%s", diff, files["images/index.json"])
			}
			if im.Manifests[1].ArtifactType != "application/spdx+json" {
				t.Errorf("referrer artifactType %q", im.Manifests[1].ArtifactType)
			}
			for _, a := range []v1.Image{sig, ref} {
				m, _ := a.Manifest()
				for _, bd := range append([]v1.Descriptor{m.Config}, m.Layers...) {
					if _, ok := files[blobPath(bd.Digest)]; !ok {
						t.Errorf("blob %s (%s) of an attachment is missing", bd.Digest, bd.MediaType)
					}
				}
			}
			if l.Images[0].Attachments != 2 {
				t.Errorf("provenance counts %d attachments, want 2", l.Images[0].Attachments)
			}
		})
	}
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

func TestBasicAuth(t *testing.T) {
	reg := newRegistry(t, true, "ferry", "s3cret")
	d := reg.push(t, "private/app:2", randomImage(t, 40, 1))
	ref := []mirror.ImageRef{{Ref: reg.ref(t, "private/app:2")}}

	t.Run("with credentials", func(t *testing.T) {
		kc := staticKeychain{&authn.Basic{Username: "ferry", Password: "s3cret"}}
		_, files := fetchLayout(t, reg, "", ref, mirror.WithRegistry(reg.host, mirror.RegistryConfig{Insecure: true, Keychain: kc}))
		if _, ok := files[blobPath(d)]; !ok {
			t.Error("manifest missing")
		}
	})
	t.Run("without credentials", func(t *testing.T) {
		_, err := tryFetch(t, reg, "", ref)
		var re *mirror.RegistryError
		if !errors.As(err, &re) {
			t.Fatalf("err = %v, want *RegistryError", err)
		}
		if re.Status != http.StatusUnauthorized || re.Registry != reg.host || !strings.Contains(re.Reference, "private/app:2") {
			t.Errorf("RegistryError %+v", re)
		}
		for _, s := range []string{reg.host, "private/app:2", "401"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not name %s", err, s)
			}
		}
	})
}

func TestRegistryErrorNamesStatus(t *testing.T) {
	reg := newRegistry(t, true)
	_, err := tryFetch(t, reg, "", []mirror.ImageRef{{Ref: reg.ref(t, "missing:1")}})
	var re *mirror.RegistryError
	if !errors.As(err, &re) || re.Status != http.StatusNotFound {
		t.Fatalf("err = %v, want a RegistryError with 404", err)
	}
	if !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), reg.host+"/missing:1") {
		t.Errorf("error %q", err)
	}
}

func TestPlainHTTPRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		ref  string
		cfg  *mirror.RegistryConfig
		ok   bool
	}{
		{"localhost without config", "localhost:5000/app:1", nil, false},
		{"loopback with insecure false", "127.0.0.1:5000/app:1", &mirror.RegistryConfig{}, false},
		{"RFC 1918", "10.1.2.3/app:1", nil, false},
		{"insecure true", "localhost:5000/app:1", &mirror.RegistryConfig{Insecure: true}, true},
		{"https registry", "registry.example.com/app:1", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := mirror.ParseReference(tc.ref, false)
			if err != nil {
				t.Fatal(err)
			}
			var opts []mirror.ImagesOption
			if tc.cfg != nil {
				opts = append(opts, mirror.WithRegistry(ref.Context().RegistryStr(), *tc.cfg))
			}
			_, err = mirror.NewImages([]mirror.ImageRef{{Ref: ref}}, opts...)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, mirror.ErrPlainHTTP)) {
				t.Errorf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestPlainHTTPRedirectRefused(t *testing.T) {
	// A registry configured without insecure that redirects to http://:
	// the transport refuses to follow, nothing goes out in plain text.
	ref, err := mirror.ParseReference("registry.invalid/app:1", false)
	if err != nil {
		t.Fatal(err)
	}
	rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Scheme != "https" {
			t.Errorf("plain-HTTP request %s went out", req.URL)
			return nil, errors.New("plain HTTP")
		}
		u := *req.URL
		u.Scheme = "http"
		return &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: http.Header{"Location": {u.String()}},
			Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
	})
	m, err := mirror.NewImages([]mirror.ImageRef{{Ref: ref}}, mirror.WithTransport(rt))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := mirror.OpenBlobCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fetch(t.Context(), cache, fetchedAt); !errors.Is(err, mirror.ErrPlainHTTP) {
		t.Fatalf("err = %v, want ErrPlainHTTP", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDeterministicAndCached(t *testing.T) {
	reg := newRegistry(t, false)
	a := randomImage(t, 50, 2)
	d := reg.push(t, "a:1", a)
	reg.push(t, "a:sha256-"+d.Hex+".sig", cosignSignature(t, d))
	reg.push(t, "b:1", randomImage(t, 51, 1))
	refs := []mirror.ImageRef{{Ref: reg.ref(t, "b:1")}, {Ref: reg.ref(t, "a:1")}}

	cacheDir := t.TempDir()
	_, first := fetchLayout(t, reg, cacheDir, refs)
	_, second := fetchLayout(t, reg, t.TempDir(), refs)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Fatalf("two fetches differ:\n%s", diff)
	}
	before := len(reg.requests("GET /v2/a/blobs/")) + len(reg.requests("GET /v2/b/blobs/"))
	// Reusing the cache downloads no blob again, and a corrupt cache entry
	// is re-fetched, not packed.
	m, _ := a.Manifest()
	victim := filepath.Join(cacheDir, "blobs", "sha256", m.Layers[0].Digest.Hex)
	if err := os.WriteFile(victim, []byte("corrupt"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, third := fetchLayout(t, reg, cacheDir, refs)
	if diff := cmp.Diff(first, third); diff != "" {
		t.Fatalf("fetch from the cache differs:\n%s", diff)
	}
	after := len(reg.requests("GET /v2/a/blobs/")) + len(reg.requests("GET /v2/b/blobs/"))
	if after-before != 1 {
		t.Errorf("%d blob downloads with a warm cache and one corrupt entry, want 1", after-before)
	}
	im := indexOf(t, first)
	var refNames []string
	for _, m := range im.Manifests {
		refNames = append(refNames, m.Annotations[format.AnnotationRefName])
	}
	if !slices.Equal(refNames, []string{reg.host + "/a:1", reg.host + "/b:1", ""}) {
		t.Errorf("index.json order: %q", refNames)
	}
}

func TestCacheOpenDetectsChange(t *testing.T) {
	cache, err := mirror.OpenBlobCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello blob")
	h, n, _ := v1.SHA256(bytes.NewReader(data))
	if err := cache.Put(t.Context(), h, n, bytes.NewReader([]byte("wrong content"))); !errors.Is(err, mirror.ErrDigestMismatch) {
		t.Fatalf("Put of wrong content: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(cache.Dir(), "blobs", "sha256")); len(entries) != 0 {
		t.Fatalf("a failed Put left %d files", len(entries))
	}
	if err := cache.Put(t.Context(), h, n, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache.Dir(), "blobs", "sha256", h.Hex), []byte("HELLO BLOB"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := cache.Open(h, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, mirror.ErrDigestMismatch) {
		t.Fatalf("reading a changed cache file: %v, want ErrDigestMismatch", err)
	}
}

func TestParseReference(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"registry.example.com/app/api:1.4", true},
		{"registry.example.com/base/debian@sha256:" + strings.Repeat("a", 64), true},
		{"localhost:5000/app:1", true},
		{"debian:12", false},                  // no registry
		{"docker.io/debian:12", false},        // implicit library/
		{"registry.example.com/app", false},   // no tag or digest
		{"registry.example.com/App:1", false}, // upper case repository
		{"registry.example.com/app@sha256:12", false},
		{" registry.example.com/app:1", false},
		{"", false},
	} {
		_, err := mirror.ParseReference(tc.in, false)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, mirror.ErrInvalidReference)) {
			t.Errorf("ParseReference(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"linux/amd64", "linux/amd64"},
		{"linux/arm/v7", "linux/arm/v7"},
		{"windows/amd64:10.0.17763.1234", "windows/amd64:10.0.17763.1234"},
		{"linux/amd65", ""},
		{"linx/amd64", ""},
		{"linux", ""},
		{"linux/arm/7", ""},
		{"linux/arm/v7/x", ""},
	} {
		p, err := mirror.ParsePlatform(tc.in)
		switch {
		case tc.want == "" && !errors.Is(err, mirror.ErrUnknownPlatform):
			t.Errorf("ParsePlatform(%q) = %v, %v; want ErrUnknownPlatform", tc.in, p, err)
		case tc.want != "" && (err != nil || p.String() != tc.want):
			t.Errorf("ParsePlatform(%q) = %v, %v", tc.in, p, err)
		}
	}
}
