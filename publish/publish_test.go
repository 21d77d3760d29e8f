package publish

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/format"
	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/store"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var at = time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)

// testRegistry is ggcr's registry on loopback; tamper, when set, may
// change a response body (manifests and blobs) on GET. requests counts
// every request, blobGets the GETs of a blob.
type testRegistry struct {
	host     string
	tamper   atomic.Pointer[func(path string, body []byte) []byte]
	requests atomic.Int64
	blobGets atomic.Int64
}

func newRegistry(t testing.TB) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.requests.Add(1)
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			tr.blobGets.Add(1)
		}
		f := tr.tamper.Load()
		if f == nil || r.Method != http.MethodGet {
			reg.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		body := (*f)(r.URL.Path, rec.Body.Bytes())
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	tr.host = u.Host
	return tr
}

var insecure = Options{Insecure: true}

type kits struct {
	dir   string
	root  []byte
	paths map[int64]string
}

func makeKits(t testing.TB, versions ...int64) *kits {
	t.Helper()
	c := fixtures.NewChannel("acme")
	k := &kits{dir: t.TempDir(), root: c.Root(), paths: map[int64]string{}}
	files := fixtures.SampleFiles()
	for _, v := range versions {
		files["docs/README.md"] = []byte("version " + string(rune('0'+v)) + "\n")
		p := filepath.Join(k.dir, "acme-"+string(rune('0'+v))+".kit.tar.zst")
		if err := os.WriteFile(p, fixtures.Kit(c, files, fixtures.KitOptions{Version: v}), 0o644); err != nil {
			t.Fatal(err)
		}
		k.paths[v] = p
	}
	return k
}

func importOpts(root []byte) store.ImportOptions {
	return store.ImportOptions{At: at, Root: root, Operator: "test"}
}

func mustRef(t testing.TB, s string) name.Reference {
	t.Helper()
	ref, err := ParseRef(s, insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestPublishByteExactAndIdempotent(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	k := makeKits(t, 1)
	repo := reg.host + "/ferry/kits"
	p, err := Publish(ctx, repo, Kit{Path: k.paths[1], Channel: "acme", Version: 1}, insecure)
	if err != nil {
		t.Fatal(err)
	}
	if p.Unchanged || strings.Join(p.Tags, ",") != "acme-1,acme" {
		t.Fatalf("first publish: %+v", p)
	}
	for _, tag := range []string{"acme", "acme-1"} {
		a, err := Resolve(ctx, mustRef(t, "oci://"+repo+":"+tag), insecure)
		if err != nil {
			t.Fatal(err)
		}
		if a.Channel != "acme" || a.Version != 1 || a.Layer.Digest.Hex != p.KitSHA256 {
			t.Fatalf("%s: %+v", tag, a)
		}
		r, _ := name.NewRepository(repo, name.Insecure)
		rc, err := Open(ctx, r, a, insecure)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(k.paths[1])
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: the layer is not the kit file byte for byte", tag)
		}
	}
	// The manifest says what it is.
	d, err := remote.Get(mustRef(t, repo+":acme"), insecure.remote(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := v1.ParseManifest(bytes.NewReader(d.Manifest))
	if m.ArtifactType != ArtifactType || m.Config.MediaType != MediaEmpty || m.Layers[0].MediaType != MediaKitLayer {
		t.Fatalf("manifest: %s", d.Manifest)
	}

	before := reg.requests.Load()
	p2, err := Publish(ctx, repo, Kit{Path: k.paths[1], Channel: "acme", Version: 1}, insecure)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Unchanged || p2.Ref != p.Ref {
		t.Fatalf("republish: %+v", p2)
	}
	if n := reg.requests.Load() - before; n > 4 {
		t.Errorf("republishing the same kit made %d requests; want only the tag lookups", n)
	}
}

func TestPublishRefusesAnotherKitUnderAVersionTag(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	k := makeKits(t, 1, 2)
	repo := reg.host + "/ferry/kits"
	if _, err := Publish(ctx, repo, Kit{Path: k.paths[1], Channel: "acme", Version: 1}, insecure); err != nil {
		t.Fatal(err)
	}
	_, err := Publish(ctx, repo, Kit{Path: k.paths[2], Channel: "acme", Version: 1}, insecure)
	if !errors.Is(err, ErrVersionTaken) {
		t.Fatalf("got %v, want ErrVersionTaken", err)
	}
}

func TestPublishKeepsChannelTagOnNewerVersion(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	k := makeKits(t, 1, 2)
	repo := reg.host + "/ferry/kits"
	if _, err := Publish(ctx, repo, Kit{Path: k.paths[2], Channel: "acme", Version: 2}, insecure); err != nil {
		t.Fatal(err)
	}
	p, err := Publish(ctx, repo, Kit{Path: k.paths[1], Channel: "acme", Version: 1}, insecure)
	if err != nil {
		t.Fatal(err)
	}
	if p.ChannelTagKept == "" || strings.Join(p.Tags, ",") != "acme-1" {
		t.Fatalf("older kit moved the channel tag: %+v", p)
	}
	a, _ := Resolve(ctx, mustRef(t, repo+":acme"), insecure)
	if a.Version != 2 {
		t.Fatalf("channel tag at version %d", a.Version)
	}
}

func TestPlainHTTPNeedsInsecure(t *testing.T) {
	reg := newRegistry(t)
	k := makeKits(t, 1)
	_, err := Publish(context.Background(), reg.host+"/ferry/kits", Kit{Path: k.paths[1], Channel: "acme", Version: 1}, Options{})
	if !errors.Is(err, ErrPlainHTTP) {
		t.Fatalf("got %v", err)
	}
	if _, err := ParseRef("oci://"+reg.host+"/ferry/kits:acme", Options{}); !errors.Is(err, ErrPlainHTTP) {
		t.Fatalf("got %v", err)
	}
	if reg.requests.Load() != 0 {
		t.Fatalf("%d requests before refusing plain HTTP", reg.requests.Load())
	}
}

func TestImportFromRegistry(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	k := makeKits(t, 1, 2)
	repo := reg.host + "/ferry/kits"
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Publish(ctx, repo, Kit{Path: k.paths[1], Channel: "acme", Version: 1}, insecure); err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, "oci://"+repo+":acme")
	// Read sees the kit blob as the store reads it, with its size.
	withRead := insecure
	var read countingReader
	withRead.Read = func(r io.Reader, size int64) io.Reader {
		read.r, read.size = r, size
		return &read
	}
	im, err := Import(ctx, st, ref, importOpts(k.root), withRead)
	if err != nil {
		t.Fatal(err)
	}
	if im.Current || im.Result.Outcome != store.OutcomeActivated || im.Result.Receipt.Source != ref.String() {
		t.Fatalf("first import: %+v", im.Result)
	}
	if fi, err := os.Stat(k.paths[1]); err != nil || read.size != fi.Size() || read.n != fi.Size() {
		t.Errorf("Read saw a blob of %d bytes and %d read, want the kit's %d", read.size, read.n, fi.Size())
	}
	// Again: already current, nothing downloaded.
	im, err = Import(ctx, st, ref, importOpts(nil), insecure)
	if err != nil || !im.Current {
		t.Fatalf("second import: %+v, %v", im, err)
	}
	if _, err := Publish(ctx, repo, Kit{Path: k.paths[2], Channel: "acme", Version: 2}, insecure); err != nil {
		t.Fatal(err)
	}
	if im, err = Import(ctx, st, ref, importOpts(nil), insecure); err != nil || im.Result.Changes.ToVersion != 2 {
		t.Fatalf("version 2: %+v, %v", im, err)
	}
	// The tag moved back to version 1: refused by the store's trust state.
	old, _ := remote.Get(mustRef(t, repo+":acme-1"), insecure.remote(ctx)...)
	if err := remote.Tag(mustRef(t, repo+":acme").(name.Tag), old, insecure.remote(ctx)...); err != nil {
		t.Fatal(err)
	}
	_, err = Import(ctx, st, ref, importOpts(nil), insecure)
	if bundle.CodeOf(err) != bundle.CodeRollback {
		t.Fatalf("tag moved back: got %v, want KIT_ROLLBACK", err)
	}
	in, err := st.Info(ctx, at)
	if err != nil || in.Channels[0].Version != 2 {
		t.Fatalf("after the refused rollback: %+v, %v", in, err)
	}
}

func TestImportRefusesTamperedManifest(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	k := makeKits(t, 1)
	repo := reg.host + "/ferry/kits"
	p, err := Publish(ctx, repo, Kit{Path: k.paths[1], Channel: "acme", Version: 1}, insecure)
	if err != nil {
		t.Fatal(err)
	}
	var blobGets atomic.Int64
	f := func(path string, body []byte) []byte {
		if strings.Contains(path, "/manifests/") {
			return bytes.Replace(body, []byte(`"acme"`), []byte(`"acmf"`), 1)
		}
		if strings.Contains(path, "/blobs/") {
			blobGets.Add(1)
		}
		return body
	}
	reg.tamper.Store(&f)
	dir := filepath.Join(t.TempDir(), "store")
	st, _ := store.Open(ctx, dir, store.Options{})
	// By digest: the bytes do not match the digest asked for.
	_, err = Import(ctx, st, mustRef(t, p.Ref), importOpts(k.root), insecure)
	if err == nil {
		t.Fatal("a manifest that does not match its digest was accepted")
	}
	if blobGets.Load() != 0 {
		t.Fatalf("%d blob requests after a bad manifest", blobGets.Load())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("store directory after a refused manifest: %v", err)
	}
}

func TestImportRefusesTamperedBlob(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	k := makeKits(t, 1)
	repo := reg.host + "/ferry/kits"
	if _, err := Publish(ctx, repo, Kit{Path: k.paths[1], Channel: "acme", Version: 1}, insecure); err != nil {
		t.Fatal(err)
	}
	// The registry serves a different blob: the kit with a byte appended.
	g := func(path string, body []byte) []byte {
		if strings.Contains(path, "/blobs/") && len(body) > 1000 {
			// One byte more: the store would read it as trailer
			// padding; only the blob's digest and size tell.
			return append(bytes.Clone(body), 0)
		}
		return body
	}
	reg.tamper.Store(&g)
	dir := filepath.Join(t.TempDir(), "store")
	st, _ := store.Open(ctx, dir, store.Options{})
	_, err := Import(ctx, st, mustRef(t, "oci://"+repo+":acme"), importOpts(k.root), insecure)
	if err == nil {
		t.Fatal("a blob that does not match its digest was imported")
	}
	if _, err := st.Info(ctx, at); !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("store after a bad blob: %v", err)
	}
}

func TestAttachAsCosign(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	repo := reg.host + "/app/api"
	img, _ := random.Image(512, 1)
	dig, _ := img.Digest()
	if err := remote.Write(mustRef(t, repo+"@"+dig.String()), img, insecure.remote(ctx)...); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const pt = "https://ferry.dev/gate/decision/v1"
	env1 := fixtures.DSSEEnvelope(key, fixtures.InTotoStatement(dig, pt, []byte(`{"verdict":"pass"}`)))
	env2 := fixtures.DSSEEnvelope(key, fixtures.InTotoStatement(dig, pt, []byte(`{"verdict":"block"}`)))
	for _, env := range [][]byte{env1, env2, env1} {
		if _, err := Attach(ctx, repo, dig, env, pt, insecure); err != nil {
			t.Fatal(err)
		}
	}
	got := attestations(t, repo, dig)
	if len(got.tag) != 2 {
		t.Fatalf("the .att tag holds %d layers, want 2 (no duplicate)", len(got.tag))
	}
	if len(got.referrers) != 2 {
		t.Fatalf("%d referrers, want 2", len(got.referrers))
	}
	for _, l := range got.tag {
		if _, err := images.VerifyAttestation(ctx, l.envelope, l.annotations, dig, images.VerifyOptions{Key: &key.PublicKey}); err != nil {
			t.Fatalf("ferry's verifier refuses the attached attestation: %v", err)
		}
		if l.annotations[format.AnnotationPredicateType] != pt {
			t.Fatalf("annotations %v", l.annotations)
		}
	}
}

type foundLayer struct {
	envelope    []byte
	annotations map[string]string
}

type found struct {
	tag       []foundLayer
	referrers []v1.Descriptor
}

// attestations reads what cosign reads: the sha256-<hex>.att image's DSSE
// layers, and the image's referrers.
func attestations(t testing.TB, repo string, dig v1.Hash) found {
	t.Helper()
	ro := insecure.remote(context.Background())
	var out found
	att, err := remote.Image(mustRef(t, repo+":"+format.CosignTag(dig.Algorithm, dig.Hex, format.SuffixAttestation)), ro...)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := att.Manifest()
	for _, d := range m.Layers {
		if d.MediaType != format.MediaDSSE {
			t.Fatalf("layer media type %s", d.MediaType)
		}
		l, _ := att.LayerByDigest(d.Digest)
		rc, _ := l.Compressed()
		b, _ := io.ReadAll(rc)
		rc.Close()
		out.tag = append(out.tag, foundLayer{b, d.Annotations})
	}
	idx, err := remote.Referrers(mustRef(t, repo+"@"+dig.String()).(name.Digest), ro...)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	out.referrers = im.Manifests
	return out
}

type countingReader struct {
	r    io.Reader
	size int64
	n    int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
