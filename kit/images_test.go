package kit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
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
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/mirror"
	"github.com/ferry-dev/ferry/verify"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const imagesHeader = "name: imgs\nchannel: imgs\nversion: 1\ncreated: 2026-11-28T00:00:00Z\n"

func parseCodes(t *testing.T, body string) ([]kit.SpecCode, *kit.Spec, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kit.yaml")
	spec, err := kit.ParseSpec(path, []byte(imagesHeader+body))
	var errs kit.SpecErrors
	if errors.As(err, &errs) {
		return errs.Codes(), nil, err
	}
	if err != nil {
		t.Fatal(err)
	}
	return nil, spec, nil
}

func TestImagesSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []kit.SpecCode
	}{
		{"valid", "images:\n  - ref: registry.example.com/app/api:1.4\n  - ref: registry.example.com/base/debian@sha256:" + strings.Repeat("ab", 32) + "\n    platforms: [linux/amd64, linux/arm64]\nregistries:\n  registry.example.com: {auth: docker-config}\n", nil},
		{"plain string entries", "images: [registry.example.com/app:1, ghcr.io/org/tool:v2]\n", nil},
		{"no registry", "images: [debian:12]\n", []kit.SpecCode{kit.SpecInvalidImageReference}},
		{"no tag or digest", "images:\n  - ref: registry.example.com/app\n", []kit.SpecCode{kit.SpecInvalidImageReference}},
		{"bad digest", "images:\n  - ref: registry.example.com/app@sha256:abc\n", []kit.SpecCode{kit.SpecInvalidImageReference}},
		{"missing ref", "images:\n  - platforms: [linux/amd64]\n", []kit.SpecCode{kit.SpecInvalidImageReference}},
		{"listed twice", "images: [registry.example.com/app:1, registry.example.com/app:1]\n", []kit.SpecCode{kit.SpecInvalidImageReference}},
		{"localhost without registries", "images: [localhost:5000/app:1]\n", []kit.SpecCode{kit.SpecHTTPRegistryBlocked}},
		{"loopback insecure false", "registries:\n  127.0.0.1:5000: {insecure: false}\nimages: [127.0.0.1:5000/app:1]\n", []kit.SpecCode{kit.SpecHTTPRegistryBlocked}},
		{"private address, registries after images", "images: [192.168.1.10:5000/app:1]\nregistries:\n  192.168.1.10:5000: {insecure: false}\n", []kit.SpecCode{kit.SpecHTTPRegistryBlocked}},
		{"insecure true before images", "registries:\n  localhost:5000: {insecure: true}\nimages: [localhost:5000/app:1]\n", nil},
		{"insecure true after images", "images: [localhost:5000/app:1]\nregistries:\n  localhost:5000: {insecure: true}\n", nil},
		{"unknown platform", "images:\n  - ref: registry.example.com/app:1\n    platforms: [linux/amd65, plan10/amd64, linux/amd64]\n", []kit.SpecCode{kit.SpecUnknownPlatform, kit.SpecUnknownPlatform}},
		{"empty platforms", "images:\n  - ref: registry.example.com/app:1\n    platforms: []\n", []kit.SpecCode{kit.SpecUnknownPlatform}},
		{"bad registry host", "registries:\n  https://registry.example.com: {}\n", []kit.SpecCode{kit.SpecInvalidRegistry}},
		{"bad auth", "registries:\n  registry.example.com: {auth: password}\n", []kit.SpecCode{kit.SpecInvalidRegistry}},
		{"registry twice", "registries:\n  docker.io: {}\n  index.docker.io: {}\n", []kit.SpecCode{kit.SpecInvalidRegistry}},
		{"unknown registry field", "registries:\n  registry.example.com: {token: x}\n", []kit.SpecCode{kit.SpecUnknownField}},
		{"insecure not a bool", "registries:\n  registry.example.com: {insecure: maybe}\n", []kit.SpecCode{kit.SpecInvalidYAML}},
		{"images not a list", "images: registry.example.com/app:1\n", []kit.SpecCode{kit.SpecInvalidYAML}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := parseCodes(t, tc.body)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("codes (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func TestImagesSpecParsed(t *testing.T) {
	_, spec, _ := parseCodes(t, "images:\n  - ref: registry.example.com/app/api:1.4\n  - ref: registry.example.com/base/debian:12\n    platforms: [linux/amd64, linux/arm64]\nregistries:\n  registry.example.com: {auth: docker-config}\n  docker.io:\n")
	if spec == nil {
		t.Fatal("spec did not parse")
	}
	var src *kit.ImagesSource
	for _, s := range spec.Sources {
		if is, ok := s.(*kit.ImagesSource); ok {
			src = is
		}
	}
	if src == nil || len(src.Images) != 2 || !slices.Equal(src.Images[1].Platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Fatalf("images source %+v", src)
	}
	want := map[string]kit.Registry{
		"registry.example.com": {Host: "registry.example.com", Auth: kit.AuthDockerConfig},
		"index.docker.io":      {Host: "index.docker.io", Auth: kit.AuthAnonymous},
	}
	if diff := cmp.Diff(want, spec.Registries); diff != "" {
		t.Errorf("registries (-want +got):\n%s", diff)
	}
}

func TestImagesSpecErrorLine(t *testing.T) {
	_, _, err := parseCodes(t, "images:\n  - ref: registry.example.com/app:1\n  - ref: localhost:5000/app:1\n")
	var errs kit.SpecErrors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("err = %v", err)
	}
	if e := errs[0]; e.Line != 7 || e.Field != "images[1].ref" || !strings.Contains(e.Msg, "insecure: true") {
		t.Errorf("error %+v", e)
	}
}

// loopbackRegistry serves ggcr's in-memory registry on 127.0.0.1,
// optionally behind basic auth.
func loopbackRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host
}

func pushImage(t *testing.T, ref string, img v1.Image, opts ...remote.Option) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d
}

func seededImage(t *testing.T, seed int64) v1.Image {
	t.Helper()
	img, err := random.Image(300, 2, random.WithSource(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func writeSpec(t *testing.T, body string) *kit.Spec {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kit.yaml")
	if err := os.WriteFile(path, []byte(imagesHeader+body), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := kit.LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// verifiedContent verifies kit and returns its content files.
func verifiedContent(t *testing.T, ch *fixtures.Channel, k []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	rep, err := verify.Kit(t.Context(), bytes.NewReader(k), verify.Static(verify.Trust{Root: ch.Root()}), verify.Options{
		At: fixtures.Created.Add(time.Hour),
		Content: func(tg verify.Target, r io.Reader) error {
			b, err := io.ReadAll(r)
			files[tg.Path] = b
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("kit does not verify: %v", rep.Err())
	}
	return files
}

func TestImagesMirrorKitVerify(t *testing.T) {
	host := loopbackRegistry(t, "", "")
	app := pushImage(t, host+"/app/api:1.4", seededImage(t, 1))
	sig, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer: static.NewLayer([]byte(`{"critical":{}}`), "application/vnd.dev.cosign.simplesigning.v1+json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	sigDigest := pushImage(t, host+"/app/api:sha256-"+app.Hex+".sig", sig)
	var adds []mutate.IndexAddendum
	for i, p := range []string{"linux/amd64", "linux/arm64", "linux/s390x"} {
		pl, _ := v1.ParsePlatform(p)
		adds = append(adds, mutate.IndexAddendum{Add: seededImage(t, int64(10+i)), Descriptor: v1.Descriptor{Platform: pl}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	r, _ := name.ParseReference(host+"/base/debian:12", name.Insecure)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	base, _ := idx.Digest()

	spec := writeSpec(t, "images:\n  - ref: "+host+"/app/api:1.4\n  - ref: "+host+"/base/debian@"+base.String()+
		"\n    platforms: [linux/amd64, linux/arm64]\nregistries:\n  "+host+": {insecure: true}\n")
	ch := fixtures.NewChannel("imgs")
	cache := t.TempDir()
	var a, b bytes.Buffer
	res, err := kit.Build(t.Context(), &a, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys(), Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kit.Build(t.Context(), &b, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two builds from the same registry content differ")
	}

	files := verifiedContent(t, ch, a.Bytes())
	im, err := v1.ParseIndexManifest(bytes.NewReader(files["images/index.json"]))
	if err != nil {
		t.Fatal(err)
	}
	byRef := map[string]v1.Descriptor{}
	for _, d := range im.Manifests {
		byRef[d.Annotations[format.AnnotationRefName]+"|"+d.Annotations[format.AnnotationKind]] = d
	}
	for ref, want := range map[string]v1.Hash{host + "/app/api:1.4|": app, host + "/base/debian@" + base.String() + "|": base, "|signature": sigDigest} {
		d, ok := byRef[ref]
		if !ok || d.Digest != want {
			t.Errorf("index.json: %s -> %v, want %s\n%s", ref, d.Digest, want, files["images/index.json"])
			continue
		}
		if ref[0] != '|' && d.Annotations[format.AnnotationResolvedDigest] != want.String() {
			t.Errorf("%s: resolved digest annotation %q", ref, d.Annotations[format.AnnotationResolvedDigest])
		}
		blob, ok := files["images/blobs/sha256/"+want.Hex]
		sum := sha256.Sum256(blob)
		if !ok || hex.EncodeToString(sum[:]) != want.Hex {
			t.Errorf("%s: the manifest blob does not hash to the source digest", ref)
		}
	}
	if _, ok := files["images/oci-layout"]; !ok {
		t.Error("no images/oci-layout")
	}
	// s390x was not listed: its manifest is not in the kit.
	s390, _ := adds[2].Add.(v1.Image).Digest()
	if _, ok := files["images/blobs/sha256/"+s390.Hex]; ok {
		t.Error("an unlisted platform was carried")
	}
	var imgProv []kit.ImageProvenance
	for _, s := range res.Manifest.Sources {
		if s.Kind == "images" {
			imgProv = s.Images
			if s.FetchedAt != "2026-11-28T00:00:00Z" || s.Dest != "images/" {
				t.Errorf("provenance %+v", s)
			}
		}
	}
	if len(imgProv) != 2 || imgProv[0].Ref != host+"/app/api:1.4" || imgProv[0].Digest != app.String() ||
		imgProv[1].Manifests != 2 || !imgProv[1].FetchedAt.Equal(fixtures.Created) {
		t.Errorf("image provenance %+v", imgProv)
	}
	if !bytes.Contains(files["kit.json"], []byte(`"digest": "`+app.String()+`"`)) {
		t.Errorf("kit.json does not record the resolved digest:\n%s", files["kit.json"])
	}
}

func TestImagesDockerConfigAuth(t *testing.T) {
	host := loopbackRegistry(t, "ferry", "s3cret")
	d := pushImage(t, host+"/private/app:1", seededImage(t, 7), remote.WithAuth(&authn.Basic{Username: "ferry", Password: "s3cret"}))
	home := t.TempDir()
	cfg := filepath.Join(home, ".docker")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("ferry:s3cret"))
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", cfg)
	ch := fixtures.NewChannel("imgs")
	for _, tc := range []struct {
		auth string
		ok   bool
	}{{"docker-config", true}, {"anonymous", false}} {
		t.Run(tc.auth, func(t *testing.T) {
			spec := writeSpec(t, "images: ["+host+"/private/app:1]\nregistries:\n  "+host+": {insecure: true, auth: "+tc.auth+"}\n")
			var buf bytes.Buffer
			_, err := kit.Build(t.Context(), &buf, spec, kit.BuildOptions{Roots: ch.Chain, Signers: ch.SigningKeys()})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := verifiedContent(t, ch, buf.Bytes())["images/blobs/sha256/"+d.Hex]; !ok {
					t.Error("image manifest missing")
				}
				return
			}
			var re *mirror.RegistryError
			if !errors.As(err, &re) || re.Status != http.StatusUnauthorized || re.Registry != host {
				t.Fatalf("err = %v, want a 401 RegistryError naming %s", err, host)
			}
		})
	}
}
