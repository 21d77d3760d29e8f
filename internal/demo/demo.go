// Package demo runs the whole ferry journey on built-in data, in a
// directory of its own: keys, a channel root, a kit built from the demo
// documents, its verification, the refusal of a tampered copy, import,
// scan, and the release gate's story (blocked, a vendor VEX, a waiver and
// its expiry, a tampered record, an unsigned image, replay). It drives
// the real commands through a Runner so that what it shows is what a user
// types. It never opens a network connection.
package demo

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// Runner runs one ferry command line in dir and returns its exit code; its
// output goes to the demo's writer.
type Runner func(ctx context.Context, dir string, args ...string) int

// KitYAML is the demo kit spec.
const KitYAML = `# The demo kit: the site documents, signed for channel acme-feeds.
name: acme
channel: acme-feeds
version: 1
created: 2026-11-28T00:00:00Z
expires: 30d
freshness: {advisories: 7d}
files:
  - src: ./docs          # a file or a directory, relative to kit.yaml
    dest: docs/          # where it goes inside the kit
advisories:
  - name: acme-advisories
    osv: {dir: ./osv}    # OSV records, validated; withdrawn ones counted and left out
`

// PolicyYAML is the demo's gate policy.
const PolicyYAML = `apiVersion: ferry.dev/policy/v1
default:
  block:
    severity: high
  unknowns: {max: 10}
`

// WaiverYAML waives the demo's critical advisory until mid-December.
const WaiverYAML = `waivers:
  - vuln: CVE-2026-99001
    product: pkg:golang/example.com/acme/archive
    expires: 2026-12-15T00:00:00Z
    reason: the archive reader is not used by this service
    approver: security@acme.example
`

// ServiceSBOM is a Go-only service that uses the vulnerable archive module
// and a vulnerable httpx.
const ServiceSBOM = `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
 {"type":"library","bom-ref":"archive","name":"example.com/acme/archive","version":"v1.4.0","purl":"pkg:golang/example.com/acme/archive@v1.4.0"},
 {"type":"library","bom-ref":"httpx","name":"example.com/acme/httpx","version":"v2.3.0","purl":"pkg:golang/example.com/acme/httpx@v2.3.0"}]}
`

// KitVEXYAML is what version 3 of the demo kit adds: the vendor's VEX
// documents and the issuers file that makes the vendor a vendor.
const KitVEXYAML = `vex:
  - name: acme-psirt
    openvex: {dir: ./vex}
issuers: issuers.yaml
`

// IssuersYAML lists the demo's VEX issuer and its tier.
const IssuersYAML = `issuers:
  - id: https://acme.example/psirt
    name: Acme PSIRT
    tier: vendor
`

// VendorVEX is the vendor's statement: httpx v2.3.0 is not affected by
// CVE-2026-99002 (the header parser is not on any path the module runs).
const VendorVEX = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://acme.example/psirt/vex/2026-0002",
  "author": "https://acme.example/psirt",
  "timestamp": "2026-11-29T00:00:00Z",
  "version": 1,
  "statements": [
    {
      "vulnerability": {"name": "CVE-2026-99002"},
      "products": [{"@id": "pkg:golang/example.com/acme/httpx@v2.3.0"}],
      "status": "not_affected",
      "justification": "vulnerable_code_not_in_execute_path",
      "impact_statement": "the unbounded header parser is only reachable through ServeRaw, which v2.3.0 no longer exports"
    }
  ]
}
`

// SignedPolicyYAML requires a signature by the release key.
const SignedPolicyYAML = PolicyYAML + `  signatures:
    - key: keys/release.pub
`

type step struct {
	say  string
	args []string
	want int // expected exit code
}

// Run plays the demo in dir (which must exist and be empty or new) and
// reports an error if any step does not end as it should.
func Run(ctx context.Context, dir string, w io.Writer, run Runner) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := fixtures.WriteDemoFiles(dir); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "kit.yaml"), []byte(KitYAML), 0o644); err != nil {
		return err
	}
	v2 := strings.Replace(strings.Replace(KitYAML, "version: 1", "version: 2", 1), "2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z", 1)
	v3 := strings.Replace(strings.Replace(KitYAML, "version: 1", "version: 3", 1), "2026-11-28T00:00:00Z", "2026-11-30T00:00:00Z", 1) + KitVEXYAML
	files := []struct{ name, text string }{
		{"kit-2.yaml", v2}, {"kit-3.yaml", v3}, {"issuers.yaml", IssuersYAML}, {"vex/httpx.openvex.json", VendorVEX},
		{"policy.yaml", PolicyYAML}, {"policy-waiver.yaml", PolicyYAML + WaiverYAML}, {"policy-signed.yaml", SignedPolicyYAML},
		{"sbom/service.cdx.json", ServiceSBOM},
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f.name)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.text), 0o644); err != nil {
			return err
		}
	}
	if err := writeImage(filepath.Join(dir, "image")); err != nil {
		return err
	}
	fmt.Fprintf(w, "ferry demo in %s\n", dir)
	steps := []step{
		{say: "Connected side: make the channel's keys (root keys stay offline).", args: []string{"keys", "generate", "--out", "keys", "--name", "root"}},
		{args: []string{"keys", "generate", "--out", "keys", "--name", "signer"}},
		{say: "Write the channel's TUF root v1 (pinned at the site out of band).", args: []string{"trust", "init", "--channel", "acme-feeds", "--root-key", "keys/root.key", "--signing-key", "keys/signer.key", "--out", "trust/root.json"}},
		{say: "Check kit.yaml, then build the signed kit from the built-in documents.", args: []string{"mirror", "-f", "kit.yaml", "--check"}},
		{args: []string{"mirror", "-f", "kit.yaml", "-o", "acme-1.kit.tar.zst", "--key", "keys/signer.key"}},
		{say: "Same inputs, same bytes: build it again and compare.", args: []string{"mirror", "-f", "kit.yaml", "-o", "acme-1.again.kit.tar.zst", "--key", "keys/signer.key"}},
	}
	if err := play(ctx, dir, w, run, steps); err != nil {
		return err
	}
	a, err := os.ReadFile(filepath.Join(dir, "acme-1.kit.tar.zst"))
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(dir, "acme-1.again.kit.tar.zst"))
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return errors.New("the two builds differ: the kit is not reproducible")
	}
	fmt.Fprintf(w, "identical: %d bytes each\n", len(a))

	if err := tamper(filepath.Join(dir, "acme-1.kit.tar.zst"), filepath.Join(dir, "tampered.kit.tar.zst"), "docs/runbook.md"); err != nil {
		return err
	}
	steps = []step{
		{say: "Offline side: look inside (nothing is trusted yet).", args: []string{"inspect", "acme-1.kit.tar.zst"}},
		{say: "Verify the kit against the pinned root: signatures, every digest, expiry.", args: []string{"verify", "acme-1.kit.tar.zst", "--root", "trust/root.json", "--at", "2026-12-01T00:00:00Z"}},
		{say: "An attacker changed one line of docs/runbook.md in a copy: refused, exit 3.", args: []string{"verify", "tampered.kit.tar.zst", "--root", "trust/root.json", "--at", "2026-12-01T00:00:00Z"}, want: 3},
		{say: "The same good kit, carried too long (a freeze attack): refused once expired.", args: []string{"verify", "acme-1.kit.tar.zst", "--root", "trust/root.json", "--at", "2027-01-15T00:00:00Z"}, want: 3},
		{say: "Import it into the site's store: verified again while staged, then one atomic commit. The first import pins the root.", args: []string{"import", "acme-1.kit.tar.zst", "--store", "store", "--root", "trust/root.json", "--at", "2026-12-01T00:00:00Z", "--reason", "demo: the kits are made for a fixed date", "--operator", "demo"}},
		{say: "The next week's kit (version 2) is built and imported; trust now comes from the store.", args: []string{"mirror", "-f", "kit-2.yaml", "-o", "acme-2.kit.tar.zst", "--key", "keys/signer.key"}},
		{args: []string{"import", "acme-2.kit.tar.zst", "--store", "store", "--at", "2026-12-01T00:00:00Z", "--reason", "demo: the kits are made for a fixed date", "--operator", "demo"}},
		{say: "Someone brings the old kit back (a rollback attack): refused.", args: []string{"import", "acme-1.kit.tar.zst", "--store", "store", "--at", "2026-12-01T00:00:00Z", "--reason", "demo: the kits are made for a fixed date"}, want: 3},
		{say: "What the site has, how fresh it is, and the import receipts.", args: []string{"store", "info", "--store", "store", "--at", "2026-12-01T00:00:00Z"}},
		{args: []string{"store", "log", "--store", "store"}},
		{say: "Scan an application's SBOM offline against the imported advisories. npm has no advisory data: said loudly, never \"no vulnerabilities\".", args: []string{"scan", "sbom:sbom/app.cdx.json", "--store", "store", "--at", "2026-12-01T00:00:00Z"}},
		{say: "As a release check: a critical finding fails --fail-on high (exit 1).", args: []string{"scan", "sbom:sbom/app.cdx.json", "--store", "store", "--at", "2026-12-01T00:00:00Z", "--fail-on", "high"}, want: 1},
		{say: "The release gate under policy.yaml: blocked (exit 1), each blocking advisory and rule named; the decision record is written.", args: []string{"gate", "sbom:sbom/app.cdx.json", "--store", "store", "--policy", "policy.yaml", "--at", "2026-12-01T00:00:00Z", "-o", "decision.json"}, want: 1},
		{say: "Why, from the record alone.", args: []string{"gate", "explain", "decision.json"}},
		{say: "Replay it from the store: identical.", args: []string{"gate", "replay", "decision.json", "--store", "store"}},
		{say: "A Go-only service: two advisories block, the critical one and the one without a severity (fail closed).", args: []string{"gate", "sbom:sbom/service.cdx.json", "--store", "store", "--policy", "policy.yaml", "--at", "2026-12-01T00:00:00Z", "-o", "service-1.json"}, want: 1},
		{say: "Kit version 3 brings the vendor's VEX: httpx v2.3.0 is not_affected by CVE-2026-99002.", args: []string{"mirror", "-f", "kit-3.yaml", "-o", "acme-3.kit.tar.zst", "--key", "keys/signer.key"}},
		{args: []string{"import", "acme-3.kit.tar.zst", "--store", "store", "--at", "2026-12-01T00:00:00Z", "--reason", "demo: the kits are made for a fixed date", "--operator", "demo"}},
		{say: "The same gate again: still blocked, by the critical advisory alone.", args: []string{"gate", "sbom:sbom/service.cdx.json", "--store", "store", "--policy", "policy.yaml", "--at", "2026-12-01T00:00:00Z", "-o", "service-2.json"}, want: 1},
		{say: "What changed between the two decisions: exactly that one finding, on the vendor's word.", args: []string{"gate", "diff", "service-1.json", "service-2.json"}},
		{say: "The first decision still replays identical: the store kept kit version 2 (ferry store gc --keep N drops old versions).", args: []string{"gate", "replay", "decision.json", "--store", "store"}},
		{say: "A waiver for the rest, with a reason, an approver and an expiry: it passes, and the record is signed.", args: []string{"keys", "generate", "--out", "keys", "--name", "gate"}},
		{args: []string{"gate", "sbom:sbom/service.cdx.json", "--store", "store", "--policy", "policy-waiver.yaml", "--at", "2026-12-01T00:00:00Z", "-o", "service-3.json", "--sign", "keys/gate.key"}},
		{say: "The signature and the record check out.", args: []string{"gate", "verify", "service-3.intoto.jsonl", "--key", "keys/gate.pub", "--record", "service-3.json"}},
		{say: "Past the waiver's expiry the same service is blocked again; the record lists the waiver as expired.", args: []string{"gate", "sbom:sbom/service.cdx.json", "--store", "store", "--policy", "policy-waiver.yaml", "--at", "2026-12-20T00:00:00Z", "-o", "service-4.json"}, want: 1},
	}
	if err := play(ctx, dir, w, run, steps); err != nil {
		return err
	}
	if err := changeByte(filepath.Join(dir, "service-3.json"), filepath.Join(dir, "service-3.edited.json")); err != nil {
		return err
	}
	steps = []step{
		{say: "A copy of the signed record with one byte changed: refused, exit 3.", args: []string{"gate", "verify", "service-3.intoto.jsonl", "--key", "keys/gate.pub", "--record", "service-3.edited.json"}, want: 3},
		{say: "An image nobody signed, under a policy that requires the release key's signature: blocked, exit 3.", args: []string{"keys", "generate", "--out", "keys", "--name", "release"}},
		{args: []string{"gate", "oci:image", "--store", "store", "--policy", "policy-signed.yaml", "--at", "2026-12-01T00:00:00Z", "-o", "image.json"}, want: 3},
	}
	if err := play(ctx, dir, w, run, steps); err != nil {
		return err
	}
	fmt.Fprintln(w, "\ndemo complete: every step ended as expected")
	return nil
}

func play(ctx context.Context, dir string, w io.Writer, run Runner, steps []step) error {
	for _, s := range steps {
		if s.say != "" {
			fmt.Fprintf(w, "\n# %s\n", s.say)
		}
		fmt.Fprintf(w, "$ ferry %s\n", strings.Join(s.args, " "))
		if got := run(ctx, dir, s.args...); got != s.want {
			return fmt.Errorf("ferry %s: exit %d, want %d", strings.Join(s.args, " "), got, s.want)
		}
	}
	return nil
}

// changeByte copies the record at in to out with its verdict's first letter
// changed: one byte, the way a forged "pass" would start.
func changeByte(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	i := bytes.Index(data, []byte(`"verdict":"`))
	if i < 0 {
		return fmt.Errorf("%s: no verdict", in)
	}
	data[i+len(`"verdict":"`)] ^= 0x20
	return os.WriteFile(out, data, 0o644)
}

// tamper copies the kit at in to out, changing the content of entry name
// but nothing else: the signed metadata still claims the old digest.
func tamper(in, out, name string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		return err
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		return err
	}
	tr, tw := tar.NewReader(zr), tar.NewWriter(zw)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if h.Name == name {
			data = bytes.Replace(data, []byte("Only a kit that verifies"), []byte("Any kit, verified or not"), 1)
			found = true
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("tamper: %s not in the kit", name)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// writeImage writes a small OCI image layout at dir: one layer holding a
// README, no signature anywhere. The same bytes every time.
func writeImage(dir string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("acme-api, built without a signature\n")
	h := &tar.Header{Name: "app/README.txt", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0).UTC(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := tw.Write(body); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer))
	if err != nil {
		return err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
}
