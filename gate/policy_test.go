package gate

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func intp(n int) *int { return &n }

func TestParsePolicyContract(t *testing.T) {
	data, err := os.ReadFile("testdata/contract.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy("testdata/contract.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	want := Rules{Severity: "HIGH", KEV: true, Unknowns: Budget{Max: intp(10)}}
	if diff := cmp.Diff(want, p.Default); diff != "" {
		t.Errorf("default rules (-want +got):\n%s", diff)
	}
	prod, err := p.For("prod")
	if err != nil {
		t.Fatal(err)
	}
	want = Rules{Severity: "MEDIUM", KEV: true, Unknowns: Budget{Max: intp(0)}}
	if diff := cmp.Diff(want, prod); diff != "" {
		t.Errorf("prod inherits the default and overrides it (-want +got):\n%s", diff)
	}
	if len(p.Waivers) != 1 {
		t.Fatalf("waivers: %d", len(p.Waivers))
	}
	w := p.Waivers[0]
	if w.Vuln != "GO-2021-0113" || w.Product != "pkg:golang/golang.org/x/text" || !w.Expires.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) ||
		w.Reason != "not reachable, see ticket SEC-1234" || w.Approver != "security@example.com" || w.Line != 12 {
		t.Errorf("waiver: %+v", w)
	}
	if _, err := p.For("staging"); err == nil || !strings.Contains(err.Error(), `no environment "staging" (it has prod)`) {
		t.Errorf("unknown environment: %v", err)
	}
	if !strings.HasPrefix(p.Digest, "sha256:") || len(p.Digest) != 71 {
		t.Errorf("digest %q", p.Digest)
	}
}

func TestParsePolicyFull(t *testing.T) {
	src := `apiVersion: ferry.dev/policy/v1
default:
  block: {severity: critical, kev: false, epss: 0.2}
  unknowns: {max: 5, critical: 0, high: 1}
  vex: {analysis: true}
  signatures:
    - key: keys/cosign.pub
    - identity: https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main
      issuer: https://token.actions.githubusercontent.com
  attestations:
    - predicateType: https://slsa.dev/provenance/v1
      key: keys/builder.pub
  maxAge: {advisories: 7d, vex: 36h}
environments:
  dev:
    block: {severity: none, epss: off}
    signatures: []
    maxAge: {advisories: 30d}
waivers:
  - vuln: CVE-2023-1
    package: openssl
    expires: 2027-06-01T00:00:00Z
    reason: r
    approver: a
    environments: [dev]
`
	p, err := ParsePolicy("/etc/ferry/policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	d := p.Default
	if d.Severity != "CRITICAL" || d.KEV || d.EPSS == nil || *d.EPSS != 0.2 || !d.AnalysisMaySuppress {
		t.Errorf("default block: %+v", d)
	}
	if diff := cmp.Diff(map[string]int{"CRITICAL": 0, "HIGH": 1}, d.Unknowns.PerSeverity); diff != "" {
		t.Error(diff)
	}
	if len(d.Signatures) != 2 || d.Signatures[0].KeyPath != "/etc/ferry/keys/cosign.pub" || d.Signatures[1].Issuer != "https://token.actions.githubusercontent.com" {
		t.Errorf("signatures: %+v", d.Signatures)
	}
	if len(d.Attestations) != 1 || d.Attestations[0].PredicateType != "https://slsa.dev/provenance/v1" {
		t.Errorf("attestations: %+v", d.Attestations)
	}
	dev := p.Environments["dev"]
	if dev.Severity != "" || dev.EPSS != nil || len(dev.Signatures) != 0 || len(dev.Attestations) != 1 {
		t.Errorf("dev overrides: %+v", dev)
	}
	if time.Duration(dev.MaxAge["advisories"]) != 30*24*time.Hour || time.Duration(dev.MaxAge["vex"]) != 36*time.Hour {
		t.Errorf("dev maxAge: %v", dev.MaxAge)
	}
	if d.MaxAge["advisories"] != Duration(7*24*time.Hour) {
		t.Errorf("the default must not change when an environment overrides: %v", d.MaxAge)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // each must appear, in order, with its line
	}{
		{"unknown top key", "apiVersion: ferry.dev/policy/v1\nwaiver: []\n", []string{`p.yaml:2: waiver: unknown key "waiver"`}},
		{"unknown nested key", "apiVersion: ferry.dev/policy/v1\ndefault:\n  block:\n    severity: high\n    cvss: 7\n", []string{`p.yaml:5: default.block.cvss: unknown key "cvss"`}},
		{"no apiVersion", "default: {}\n", []string{"apiVersion: missing"}},
		{"wrong apiVersion", "apiVersion: ferry.dev/policy/v2\n", []string{`"ferry.dev/policy/v2" is not supported`}},
		{"bad severity", "apiVersion: ferry.dev/policy/v1\ndefault: {block: {severity: severe}}\n", []string{`p.yaml:2: default.block.severity: "severe" is not a severity`}},
		{"bad kev", "apiVersion: ferry.dev/policy/v1\ndefault: {block: {kev: yes please}}\n", []string{"default.block.kev: must be true or false"}},
		{"bad epss", "apiVersion: ferry.dev/policy/v1\ndefault: {block: {epss: 2}}\n", []string{"default.block.epss: must be a probability"}},
		{"negative budget", "apiVersion: ferry.dev/policy/v1\ndefault: {unknowns: {max: -1}}\n", []string{"default.unknowns.max: must be a whole number"}},
		{"bad duration", "apiVersion: ferry.dev/policy/v1\ndefault: {maxAge: {advisories: soon}}\n", []string{"default.maxAge.advisories: must be a positive duration"}},
		{"unknown data kind", "apiVersion: ferry.dev/policy/v1\ndefault: {maxAge: {sboms: 1d}}\n", []string{`default.maxAge.sboms: unknown key "sboms"`}},
		{"signature without signer", "apiVersion: ferry.dev/policy/v1\ndefault: {signatures: [{}]}\n", []string{"default.signatures[0]: name the signer"}},
		{"keyless without issuer", "apiVersion: ferry.dev/policy/v1\ndefault: {signatures: [{identity: me}]}\n", []string{"needs both identity"}},
		{"key and identity", "apiVersion: ferry.dev/policy/v1\ndefault: {signatures: [{key: k.pub, identity: me, issuer: i}]}\n", []string{"either key, or identity and issuer"}},
		{"attestation without type", "apiVersion: ferry.dev/policy/v1\ndefault: {attestations: [{key: k.pub}]}\n", []string{"default.attestations[0].predicateType: missing"}},
		{"bad environment name", "apiVersion: ferry.dev/policy/v1\nenvironments: {'pr od': {}}\n", []string{"is not a valid environment name"}},
		{"duplicate key", "apiVersion: ferry.dev/policy/v1\ndefault: {}\ndefault: {}\n", []string{"p.yaml:3"}},
		{"waiver missing fields", "apiVersion: ferry.dev/policy/v1\nwaivers:\n  - vuln: CVE-1\n    product: pkg:npm/x\n", []string{
			"p.yaml:3: waivers[0].expires: missing", "p.yaml:3: waivers[0].reason: missing", "p.yaml:3: waivers[0].approver: missing"}},
		{"waiver bad expiry", "apiVersion: ferry.dev/policy/v1\nwaivers:\n  - {vuln: CVE-1, product: pkg:npm/x, expires: tomorrow, reason: r, approver: a}\n", []string{`"tomorrow" is not an RFC 3339 time`}},
		{"waiver without product", "apiVersion: ferry.dev/policy/v1\nwaivers:\n  - {vuln: CVE-1, expires: 2027-01-01T00:00:00Z, reason: r, approver: a}\n", []string{"product (a purl) or package"}},
		{"waiver product not purl", "apiVersion: ferry.dev/policy/v1\nwaivers:\n  - {vuln: CVE-1, product: golang.org/x/text, expires: 2027-01-01T00:00:00Z, reason: r, approver: a}\n", []string{"is not a purl"}},
		{"waiver unknown environment", "apiVersion: ferry.dev/policy/v1\nwaivers:\n  - {vuln: CVE-1, package: x, expires: 2027-01-01T00:00:00Z, reason: r, approver: a, environments: [prod]}\n", []string{`p.yaml:3: waivers.environments: environment "prod" is not defined`}},
		{"not yaml", "apiVersion: [\n", []string{"not valid YAML"}},
		{"not a mapping", "- a\n", []string{"must be a YAML mapping"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy("p.yaml", []byte(tc.src))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("error %v is not ErrInvalidPolicy", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	data, _ := os.ReadFile("testdata/contract.yaml")
	f.Add(data)
	f.Add([]byte("apiVersion: ferry.dev/policy/v1\ndefault: {unknowns: {high: 1}, maxAge: {vex: 1d}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy("fuzz.yaml", b)
		if err != nil {
			var pe PolicyErrors
			if !errors.As(err, &pe) || len(pe) == 0 {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for env := range p.Environments {
			if _, err := p.For(env); err != nil {
				t.Fatal(err)
			}
		}
	})
}
