package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/gate"
)

// cosign runs the real cosign CLI offline (no transparency log, no TUF
// fetch: HOME and TUF_ROOT point into dir) and returns its output and
// error.
func cosign(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(needTool(t, "cosign"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"), "COSIGN_EXPERIMENTAL=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A signed gate decision (ferry gate --sign) is accepted by the real
// cosign verify-blob-attestation: against the record file and against the
// image digest, its two subjects; a record changed after signing is
// refused.
func TestGateCosignVerifyBlobAttestation(t *testing.T) {
	needTool(t, "cosign")
	src := newTestRegistry(t, "", "")
	img := pushTo(t, src.host+"/app/api:1", seeded(t, 41))
	dir, st := imagesSite(t, src.host, []string{src.host + "/app/api:1"}, "")
	policy := filepath.Join(dir, "policy.yaml")
	write(t, policy, "apiVersion: ferry.dev/policy/v1\ndefault:\n  unknowns: {max: 100}\n")
	mustFerry(t, dir, "keys", "generate", "--out", filepath.Join(dir, "gk"), "--name", "gate", "--algorithm", "ecdsa-p256")
	rec := filepath.Join(dir, "decision.json")
	r := ferry(t, dir, "gate", "sha256:"+img.Hex, "--store", st, "--policy", policy, "--at", verifyAt,
		"--sign", filepath.Join(dir, "gk", "gate.key"), "-o", rec)
	if r.code != cli.ExitOK {
		t.Fatalf("gate --sign: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	env := filepath.Join(dir, "decision.intoto.jsonl")
	base := []string{"verify-blob-attestation", "--key", filepath.Join(dir, "gk", "gate.pub"), "--type", gate.RecordSchema,
		"--signature", env, "--insecure-ignore-tlog=true"}
	if out, err := cosign(t, dir, append(base, rec)...); err != nil {
		t.Fatalf("cosign verify-blob-attestation of the record: %v\n%s", err, out)
	}
	if out, err := cosign(t, dir, append(base, "--digest", img.Hex, "--digestAlg", "sha256")...); err != nil {
		t.Fatalf("cosign verify-blob-attestation of the image digest: %v\n%s", err, out)
	}

	// The record with one byte changed is not the attested subject.
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(dir, "edited.json")
	changed := strings.Replace(string(data), `"pass"`, `"PASS"`, 1)
	if changed == string(data) {
		t.Fatalf("the record has no verdict \"pass\":\n%s", data)
	}
	write(t, edited, changed)
	if out, err := cosign(t, dir, append(base, edited)...); err == nil {
		t.Fatalf("cosign accepted an edited record:\n%s", out)
	}
	// Another key does not verify it.
	mustFerry(t, dir, "keys", "generate", "--out", filepath.Join(dir, "other"), "--name", "gate", "--algorithm", "ecdsa-p256")
	other := append([]string{"verify-blob-attestation", "--key", filepath.Join(dir, "other", "gate.pub")}, base[3:]...)
	if out, err := cosign(t, dir, append(other, rec)...); err == nil {
		t.Fatalf("cosign accepted the decision under another key:\n%s", out)
	}
}

// ferry gate --attach pushes the signed decision to the image in the real
// distribution registry, where the real cosign verify-attestation finds
// and accepts it.
func TestGateAttachDistributionCosign(t *testing.T) {
	needTool(t, "cosign")
	reg := distribution(t, "", "")
	img := pushTo(t, reg+"/app/api:1", seeded(t, 42))
	repo := reg + "/app/api"
	dir, st := imagesSite(t, reg, []string{repo + ":1"}, "")
	policy := filepath.Join(dir, "policy.yaml")
	write(t, policy, "apiVersion: ferry.dev/policy/v1\ndefault:\n  unknowns: {max: 100}\n")
	mustFerry(t, dir, "keys", "generate", "--out", filepath.Join(dir, "gk"), "--name", "gate", "--algorithm", "ecdsa-p256")
	r := ferry(t, dir, "gate", "sha256:"+img.Hex, "--store", st, "--policy", policy, "--at", verifyAt,
		"--sign", filepath.Join(dir, "gk", "gate.key"), "-o", filepath.Join(dir, "decision.json"), "--attach", repo, "--insecure")
	if r.code != cli.ExitOK || !strings.Contains(r.stderr, "attached: "+repo+":sha256-"+img.Hex+".att") {
		t.Fatalf("gate --attach: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	args := []string{"verify-attestation", "--type", gate.RecordSchema, "--insecure-ignore-tlog=true", "--allow-http-registry=true",
		repo + "@" + img.String()}
	out, err := cosign(t, dir, append([]string{"--key", filepath.Join(dir, "gk", "gate.pub")}, args...)...)
	if err != nil {
		t.Fatalf("cosign verify-attestation: %v\n%s", err, out)
	}
	if !strings.Contains(out, "verified against the specified public key") {
		t.Errorf("cosign did not say it verified the attestation:\n%s", out)
	}
	mustFerry(t, dir, "keys", "generate", "--out", filepath.Join(dir, "other"), "--name", "gate", "--algorithm", "ecdsa-p256")
	if out, err := cosign(t, dir, append([]string{"--key", filepath.Join(dir, "other", "gate.pub")}, args...)...); err == nil {
		t.Fatalf("cosign accepted the attestation under another key:\n%s", out)
	}
}
