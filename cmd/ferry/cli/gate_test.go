package cli_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/gate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const gateVendorVEX = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://vendor.example/vex/7",
  "author": "https://vendor.example",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2026-1002"},
    "products": [{"@id": "pkg:golang/example.com/lib"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}`

const gateSBOM = `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[
 {"type":"library","bom-ref":"lib","name":"example.com/lib","version":"v1.0.0","purl":"pkg:golang/example.com/lib@v1.0.0"}]}`

// gateStore imports a kit with three advisories for example.com/lib v1.0.0
// (two HIGH, one in KEV terms irrelevant; one LOW) and a vendor's
// not_affected for one HIGH into a new store.
func gateStore(t *testing.T, withVEX bool) (dir, st string) {
	t.Helper()
	dir = t.TempDir()
	c := fixtures.NewChannel("feeds")
	rec := func(id, cve, sev string) string {
		return `{"id":"` + id + `","modified":"2026-11-01T00:00:00Z","aliases":["` + cve + `"],"database_specific":{"severity":"` + sev +
			`"},"affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}` + "\n"
	}
	files := map[string][]byte{
		"advisories/govulndb/osv.jsonl": []byte(rec("GO-2026-1001", "CVE-2026-1001", "HIGH") + rec("GO-2026-1002", "CVE-2026-1002", "HIGH") + rec("GO-2026-1003", "CVE-2026-1003", "LOW")),
		"trust/issuers.json":            []byte(`{"issuers":[{"id":"https://vendor.example","name":"Vendor","rank":1,"tier":"vendor"}],"schema":"ferry.dev/issuers/v1"}`),
	}
	if withVEX {
		files["vex/vendor/"+sha256Hex([]byte(gateVendorVEX))+".json"] = []byte(gateVendorVEX)
	}
	kitPath := filepath.Join(dir, "feeds.kit.tar.zst")
	write(t, kitPath, string(fixtures.Kit(c, files, fixtures.KitOptions{})))
	write(t, filepath.Join(dir, "root.json"), string(c.Root()))
	write(t, filepath.Join(dir, "app.cdx.json"), gateSBOM)
	st = filepath.Join(dir, "store")
	if out, errOut, code := runFerry(t, "import", kitPath, "--store", st, "--root", filepath.Join(dir, "root.json"), "--at=2026-11-28T01:00:00Z", "--reason", "test clock"); code != cli.ExitOK {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	return dir, st
}

const gatePolicy = `apiVersion: ferry.dev/policy/v1
default:
  block:
    severity: high
    kev: true
  unknowns: {max: 10}
environments:
  prod:
    block: {severity: low}
    unknowns: {max: 0}
`

const gateWaiver = `waivers:
  - vuln: CVE-2026-1001
    product: pkg:golang/example.com/lib
    expires: 2027-01-01T00:00:00Z
    reason: not reachable, see ticket SEC-1234
    approver: security@example.com
`

// runFerry runs ferry in-process in the current directory.
func runFerry(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	r := ferry(t, t.TempDir(), args...)
	return r.stdout, r.stderr, r.code
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func readDecision(t *testing.T, path string) *gate.Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := gate.ParseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// The story: blocked with reasons naming each blocking advisory and rule; a
// vendor not_affected removes exactly that one; a waiver for the rest
// passes; past the waiver's expiry it blocks again; every record replays
// identical; a changed byte fails gate verify with exit 3.
func TestGateStoryCLI(t *testing.T) {
	dir, bare := gateStore(t, false)
	_, st := gateStore(t, true)
	sbom := "sbom:" + filepath.Join(dir, "app.cdx.json")
	policy := filepath.Join(dir, "policy.yaml")
	write(t, policy, gatePolicy)
	at := "--at=2026-12-01T00:00:00Z"

	// 1. No VEX: both HIGH advisories block.
	rec1 := filepath.Join(dir, "d1.json")
	out, errOut, code := runFerry(t, "gate", sbom, "--store", bare, "--policy", policy, at, "-o", rec1)
	if code != cli.ExitBlocked {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, w := range []string{"Verdict: BLOCK", "GATE_SEVERITY", "2 findings at or above HIGH", "CVE-2026-1001", "CVE-2026-1002",
		"unknown: no VEX statement", "ferry gate replay " + rec1} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}

	// 2. The vendor's not_affected removes exactly CVE-2026-1002.
	rec2 := filepath.Join(dir, "d2.json")
	out, _, code = runFerry(t, "gate", sbom, "--store", st, "--policy", policy, at, "-o", rec2)
	if code != cli.ExitBlocked {
		t.Fatalf("with VEX: exit %d\n%s", code, out)
	}
	r2 := readDecision(t, rec2)
	for _, r := range r2.Rules {
		if r.Code == gate.CodeSeverity && (len(r.Findings) != 1 || !strings.HasPrefix(r.Findings[0], "CVE-2026-1001 ")) {
			t.Errorf("severity findings after VEX: %q", r.Findings)
		}
	}

	// 3. A waiver for the rest: pass. Signed, and verified.
	write(t, policy, gatePolicy+gateWaiver)
	keyDir := filepath.Join(dir, "keys")
	mustFerry(t, dir, "keys", "generate", "--out", keyDir, "--name", "gate")
	rec3 := filepath.Join(dir, "d3.json")
	out, errOut, code = runFerry(t, "gate", sbom, "--store", st, "--policy", policy, at, "-o", rec3, "--sign", filepath.Join(keyDir, "gate.key"))
	if code != cli.ExitOK {
		t.Fatalf("with the waiver: exit %d\n%s%s", code, out, errOut)
	}
	env := filepath.Join(dir, "d3.intoto.jsonl")
	if out, errOut, code := runFerry(t, "gate", "verify", env, "--key", filepath.Join(keyDir, "gate.pub"), "--record", rec3); code != cli.ExitOK {
		t.Fatalf("gate verify: exit %d\n%s%s", code, out, errOut)
	}

	// 4. Past the waiver's expiry: blocked again, and the record says so.
	rec4 := filepath.Join(dir, "d4.json")
	if _, _, code := runFerry(t, "gate", sbom, "--store", st, "--policy", policy, "--at=2027-01-02T00:00:00Z", "-o", rec4); code != cli.ExitBlocked {
		t.Fatalf("after the waiver expired: exit %d", code)
	}
	if r4 := readDecision(t, rec4); r4.Waivers[0].Status != gate.WaiverExpired {
		t.Errorf("waiver status %q", r4.Waivers[0].Status)
	}

	// 5. prod blocks the LOW one too; unknown environments are usage errors.
	if out, _, code := runFerry(t, "gate", sbom, "--store", st, "--policy", policy, at, "--env", "prod"); code != cli.ExitBlocked || !strings.Contains(out, "CVE-2026-1003") {
		t.Errorf("prod: exit %d\n%s", code, out)
	}
	if _, errOut, code := runFerry(t, "gate", sbom, "--store", st, "--policy", policy, "--env", "qa"); code != cli.ExitUsage || !strings.Contains(errOut, `no environment "qa"`) {
		t.Errorf("unknown environment: exit %d %s", code, errOut)
	}

	// 6. Every record replays identical.
	for _, c := range []struct{ rec, st string }{{rec1, bare}, {rec2, st}, {rec3, st}, {rec4, st}} {
		if out, errOut, code := runFerry(t, "gate", "replay", c.rec, "--store", c.st); code != cli.ExitOK || !strings.HasPrefix(out, "identical: sha256:") {
			t.Errorf("replay %s: exit %d\n%s%s", filepath.Base(c.rec), code, out, errOut)
		}
	}

	// 7. One changed byte: gate verify and replay fail with exit 3.
	data, _ := os.ReadFile(rec3)
	edited := bytes.Replace(data, []byte(`"verdict":"pass"`), []byte(`"verdict":"PASS"`), 1)
	if bytes.Equal(edited, data) {
		t.Fatal("test edit did not apply")
	}
	bad := filepath.Join(dir, "edited.json")
	write(t, bad, string(edited))
	if _, _, code := runFerry(t, "gate", "verify", env, "--key", filepath.Join(keyDir, "gate.pub"), "--record", bad); code != cli.ExitVerification {
		t.Errorf("gate verify of an edited record: exit %d, want 3", code)
	}
	if _, _, code := runFerry(t, "gate", "replay", bad, "--store", st); code != cli.ExitVerification {
		t.Errorf("replay of an edited record: exit %d, want 3", code)
	}
	envData, _ := os.ReadFile(env)
	for _, i := range []int{20, len(envData) / 2, len(envData) - 5} {
		mut := bytes.Clone(envData)
		mut[i] ^= 0x04
		write(t, env, string(mut))
		if _, _, code := runFerry(t, "gate", "verify", env, "--key", filepath.Join(keyDir, "gate.pub")); code != cli.ExitVerification {
			t.Errorf("envelope byte %d flipped: exit %d, want 3", i, code)
		}
	}

	// 8. A newer kit since: replay says inputs changed (exit 1).
	_, st2 := gateStore(t, true)
	if out, _, code := runFerry(t, "gate", "replay", rec2, "--store", bare); code != cli.ExitBlocked || !strings.Contains(out, "inputs changed") {
		t.Errorf("replay against another store: exit %d\n%s", code, out)
	}
	_ = st2

	// 9. Explain and diff.
	out = mustFerry(t, dir, "gate", "explain", rec1, "--format", "markdown").stdout
	if !strings.Contains(out, "## ferry gate: BLOCK") || !strings.Contains(out, "```yaml\n- vuln: CVE-2026-1001") {
		t.Errorf("markdown:\n%s", out)
	}
	out = mustFerry(t, dir, "gate", "diff", rec1, rec3).stdout
	for _, w := range []string{"verdict: block → pass", "consensus \"unknown\" → \"not_affected\"", "waived \"false\" → \"true\""} {
		if !strings.Contains(out, w) {
			t.Errorf("diff lacks %q:\n%s", w, out)
		}
	}
	var d gate.Diff
	if err := json.Unmarshal([]byte(mustFerry(t, dir, "gate", "diff", rec1, rec3, "--json").stdout), &d); err != nil || d.Verdict.New != "pass" {
		t.Errorf("diff --json: %v %+v", err, d)
	}
}

func TestGateUsage(t *testing.T) {
	dir, st := gateStore(t, false)
	policy := filepath.Join(dir, "policy.yaml")
	write(t, policy, "apiVersion: ferry.dev/policy/v1\ndefault:\n  block: {severity: hihg}\n")
	sbom := "sbom:" + filepath.Join(dir, "app.cdx.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"gate", sbom, "--store", st, "--policy", policy}, `policy.yaml:3: default.block.severity: "hihg" is not a severity`},
		{[]string{"gate", sbom, "--policy", policy}, "--store DIR is required"},
		{[]string{"gate", "--store", st, "--policy", policy}, "name the image to gate"},
		{[]string{"gate", "explain", policy}, ""},
	} {
		_, errOut, code := runFerry(t, tc.args...)
		want := cli.ExitUsage
		if tc.args[1] == "explain" {
			want = cli.ExitVerification // not a decision record
		}
		if code != want || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, want %d; stderr %s", tc.args, code, want, errOut)
		}
	}
}

// An image under a policy that requires a signature: unsigned is blocked
// with exit 3; signed with the policy's key passes.
func TestGateSignatures(t *testing.T) {
	src := newTestRegistry(t, "", "")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signed := pushTo(t, src.host+"/app/signed:1", seeded(t, 1))
	repo := src.host + "/app/signed"
	pushTo(t, repo+":sha256-"+signed.Hex+".sig", cosignManifest(t, types.OCIManifestSchema1, keySigLayer(t, key, simpleSigning(repo, signed))))
	pushTo(t, repo+":sha256-"+signed.Hex+".att", cosignManifest(t, types.OCIManifestSchema1, attestationLayer(t, key, signed)))
	unsigned := pushTo(t, src.host+"/app/unsigned:1", seeded(t, 2))
	dir, st := imagesSite(t, src.host, []string{repo + ":1", src.host + "/app/unsigned:1"}, "")
	writePublicKey(t, filepath.Join(dir, "cosign.pub"), key)
	policy := filepath.Join(dir, "policy.yaml")
	write(t, policy, `apiVersion: ferry.dev/policy/v1
default:
  signatures: [{key: cosign.pub}]
  attestations: [{predicateType: https://slsa.dev/provenance/v1, key: cosign.pub}]
`)
	out, errOut, code := runFerry(t, "gate", "sha256:"+unsigned.Hex, "--store", st, "--policy", policy, "--at", verifyAt, "-o", filepath.Join(dir, "u.json"))
	if code != cli.ExitVerification || !strings.Contains(out, "GATE_SIGNATURE") || !strings.Contains(out, "GATE_ATTESTATION") {
		t.Errorf("unsigned: exit %d, want 3\n%s%s", code, out, errOut)
	}
	out, errOut, code = runFerry(t, "gate", "sha256:"+signed.Hex, "--store", st, "--policy", policy, "--at", verifyAt, "-o", filepath.Join(dir, "s.json"))
	if code != cli.ExitOK {
		t.Errorf("signed: exit %d\n%s%s", code, out, errOut)
	}
	rec := readDecision(t, filepath.Join(dir, "s.json"))
	for _, r := range rec.Rules {
		if (r.Code == gate.CodeSignature || r.Code == gate.CodeAttestation) && (r.Outcome != gate.OutcomePass || !r.Checks[0].Verified) {
			t.Errorf("%s: %+v", r.Code, r)
		}
	}
	if out, errOut, code := runFerry(t, "gate", "replay", filepath.Join(dir, "s.json"), "--store", st); code != cli.ExitOK {
		t.Errorf("replay: exit %d\n%s%s", code, out, errOut)
	}
	// A release of both: one record each, the release blocked, exit 3.
	write(t, filepath.Join(dir, "release.yaml"), "apiVersion: ferry.dev/release/v1\nname: r1\nimages:\n  - sha256:"+signed.Hex+"\n  - sha256:"+unsigned.Hex+"\n")
	out, errOut, code = runFerry(t, "gate", "--release", filepath.Join(dir, "release.yaml"), "--store", st, "--policy", policy, "--at", verifyAt, "-o", filepath.Join(dir, "decisions"))
	if code != cli.ExitVerification || !strings.Contains(out, "release r1: BLOCK (2 images)") {
		t.Errorf("release: exit %d\n%s%s", code, out, errOut)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "decisions"))
	if len(entries) != 3 {
		t.Errorf("decisions/: %d files", len(entries))
	}
	// The images are decided side by side; each record is the one a gate
	// of that image alone writes.
	alone, _ := os.ReadFile(filepath.Join(dir, "s.json"))
	inRelease, _ := os.ReadFile(filepath.Join(dir, "decisions", "1-"+signed.Hex[:12]+".json"))
	if len(alone) == 0 || !bytes.Equal(alone, inRelease) {
		t.Errorf("the release's record of the signed image differs from the gate of it alone:\n%s\n%s", alone, inRelease)
	}
}
