package cli_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/gate"
	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/keys"
	"github.com/ferry-dev/ferry/publish"
	"github.com/ferry-dev/ferry/store"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// syncBuffer is a writer safe for a command running on another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func storeVersion(t *testing.T, dir string) int64 {
	t.Helper()
	s, err := store.Open(context.Background(), dir, store.Options{ReadOnly: true})
	if err != nil {
		return 0
	}
	in, err := s.Info(context.Background(), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || len(in.Channels) == 0 {
		return 0
	}
	return in.Channels[0].Version
}

func TestPublishAndImportOCI(t *testing.T) {
	reg := newTestRegistry(t, "", "")
	dir := t.TempDir()
	c := fixtures.NewChannel("acme")
	files := fixtures.SampleFiles()
	root := filepath.Join(dir, "root.json")
	write(t, root, string(c.Root()))
	k1 := filepath.Join(dir, "acme-1.kit.tar.zst")
	write(t, k1, string(fixtures.Kit(c, files, fixtures.KitOptions{Version: 1})))
	files["docs/README.md"] = []byte("v2\n")
	k2 := filepath.Join(dir, "acme-2.kit.tar.zst")
	write(t, k2, string(fixtures.Kit(c, files, fixtures.KitOptions{Version: 2})))
	at := "--at=2026-11-28T01:00:00Z"
	repo := reg.host + "/ferry/kits"
	hub, runner := filepath.Join(dir, "hub"), filepath.Join(dir, "runner")

	mustFerry(t, dir, "import", k1, "--store", hub, "--root", root, at, "--reason", "test clock")
	if _, errOut, code := runFerry(t, "publish", k1, "--to", repo); code != cli.ExitUsage || !strings.Contains(errOut, "--insecure") {
		t.Fatalf("plain HTTP without --insecure: exit %d, %s", code, errOut)
	}
	if _, errOut, code := runFerry(t, "publish", k2, "--store", hub, "--to", repo, "--insecure"); code == cli.ExitOK || !strings.Contains(errOut, "not the store's active kit") {
		t.Fatalf("publishing a kit the store has not imported: exit %d, %s", code, errOut)
	}
	if out := mustFerry(t, dir, "publish", k1, "--store", hub, "--to", repo, "--insecure").stdout; !strings.Contains(out, "published: channel acme version 1") {
		t.Fatalf("publish: %s", out)
	}
	if out := mustFerry(t, dir, "publish", k1, "--to", repo, "--insecure").stdout; !strings.Contains(out, "already published") {
		t.Fatalf("republish: %s", out)
	}

	src := "oci://" + repo + ":acme"
	if _, errOut, code := runFerry(t, "import", src, "--store", runner, at, "--reason", "test clock", "--insecure"); code != cli.ExitVerification || !strings.Contains(errOut, "KIT_UNKNOWN_CHANNEL") {
		t.Fatalf("no root: exit %d, %s", code, errOut)
	}
	if out := mustFerry(t, dir, "import", src, "--store", runner, "--root", root, at, "--reason", "test clock", "--insecure").stdout; !strings.Contains(out, "activated channel acme: new channel -> version 1") {
		t.Fatalf("import oci: %s", out)
	}
	if out := mustFerry(t, dir, "import", src, "--store", runner, at, "--reason", "test clock", "--insecure").stdout; !strings.Contains(out, "already the active kit") {
		t.Fatalf("import again: %s", out)
	}
	if _, errOut, code := runFerry(t, "import", k1, "--store", runner, "--follow", "1m"); code != cli.ExitUsage {
		t.Fatalf("--follow with a file: exit %d, %s", code, errOut)
	}

	// --follow: picks up version 2, then refuses the tag moved back and
	// keeps going until cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		root := cli.New()
		root.SetArgs([]string{"import", src, "--store", runner, "--insecure", "--follow", "1s"})
		root.SetOut(&out)
		root.SetErr(&errOut)
		done <- cli.ExitCode(root, root.ExecuteContext(ctx))
	}()
	mustFerry(t, dir, "import", k2, "--store", hub, at, "--reason", "test clock")
	mustFerry(t, dir, "publish", k2, "--store", hub, "--to", repo, "--insecure")
	waitFor(t, func() bool { return storeVersion(t, runner) == 2 }, "the follower to import version 2")
	old, err := remote.Get(ref(t, repo+":acme-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(ref(t, repo+":acme").Context().Tag("acme"), old); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(errOut.String(), "KIT_ROLLBACK") }, "the follower to refuse the rollback")
	// One more round: still following.
	waitFor(t, func() bool { return strings.Count(errOut.String(), "KIT_ROLLBACK") >= 2 }, "the follower to refuse the rollback again")
	cancel()
	if code := <-done; code != cli.ExitOK {
		t.Fatalf("follow ended with exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if v := storeVersion(t, runner); v != 2 {
		t.Fatalf("runner at version %d after the refused rollback", v)
	}
	if n := strings.Count(errOut.String(), "KIT_ROLLBACK"); n < 2 {
		t.Errorf("the follower stopped after the refusal (%d refusals):\n%s", n, errOut.String())
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestGateAttach(t *testing.T) {
	src := newTestRegistry(t, "", "")
	img := pushTo(t, src.host+"/app/api:1", seeded(t, 7))
	repo := src.host + "/app/api"
	dir, st := imagesSite(t, src.host, []string{repo + ":1"}, "")
	policy := filepath.Join(dir, "policy.yaml")
	write(t, policy, "apiVersion: ferry.dev/policy/v1\ndefault:\n  unknowns: {max: 100}\n")
	mustFerry(t, dir, "keys", "generate", "--out", filepath.Join(dir, "gk"), "--name", "gate", "--algorithm", "ecdsa-p256")
	key := filepath.Join(dir, "gk", "gate.key")
	args := []string{"gate", "sha256:" + img.Hex, "--store", st, "--policy", policy, "--at", verifyAt}

	if _, errOut, code := runFerry(t, append(args, "--attach", repo, "--insecure")...); code != cli.ExitUsage || !strings.Contains(errOut, "needs --sign") {
		t.Fatalf("--attach without --sign: exit %d, %s", code, errOut)
	}
	for range 2 {
		r := ferry(t, dir, append(args, "--sign", key, "--attach", repo, "--insecure")...)
		if r.code != cli.ExitOK || !strings.Contains(r.stderr, "attached: "+repo+":sha256-"+img.Hex+".att") {
			t.Fatalf("gate --attach: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	// As cosign lays it out: the .att tag with one DSSE layer per decision
	// (ed25519 would sign the same bytes; ECDSA signs anew, so two), and
	// one referrer per decision.
	att, err := remote.Image(ref(t, repo+":sha256-"+img.Hex+".att"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := att.Manifest()
	if len(m.Layers) != 2 {
		t.Fatalf(".att holds %d layers, want 2", len(m.Layers))
	}
	pubPEM, _ := os.ReadFile(filepath.Join(dir, "gk", "gate.pub"))
	pub, err := keys.ParsePublic("gate.pub", pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Layers {
		if d.MediaType != types.MediaType("application/vnd.dsse.envelope.v1+json") || d.Annotations["predicateType"] != gate.RecordSchema {
			t.Fatalf("layer %+v", d)
		}
		l, _ := att.LayerByDigest(d.Digest)
		rc, _ := l.Compressed()
		env, _ := io.ReadAll(rc)
		rc.Close()
		if res, err := images.VerifyAttestation(context.Background(), env, d.Annotations, img, images.VerifyOptions{Key: pub}); err != nil || res.PredicateType != gate.RecordSchema {
			t.Fatalf("ferry's verifier: %+v, %v", res, err)
		}
	}
	idx, err := remote.Referrers(ref(t, repo+"@"+img.String()).Context().Digest(img.String()))
	if err != nil {
		t.Fatal(err)
	}
	if im, _ := idx.IndexManifest(); len(im.Manifests) != 2 || im.Manifests[0].ArtifactType != "application/vnd.dsse.envelope.v1+json" {
		t.Fatalf("referrers: %+v", im.Manifests)
	}

	// ferry's own mirror finds the attestations where cosign puts them,
	// and a policy that requires a decision signed by the gate key passes
	// on the kit it builds.
	dir2, st2 := imagesSite(t, src.host, []string{repo + ":1"}, "")
	write(t, filepath.Join(dir2, "gate.pub"), string(pubPEM))
	write(t, filepath.Join(dir2, "policy.yaml"), "apiVersion: ferry.dev/policy/v1\ndefault:\n  unknowns: {max: 100}\n  attestations: [{predicateType: "+gate.RecordSchema+", key: gate.pub}]\n")
	r := ferry(t, dir2, "gate", "sha256:"+img.Hex, "--store", st2, "--policy", filepath.Join(dir2, "policy.yaml"), "--at", verifyAt, "-o", filepath.Join(dir2, "d.json"))
	if r.code != cli.ExitOK {
		t.Fatalf("gate requiring the attached decision: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, rule := range readDecision(t, filepath.Join(dir2, "d.json")).Rules {
		if rule.Code == gate.CodeAttestation && (rule.Outcome != gate.OutcomePass || !rule.Checks[0].Verified) {
			t.Fatalf("attestation rule: %+v", rule)
		}
	}

	// The real cosign accepts it.
	bin := needTool(t, "cosign")
	cmd := exec.Command(bin, "verify-attestation", "--key", filepath.Join(dir, "gk", "gate.pub"), "--type", gate.RecordSchema,
		"--insecure-ignore-tlog=true", "--allow-http-registry=true", repo+"@"+img.String())
	cmd.Env = append(os.Environ(), "COSIGN_EXPERIMENTAL=0", "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign verify-attestation: %v\n%s", err, out)
	}
}

func TestPublishPasswordStdin(t *testing.T) {
	reg := newTestRegistry(t, "ferry", "s3cret")
	dir := t.TempDir()
	c := fixtures.NewChannel("acme")
	k1 := filepath.Join(dir, "acme-1.kit.tar.zst")
	write(t, k1, string(fixtures.Kit(c, fixtures.SampleFiles(), fixtures.KitOptions{Version: 1})))
	run := ferryStdin
	to := reg.host + "/ferry/kits"
	if out, code := run("", "publish", k1, "--to", to, "--insecure", "--username", "ferry"); code != cli.ExitUsage {
		t.Fatalf("--username without --password-stdin: exit %d\n%s", code, out)
	}
	if out, code := run("wrong\n", "publish", k1, "--to", to, "--insecure", "--username", "ferry", "--password-stdin"); code == cli.ExitOK || strings.Contains(out, "wrong") || !strings.Contains(out, "401") {
		t.Fatalf("wrong password: exit %d\n%s", code, out)
	}
	if out, code := run("s3cret\n", "publish", k1, "--to", to, "--insecure", "--username", "ferry", "--password-stdin"); code != cli.ExitOK {
		t.Fatalf("with the password: exit %d\n%s", code, out)
	}
}

// ferryStdin runs ferry in-process with stdin and returns its output and
// exit code.
func ferryStdin(stdin string, args ...string) (string, int) {
	root := cli.New()
	var out, errOut strings.Builder
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	code := cli.ExitCode(root, root.ExecuteContext(context.Background()))
	return out.String() + errOut.String(), code
}

// TestScaleOutDistribution runs the site's journey against the real
// distribution registry with basic auth: publish, import oci:// on a
// runner, attach decisions (the .att tag and referrers as the registry
// keeps them).
func TestScaleOutDistribution(t *testing.T) {
	reg := distribution(t, "site", "pw")
	auth := remote.WithAuth(&authn.Basic{Username: "site", Password: "pw"})
	dir := t.TempDir()
	c := fixtures.NewChannel("acme")
	root := filepath.Join(dir, "root.json")
	write(t, root, string(c.Root()))
	k1 := filepath.Join(dir, "acme-1.kit.tar.zst")
	write(t, k1, string(fixtures.Kit(c, fixtures.SampleFiles(), fixtures.KitOptions{Version: 1})))
	creds := []string{"--insecure", "--username", "site", "--password-stdin"}
	for range 2 {
		if out, code := ferryStdin("pw\n", append([]string{"publish", k1, "--to", reg + "/ferry/kits"}, creds...)...); code != cli.ExitOK {
			t.Fatalf("publish: exit %d\n%s", code, out)
		}
	}
	runner := filepath.Join(dir, "runner")
	out, code := ferryStdin("pw\n", append([]string{"import", "oci://" + reg + "/ferry/kits:acme", "--store", runner, "--root", root, "--at=2026-11-28T01:00:00Z", "--reason", "test clock"}, creds...)...)
	if code != cli.ExitOK || !strings.Contains(out, "activated channel acme") {
		t.Fatalf("import oci: exit %d\n%q", code, out)
	}

	img := pushTo(t, reg+"/app/api:1", seeded(t, 9), auth)
	o := publish.Options{Insecure: true, Auth: &authn.Basic{Username: "site", Password: "pw"}}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := range 3 {
		env := fixtures.DSSEEnvelope(key, fixtures.InTotoStatement(img, gate.RecordSchema, fmt.Appendf(nil, `{"n":%d}`, i)))
		if _, err := publish.Attach(context.Background(), reg+"/app/api", img, env, gate.RecordSchema, o); err != nil {
			t.Fatal(err)
		}
	}
	att, err := remote.Image(ref(t, reg+"/app/api:sha256-"+img.Hex+".att"), auth)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := att.Manifest(); len(m.Layers) != 3 {
		t.Fatalf(".att holds %d layers, want 3", len(m.Layers))
	}
	idx, err := remote.Referrers(ref(t, reg+"/app/api@"+img.String()).Context().Digest(img.String()), auth)
	if err != nil {
		t.Fatal(err)
	}
	if im, _ := idx.IndexManifest(); len(im.Manifests) != 3 {
		t.Fatalf("%d referrers, want 3", len(im.Manifests))
	}
}
