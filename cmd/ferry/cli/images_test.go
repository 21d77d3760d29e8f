package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"github.com/ferry-dev/ferry/internal/ocitest"
	"io"
	"log"
	mrand "math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/store"
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
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// testRegistry is ggcr's in-memory registry on loopback, optionally behind
// basic auth, counting requests.
type testRegistry struct {
	host     string
	requests atomic.Int64
}

func newTestRegistry(t *testing.T, user, pass string) *testRegistry {
	t.Helper()
	r := &testRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if user != "" {
			if u, p, ok := req.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	r.host = u.Host
	return r
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func pushTo(t *testing.T, s string, x remote.Taggable, opts ...remote.Option) v1.Hash {
	t.Helper()
	var err error
	switch v := x.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(ref(t, s), v, opts...)
	case v1.Image:
		err = remote.Write(ref(t, s), v, opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	d, err := partialDigest(x)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func partialDigest(x remote.Taggable) (v1.Hash, error) {
	raw, err := x.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(strings.NewReader(string(raw)))
	return h, err
}

func seeded(t *testing.T, seed int64) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2, random.WithSource(mrand.New(mrand.NewSource(seed))))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func simpleSigning(repo string, d v1.Hash) []byte {
	return []byte(`{"critical":{"identity":{"docker-reference":"` + repo + `"},"image":{"docker-manifest-digest":"` + d.String() +
		`"},"type":"cosign container image signature"},"optional":null}`)
}

// cosignManifest builds cosign's legacy attachment manifest: one layer
// per payload, with its annotations.
func cosignManifest(t *testing.T, mt types.MediaType, layers ...mutate.Addendum) v1.Image {
	t.Helper()
	img := mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
	for _, l := range layers {
		var err error
		if img, err = mutate.Append(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func keySigLayer(t *testing.T, key *ecdsa.PrivateKey, payload []byte) mutate.Addendum {
	t.Helper()
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Addendum{Layer: static.NewLayer(payload, "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)}}
}

// attestationLayer is a DSSE envelope of an in-toto statement about d,
// signed with key.
func attestationLayer(t *testing.T, key *ecdsa.PrivateKey, d v1.Hash) mutate.Addendum {
	t.Helper()
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"img","digest":{"sha256":"` + d.Hex +
		`"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{}}}`)
	pae := ssldsse.PAE("application/vnd.in-toto+json", stmt)
	sum := sha256.Sum256(pae)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	env, _ := json.Marshal(ssldsse.Envelope{PayloadType: "application/vnd.in-toto+json", Payload: base64.StdEncoding.EncodeToString(stmt),
		Signatures: []ssldsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}})
	return mutate.Addendum{Layer: static.NewLayer(env, "application/vnd.dsse.envelope.v1+json"),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": "", "predicateType": "https://slsa.dev/provenance/v1"}}
}

func writePublicKey(t *testing.T, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
}

// imagesSite mirrors the images of src into a kit and imports it into a
// store. extra is more kit.yaml. It returns the work dir and the store.
func imagesSite(t *testing.T, src string, refs []string, extra string) (string, string) {
	t.Helper()
	dir := site(t)
	var b strings.Builder
	b.WriteString("name: imgs\nchannel: acme-feeds\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nexpires: 30d\nimages:\n")
	for _, r := range refs {
		b.WriteString("  - ref: " + r + "\n")
	}
	b.WriteString("registries:\n  " + src + ": {insecure: true}\n" + extra)
	write(t, filepath.Join(dir, "kit.yaml"), b.String())
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "imgs.kit.tar.zst", "--key", "keys/signer.key", "--no-progress")
	st := filepath.Join(dir, "store")
	mustFerry(t, dir, "import", "imgs.kit.tar.zst", "--store", st, "--root", "trust/root.json", "--at", verifyAt, "--reason", "test clock")
	return dir, st
}

func TestImagesOffline(t *testing.T) {
	src := newTestRegistry(t, "", "")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const id, issuer = "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com"

	app := pushTo(t, src.host+"/app/api:1.4", seeded(t, 1))
	repo := src.host + "/app/api"
	payload := simpleSigning(repo, app)
	pushTo(t, repo+":sha256-"+app.Hex+".sig", cosignManifest(t, types.OCIManifestSchema1,
		keySigLayer(t, key, payload), ocitest.KeylessSignatureLayer(t, vs, id, issuer, payload)))
	pushTo(t, repo+":sha256-"+app.Hex+".att", cosignManifest(t, types.OCIManifestSchema1, attestationLayer(t, key, app)))

	// A signature whose bytes were changed after signing.
	bad := pushTo(t, src.host+"/app/tampered:1", seeded(t, 2))
	l := keySigLayer(t, key, simpleSigning(src.host+"/app/tampered", bad))
	sig, _ := base64.StdEncoding.DecodeString(l.Annotations["dev.cosignproject.cosign/signature"])
	sig[len(sig)-3] ^= 1
	l.Annotations["dev.cosignproject.cosign/signature"] = base64.StdEncoding.EncodeToString(sig)
	pushTo(t, src.host+"/app/tampered:sha256-"+bad.Hex+".sig", cosignManifest(t, types.OCIManifestSchema1, l))

	// A valid signature of app copied beside another image.
	other := pushTo(t, src.host+"/app/other:1", seeded(t, 3))
	pushTo(t, src.host+"/app/other:sha256-"+other.Hex+".sig", cosignManifest(t, types.OCIManifestSchema1, keySigLayer(t, key, payload)))

	var adds []mutate.IndexAddendum
	for i, p := range []string{"linux/amd64", "linux/arm64"} {
		pl, _ := v1.ParsePlatform(p)
		adds = append(adds, mutate.IndexAddendum{Add: seeded(t, int64(10+i)), Descriptor: v1.Descriptor{Platform: pl}})
	}
	multi := pushTo(t, src.host+"/base/multi:1", mutate.AppendManifests(empty.Index, adds...))

	trJSON := ocitest.TrustedRootJSON(t, vs)
	tmp := t.TempDir()
	write(t, filepath.Join(tmp, "trusted_root.json"), string(trJSON))

	dir, st := imagesSite(t, src.host, []string{repo + ":1.4", src.host + "/app/tampered:1", src.host + "/app/other:1", src.host + "/base/multi:1"},
		"files:\n  - src: "+filepath.Join(tmp, "trusted_root.json")+"\n    dest: trust/sigstore/targets/trusted_root.json\n    allowOutside: true\n")
	writePublicKey(t, filepath.Join(dir, "cosign.pub"), key)
	before := src.requests.Load()

	t.Run("list", func(t *testing.T) {
		var ims []store.Image
		out := mustFerry(t, dir, "images", "list", "--store", st, "--json").stdout
		if err := json.Unmarshal([]byte(out), &ims); err != nil || len(ims) != 4 {
			t.Fatalf("images list: %v\n%s", err, out)
		}
		byDigest := map[string]store.Image{}
		for _, im := range ims {
			byDigest[im.Digest] = im
		}
		a := byDigest[app.String()]
		kinds := map[string]int{}
		for _, at := range a.Attachments {
			kinds[at.Kind]++
		}
		if len(a.Names) != 1 || a.Names[0] != repo+":1.4" || kinds["signature"] != 1 || kinds["attestation"] != 1 || a.Size == 0 || len(a.Manifests) != 1 {
			t.Errorf("app: %+v", a)
		}
		m := byDigest[multi.String()]
		if strings.Join(m.Platforms, ",") != "linux/amd64,linux/arm64" || m.Incomplete {
			t.Errorf("multi: %+v", m)
		}
		text := mustFerry(t, dir, "images", "list", "--store", st).stdout
		if !strings.Contains(text, app.String()) || !strings.Contains(text, "linux/amd64,linux/arm64") {
			t.Errorf("table:\n%s", text)
		}
	})

	t.Run("resolve", func(t *testing.T) {
		if r := ferry(t, dir, "images", "export", "nope:1", "--store", st, "-o", filepath.Join(t.TempDir(), "x")); r.code != cli.ExitOther ||
			!strings.Contains(r.stderr, "no such image") {
			t.Errorf("unknown name: %d %s", r.code, r.stderr)
		}
	})

	t.Run("gc keeps image blobs", func(t *testing.T) {
		mustFerry(t, dir, "store", "gc", "--store", st)
	})

	t.Run("export oci", func(t *testing.T) {
		for _, d := range []v1.Hash{app, multi} {
			out := filepath.Join(t.TempDir(), "oci")
			mustFerry(t, dir, "images", "export", d.String(), "--store", st, "--format", "oci", "-o", out)
			p, err := layout.FromPath(out)
			if err != nil {
				t.Fatal(err)
			}
			idx, _ := p.ImageIndex()
			im, _ := idx.IndexManifest()
			if len(im.Manifests) != 1 || im.Manifests[0].Digest != d {
				t.Errorf("layout index: %+v, want %s", im.Manifests, d)
			}
		}
	})

	t.Run("export oci refuses an existing file", func(t *testing.T) {
		for _, existing := range []string{"file", "non-empty directory", "symlink"} {
			out := filepath.Join(t.TempDir(), "app")
			var keep string
			switch existing {
			case "file":
				write(t, out, "the user's file\n")
				keep = out
			case "non-empty directory":
				keep = filepath.Join(out, "notes.txt")
				write(t, keep, "the user's file\n")
			case "symlink":
				keep = filepath.Join(t.TempDir(), "target")
				write(t, keep, "the user's file\n")
				if err := os.Symlink(keep, out); err != nil {
					t.Skip("no symlinks here:", err)
				}
			}
			r := ferry(t, dir, "images", "export", app.String(), "--store", st, "--format", "oci", "-o", out)
			if r.code == cli.ExitOK || !strings.Contains(r.stderr, "output exists") {
				t.Errorf("%s: exit %d\n%s", existing, r.code, r.stderr)
			}
			if b, err := os.ReadFile(keep); err != nil || string(b) != "the user's file\n" {
				t.Errorf("%s: the user's file is gone or changed: %v", existing, err)
			}
			if existing == "symlink" {
				if fi, err := os.Lstat(out); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("symlink replaced: %v", err)
				}
			}
		}
	})

	t.Run("export docker", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "app.tar")
		mustFerry(t, dir, "images", "export", repo+":1.4", "--store", st, "--format", "docker", "-o", out)
		img, err := tarball.ImageFromPath(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := seeded(t, 1).ConfigName()
		if got, _ := img.ConfigName(); got != want {
			t.Errorf("image id %s, want %s", got, want)
		}
		if r := ferry(t, dir, "images", "export", multi.String(), "--store", st, "--format", "docker", "-o", out); r.code == 0 ||
			!strings.Contains(r.stderr, "--platform") {
			t.Errorf("index without --platform: %d %s", r.code, r.stderr)
		}
		mustFerry(t, dir, "images", "export", multi.String(), "--store", st, "--format", "docker", "--platform", "linux/arm64", "-o", out)
	})

	t.Run("verify key", func(t *testing.T) {
		r := mustFerry(t, dir, "images", "verify", app.String(), "--store", st, "--key", "cosign.pub", "--json")
		var res struct {
			Verified     bool
			Signatures   []struct{ OK bool }
			Attestations []struct {
				OK            bool
				PredicateType string
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.Verified || len(res.Signatures) != 2 ||
			len(res.Attestations) != 1 || !res.Attestations[0].OK || res.Attestations[0].PredicateType != "https://slsa.dev/provenance/v1" {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
	})

	t.Run("tampered signature fails", func(t *testing.T) {
		r := ferry(t, dir, "images", "verify", bad.String(), "--store", st, "--key", "cosign.pub")
		if r.code != cli.ExitVerification || !strings.Contains(r.stdout, "NOT VERIFIED") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("copied signature fails", func(t *testing.T) {
		r := ferry(t, dir, "images", "verify", other.String(), "--store", st, "--key", "cosign.pub")
		if r.code != cli.ExitVerification || !strings.Contains(r.stdout, "signs \\\"") && !strings.Contains(r.stdout, "not "+other.String()) {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("wrong key fails", func(t *testing.T) {
		k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		writePublicKey(t, filepath.Join(dir, "other.pub"), k2)
		if r := ferry(t, dir, "images", "verify", app.String(), "--store", st, "--key", "other.pub"); r.code != cli.ExitVerification {
			t.Errorf("exit %d\n%s", r.code, r.stdout)
		}
	})

	t.Run("verify keyless with the kit's trusted root", func(t *testing.T) {
		r := mustFerry(t, dir, "images", "verify", repo+":1.4", "--store", st, "--certificate-identity", id, "--certificate-oidc-issuer", issuer)
		if !strings.Contains(r.stdout, "VERIFIED") || !strings.Contains(r.stdout, id) {
			t.Errorf("%s", r.stdout)
		}
		mustFerry(t, dir, "images", "verify", app.String(), "--store", st, "--certificate-identity", id, "--certificate-oidc-issuer", issuer,
			"--trusted-root", filepath.Join(tmp, "trusted_root.json"))
	})

	t.Run("keyless wrong identity or root fails", func(t *testing.T) {
		if r := ferry(t, dir, "images", "verify", app.String(), "--store", st, "--certificate-identity", "someone@else", "--certificate-oidc-issuer", issuer); r.code != cli.ExitVerification {
			t.Errorf("wrong identity: exit %d\n%s", r.code, r.stdout)
		}
		vs2, _ := ca.NewVirtualSigstore()
		write(t, filepath.Join(tmp, "other_root.json"), string(ocitest.TrustedRootJSON(t, vs2)))
		if r := ferry(t, dir, "images", "verify", app.String(), "--store", st, "--certificate-identity", id, "--certificate-oidc-issuer", issuer,
			"--trusted-root", filepath.Join(tmp, "other_root.json")); r.code != cli.ExitVerification {
			t.Errorf("other root: exit %d\n%s", r.code, r.stdout)
		}
	})

	if n := src.requests.Load() - before; n != 0 {
		t.Errorf("offline commands made %d requests to the source registry", n)
	}

	t.Run("push", func(t *testing.T) {
		dst := newTestRegistry(t, "site", "pw")
		writeDockerConfig(t, dst.host, "site", "pw")
		if r := ferry(t, dir, "images", "push", "--store", st, "--to", dst.host); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "plain HTTP") {
			t.Errorf("without --insecure: exit %d %s", r.code, r.stderr)
		}
		mustFerry(t, dir, "images", "push", "--store", st, "--to", dst.host, "--insecure")
		auth := remote.WithAuth(&authn.Basic{Username: "site", Password: "pw"})
		for path, want := range map[string]v1.Hash{"/app/api@" + app.String(): app, "/base/multi@" + multi.String(): multi,
			"/app/api:sha256-" + app.Hex + ".sig": {}} {
			d, err := remote.Head(ref(t, dst.host+path), auth)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			if want != (v1.Hash{}) && d.Digest != want {
				t.Errorf("%s: registry digest %s, want %s", path, d.Digest, want)
			}
		}
	})
}

func writeDockerConfig(t *testing.T, host, user, pass string) {
	t.Helper()
	cfg := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	write(t, filepath.Join(cfg, "config.json"), `{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`)
	t.Setenv("DOCKER_CONFIG", cfg)
}
