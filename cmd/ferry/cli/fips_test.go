package cli_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/internal/ocitest"
	"github.com/ferry-dev/ferry/keys"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// fipsEnv carries the journey's directory to the copy of this test binary
// that runs in FIPS 140-only mode.
const fipsEnv = "FERRY_TEST_FIPS_DIR"

const (
	fipsIdentity = "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main"
	fipsIssuer   = "https://token.actions.githubusercontent.com"
)

// TestFIPSOffline builds a kit on the connected side in the ordinary mode:
// an ed25519 channel root, an ECDSA P-256 kit signer, an image signed by
// an ECDSA P-256 cosign key and keylessly, advisories and the site's VEX.
// Then the whole offline journey runs in a copy of this test binary under
// GODEBUG=fips140=only (TestFIPSOfflineChild): verify, import, images
// verify (key and keyless), scan, vex, gate --sign with an ECDSA P-256
// key, gate verify, replay, explain --html and store check.
func TestFIPSOffline(t *testing.T) {
	src := newTestRegistry(t, "", "")
	cosignKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	app := pushTo(t, src.host+"/app/api:1.4", seeded(t, 1))
	repo := src.host + "/app/api"
	payload := simpleSigning(repo, app)
	pushTo(t, repo+":sha256-"+app.Hex+".sig", cosignManifest(t, types.OCIManifestSchema1,
		keySigLayer(t, cosignKey, payload), ocitest.KeylessSignatureLayer(t, vs, fipsIdentity, fipsIssuer, payload)))
	pushTo(t, repo+":sha256-"+app.Hex+".att", cosignManifest(t, types.OCIManifestSchema1, attestationLayer(t, cosignKey, app)))

	dir := t.TempDir()
	mustFerry(t, dir, "keys", "generate", "--out", "keys", "--name", "root")
	mustFerry(t, dir, "keys", "generate", "--out", "keys", "--name", "signer", "--algorithm", "ecdsa-p256")
	mustFerry(t, dir, "keys", "generate", "--out", "keys", "--name", "gate", "--algorithm", "ecdsa-p256")
	mustFerry(t, dir, "trust", "init", "--channel", "acme-feeds", "--root-key", "keys/root.key",
		"--signing-key", "keys/signer.pub", "--out", "trust/root.json")
	writePublicKey(t, filepath.Join(dir, "cosign.pub"), cosignKey)
	write(t, filepath.Join(dir, "src", "trusted_root.json"), string(ocitest.TrustedRootJSON(t, vs)))
	write(t, filepath.Join(dir, "osv", "GO-2026-1001.json"), `{"id":"GO-2026-1001","modified":"2026-11-01T00:00:00Z","aliases":["CVE-2026-1001"],`+
		`"database_specific":{"severity":"HIGH"},"affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},`+
		`"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}`)
	write(t, filepath.Join(dir, "sitevex", "vendor.json"), gateVendorVEX)
	write(t, filepath.Join(dir, "app.cdx.json"), gateSBOM)
	write(t, filepath.Join(dir, "policy.yaml"), gatePolicy+gateWaiver)
	write(t, filepath.Join(dir, "kit.yaml"), "name: fips\nchannel: acme-feeds\nversion: 1\ncreated: 2026-11-28T00:00:00Z\nexpires: 30d\n"+
		"images:\n  - ref: "+repo+":1.4\nregistries:\n  "+src.host+": {insecure: true}\n"+
		"advisories:\n  - name: govulndb\n    osv: {dir: ./osv}\n"+
		"files:\n  - src: src/trusted_root.json\n    dest: trust/sigstore/targets/trusted_root.json\n")
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "fips.kit.tar.zst", "--key", "keys/signer.key", "--no-progress")
	write(t, filepath.Join(dir, "app.digest"), app.String())

	cmd := exec.Command(os.Args[0], "-test.run=^TestFIPSOfflineChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fipsEnv+"="+dir, "GODEBUG=fips140=only")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the offline journey under GODEBUG=fips140=only failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestFIPSOfflineChild")) {
		t.Fatalf("the child did not run the journey:\n%s", out)
	}
}

// TestFIPSOfflineChild is the half of TestFIPSOffline that runs under
// GODEBUG=fips140=only; on its own it does nothing.
func TestFIPSOfflineChild(t *testing.T) {
	dir := os.Getenv(fipsEnv)
	if dir == "" {
		// Not a skip: make test lists every skipped test, and this one
		// has nothing to skip, it is run by TestFIPSOffline.
		return
	}
	if !fips140.Enforced() {
		t.Fatal("FIPS 140-only mode is not enforced: GODEBUG=fips140=only did not take")
	}
	const at = "--at=2026-12-01T00:00:00Z"
	st := filepath.Join(dir, "store")
	app := strings.TrimSpace(readFile(t, filepath.Join(dir, "app.digest")))
	step := func(want int, args ...string) result {
		t.Helper()
		r := ferry(t, dir, args...)
		if r.code != want {
			t.Fatalf("ferry %s under fips140=only: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
		return r
	}
	step(cli.ExitOK, "verify", "fips.kit.tar.zst", "--root", "trust/root.json", at)
	step(cli.ExitOK, "import", "fips.kit.tar.zst", "--store", st, "--root", "trust/root.json", at, "--reason", "test clock")
	step(cli.ExitOK, "verify", "fips.kit.tar.zst", "--store", st, at, "--html", "verify.html")
	step(cli.ExitOK, "images", "list", "--store", st)
	if r := step(cli.ExitOK, "images", "verify", app, "--store", st, "--key", "cosign.pub"); !strings.Contains(r.stdout, "VERIFIED") {
		t.Errorf("images verify --key:\n%s", r.stdout)
	}
	step(cli.ExitOK, "images", "verify", app, "--store", st, "--certificate-identity", fipsIdentity, "--certificate-oidc-issuer", fipsIssuer)
	step(cli.ExitOK, "scan", "sbom:app.cdx.json", "--store", st, at)
	step(cli.ExitOK, "vex", "consensus", "--store", st, "--vex", "sitevex", at)
	step(cli.ExitOK, "gate", "sbom:app.cdx.json", "--store", st, "--policy", "policy.yaml", "--vex", "sitevex", at,
		"-o", "decision.json", "--sign", "keys/gate.key")
	step(cli.ExitOK, "gate", "verify", "decision.intoto.jsonl", "--key", "keys/gate.pub", "--record", "decision.json")
	step(cli.ExitOK, "gate", "replay", "decision.json", "--store", st)
	step(cli.ExitOK, "gate", "explain", "decision.json", "--html", "decision.html")
	step(cli.ExitOK, "store", "check", "--store", st)
	step(cli.ExitOK, "keys", "generate", "--out", "fipskeys", "--name", "k", "--algorithm", "ecdsa-p256")

	// What the mode forbids is refused, saying so: a key from a seeded
	// generator instead of the module's DRBG.
	if _, err := keys.Generate(keys.ECDSAP256, bytes.NewReader(make([]byte, 64))); !errors.Is(err, keys.ErrNotFIPSApproved) {
		t.Errorf("a seeded ECDSA key in FIPS 140-only mode: %v, want ErrNotFIPSApproved", err)
	}
}

// A refusal of FIPS 140-only mode says so and where to read about it.
func TestFIPSRefusalIsExplained(t *testing.T) {
	var errb bytes.Buffer
	root := cli.New()
	root.SetErr(&errb)
	code := cli.ExitCode(root, fmt.Errorf("keys generate: %w", keys.ErrNotFIPSApproved))
	if code != cli.ExitOther || !strings.Contains(errb.String(), "FIPS 140-only mode is on") || !strings.Contains(errb.String(), "docs/trust-model.md") {
		t.Errorf("exit %d\n%s", code, errb.String())
	}
}
