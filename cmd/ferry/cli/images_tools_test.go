package cli_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// distribution starts the real distribution registry on 127.0.0.1 with a
// temporary config and htpasswd basic auth (none when user is ""); it
// returns host:port.
func distribution(t *testing.T, user, pass string) string {
	t.Helper()
	bin := needTool(t, "registry")
	dir := t.TempDir()
	auth, ready := "", http.StatusOK
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "htpasswd"), user+":"+string(hash)+"\n")
		auth = fmt.Sprintf("auth: {htpasswd: {realm: ferry-test, path: %s}}\n", filepath.Join(dir, "htpasswd"))
		ready = http.StatusUnauthorized
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	write(t, filepath.Join(dir, "config.yml"), fmt.Sprintf(`version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}
http: {addr: %s}
%s`, filepath.Join(dir, "data"), addr, auth))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", filepath.Join(dir, "config.yml"))
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("distribution registry log:\n%s", b)
			}
		}
	})
	// A loaded machine may take a while to start it: wait up to 60s.
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == ready {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("distribution registry on %s did not come up: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestImagesDistribution mirrors from a real distribution registry with
// basic auth (a single image and a multi-arch index), imports, and pushes
// into a second one: the digests there equal the source digests.
func TestImagesDistribution(t *testing.T) {
	src := distribution(t, "ferry", "s3cret")
	dst := distribution(t, "site", "pw")
	srcAuth := remote.WithAuth(&authn.Basic{Username: "ferry", Password: "s3cret"})
	app := pushTo(t, src+"/app/api:1.4", seeded(t, 1), srcAuth)
	var adds []mutate.IndexAddendum
	for i, p := range []string{"linux/amd64", "linux/arm64", "linux/s390x"} {
		pl, _ := v1.ParsePlatform(p)
		adds = append(adds, mutate.IndexAddendum{Add: seeded(t, int64(20+i)), Descriptor: v1.Descriptor{Platform: pl}})
	}
	multi := pushTo(t, src+"/base/multi:1", mutate.AppendManifests(empty.Index, adds...), srcAuth)

	// One Docker config with both registries' credentials: mirror reads it
	// (auth: docker-config), push reads it.
	cfg := t.TempDir()
	b64 := func(s string) string { return encodeBase64(s) }
	write(t, filepath.Join(cfg, "config.json"), `{"auths":{"`+src+`":{"auth":"`+b64("ferry:s3cret")+`"},"`+dst+`":{"auth":"`+b64("site:pw")+`"}}}`)
	t.Setenv("DOCKER_CONFIG", cfg)

	dir := site(t)
	write(t, filepath.Join(dir, "kit.yaml"), "name: imgs\nchannel: acme-feeds\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nexpires: 30d\nimages:\n"+
		"  - ref: "+src+"/app/api:1.4\n  - ref: "+src+"/base/multi:1\n"+
		"registries:\n  "+src+": {insecure: true, auth: docker-config}\n")
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "imgs.kit.tar.zst", "--key", "keys/signer.key", "--no-progress")
	st := filepath.Join(dir, "store")
	mustFerry(t, dir, "import", "imgs.kit.tar.zst", "--store", st, "--root", "trust/root.json", "--at", verifyAt, "--reason", "test clock")
	mustFerry(t, dir, "images", "push", "--store", st, "--to", dst, "--insecure")

	dstAuth := remote.WithAuth(&authn.Basic{Username: "site", Password: "pw"})
	for path, want := range map[string]v1.Hash{"/app/api@" + app.String(): app, "/base/multi@" + multi.String(): multi} {
		d, err := remote.Head(ref(t, dst+path), dstAuth)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d.Digest != want {
			t.Errorf("%s: the registry's digest is %s, want the source digest %s", path, d.Digest, want)
		}
	}
	// Without credentials the site registry refuses: auth was really used.
	if _, err := remote.Head(ref(t, dst+"/app/api@"+app.String())); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Errorf("anonymous HEAD: %v", err)
	}
}

// TestImagesCosignCLI signs images with the real cosign CLI (key pair, no
// transparency log), mirrors them and verifies offline; a tampered
// signature fails.
func TestImagesCosignCLI(t *testing.T) {
	cosign := needTool(t, "cosign")
	src := newTestRegistry(t, "", "")
	a := pushTo(t, src.host+"/app/signed:1", seeded(t, 31))
	b := pushTo(t, src.host+"/app/tampered:1", seeded(t, 32))
	keys := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(cosign, args...)
		cmd.Dir = keys
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "COSIGN_YES=true", "TUF_ROOT="+filepath.Join(keys, "tuf"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("generate-key-pair")
	for _, d := range []string{src.host + "/app/signed@" + a.String(), src.host + "/app/tampered@" + b.String()} {
		run("sign", "--key", "cosign.key", "--tlog-upload=false", "--allow-insecure-registry", "--allow-http-registry", "--yes", d)
	}
	// Flip a byte of b's signature in its .sig manifest.
	sigRef := ref(t, src.host+"/app/tampered:sha256-"+b.Hex+".sig")
	sigImg, err := remote.Image(sigRef)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := sigImg.Manifest()
	ls, _ := sigImg.Layers()
	s := []byte(m.Layers[0].Annotations["dev.cosignproject.cosign/signature"])
	s[5] ^= 0x01
	if s[5] == '+' || s[5] == '/' || s[5] == '=' {
		s[5] = 'A'
	}
	ann := map[string]string{}
	for k, v := range m.Layers[0].Annotations {
		ann[k] = v
	}
	ann["dev.cosignproject.cosign/signature"] = string(s)
	tampered, err := mutate.Append(mutate.MediaType(mutate.ConfigMediaType(empty.Image, m.Config.MediaType), m.MediaType),
		mutate.Addendum{Layer: ls[0], Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	pushTo(t, sigRef.String(), tampered)

	dir, st := imagesSite(t, src.host, []string{src.host + "/app/signed:1", src.host + "/app/tampered:1"}, "")
	pub := filepath.Join(keys, "cosign.pub")
	r := mustFerry(t, dir, "images", "verify", a.String(), "--store", st, "--key", pub)
	if !strings.Contains(r.stdout, "VERIFIED") {
		t.Errorf("%s", r.stdout)
	}
	if r := ferry(t, dir, "images", "verify", b.String(), "--store", st, "--key", pub); r.code != 3 {
		t.Errorf("tampered cosign signature: exit %d\n%s", r.code, r.stdout)
	}
}

func encodeBase64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
