package cli

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-dev/ferry/gate"
	"github.com/ferry-dev/ferry/gatesite"
	"github.com/ferry-dev/ferry/htmlreport"
	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/internal/version"
	"github.com/ferry-dev/ferry/store"
	"github.com/spf13/cobra"
)

type gateOptions struct {
	store, policy, env, at, sign, out, release, vex, issuers, html string
	json                                                           bool
	attach                                                         attachFlags
}

func newGateCmd() *cobra.Command {
	o := &gateOptions{}
	c := &cobra.Command{
		Use:   "gate TARGET --store DIR --policy FILE [-o decision.json]",
		Short: "Decide pass or block for a release under a policy, offline, with a record that says why",
		Long: `Gate an image before it is promoted. The image (sha256:… of an image in
the store, oci:DIR[@digest], docker-archive:FILE) is scanned against the
store's advisories, each finding gets its VEX consensus, required
signatures and attestations are checked offline against what the kits
carried, and every rule of the policy (docs/policy.md) is evaluated.

The decision record (-o) is canonical JSON (RFC 8785); its sha256 is the
decision id. With --sign the record is also written as an in-toto
Statement in a DSSE envelope beside it (decision.json →
decision.intoto.jsonl), which cosign verify-blob-attestation accepts.

With --release FILE every image the release lists is gated; -o is then a
directory that receives one record per image and release.json.

Exit codes: 0 pass, 1 block, 2 usage or invalid policy, 3 a required
signature or attestation missing or bad, 4 other error.`,
		Example: `  ferry gate sha256:3f… --store /srv/ferry --policy policy.yaml --env prod -o decision.json
  ferry gate oci:./build/app --store /srv/ferry --policy policy.yaml --sign keys/gate.key -o decision.json --html decision.html
  ferry gate --release release.yaml --store /srv/ferry --policy policy.yaml -o decisions/
  ferry gate explain decision.json
  ferry gate replay decision.json --store /srv/ferry`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	f := c.Flags()
	f.StringVar(&o.store, "store", "", "the offline store")
	f.StringVar(&o.policy, "policy", "", "the gate policy (YAML, ferry.dev/policy/v1)")
	f.StringVar(&o.env, "env", "", "the policy environment (default: the policy's default rules)")
	f.StringVar(&o.at, "at", "", "evaluation time, RFC 3339 (default: now; recorded)")
	f.StringVar(&o.sign, "sign", "", "sign the record with this private key (file or env:VAR)")
	f.StringVarP(&o.out, "output", "o", "", "write the decision record here (a directory with --release)")
	f.StringVar(&o.release, "release", "", "gate every image of a release file (ferry.dev/release/v1)")
	f.StringVar(&o.vex, "vex", "", "a directory of the site's own OpenVEX statements (issuer local, tier self)")
	f.StringVar(&o.issuers, "issuers", "", "override the kits' VEX issuer tiers")
	f.BoolVar(&o.json, "json", false, "print the decision record instead of the explanation")
	f.StringVar(&o.html, "html", "", "also write the decision as a self-contained HTML page (as gate explain --html)")
	o.attach.add(f)
	c.AddCommand(newGateExplainCmd(), newGateReplayCmd(), newGateVerifyCmd(), newGateDiffCmd())
	return c
}

func (o *gateOptions) run(cmd *cobra.Command, args []string) error {
	switch {
	case o.store == "":
		return usagef("--store DIR is required")
	case o.policy == "":
		return usagef("--policy FILE is required")
	case o.release == "" && len(args) == 0:
		return usagef("name the image to gate (sha256:…, oci:DIR, docker-archive:FILE) or give --release FILE")
	case o.release != "" && len(args) > 0:
		return usagef("give an image or --release, not both")
	case o.release != "" && o.out == "":
		return usagef("--release needs -o DIR for the records")
	case o.release != "" && o.html != "":
		return usagef("--html is for one image; run ferry gate explain RECORD --html FILE for each record of a release")
	case o.release != "" && o.attach.repo != "":
		return usagef("--attach is for one image; attach a release's decisions image by image")
	}
	at, err := parseAt(o.at)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(o.policy)
	if err != nil {
		return err
	}
	pol, err := gate.ParsePolicy(o.policy, data)
	if err != nil {
		return usageErr{err}
	}
	if _, err := pol.For(o.env); err != nil {
		return usageErr{err}
	}
	var signKey crypto.Signer
	if o.sign != "" {
		if signKey, err = loadPrivateKey(o.sign); err != nil {
			return err
		}
	}
	ctx := cmd.Context()
	st, err := store.Open(ctx, o.store, storeOptions(store.Options{ReadOnly: true}))
	if err != nil {
		return err
	}
	opts := gatesite.Options{Environment: o.env, At: at, FerryVersion: version.Version, VEXDir: o.vex, IssuersFile: o.issuers}
	out := cmd.OutOrStdout()
	if o.release != "" {
		return o.runRelease(cmd, st, pol, opts, signKey)
	}
	rec, err := gatesite.Decide(ctx, st, args[0], pol, opts)
	if err != nil {
		return err
	}
	canon, err := rec.Marshal()
	if err != nil {
		return err
	}
	if o.out != "" {
		if err := writeDecision(o.out, rec, canon, signKey); err != nil {
			return err
		}
	}
	if err := o.attach.push(cmd, rec, canon, signKey); err != nil {
		return err
	}
	if o.html != "" {
		if err := writeDecisionHTML(o.html, recordName(o.out), rec, canon); err != nil {
			return err
		}
	}
	if o.json {
		if _, err := out.Write(append(canon, '\n')); err != nil {
			return err
		}
	} else if err := gate.Explain(out, rec, canon, "text", recordName(o.out)); err != nil {
		return err
	}
	return verdictErr(rec.Verdict, rec.VerificationFailed())
}

func (o *gateOptions) runRelease(cmd *cobra.Command, st *store.Store, pol *gate.Policy, opts gatesite.Options, signKey crypto.Signer) error {
	data, err := os.ReadFile(o.release)
	if err != nil {
		return err
	}
	rel, err := gatesite.ParseRelease(o.release, data)
	if err != nil {
		return usageErr{err}
	}
	d, err := gatesite.DecideRelease(cmd.Context(), st, rel, pol, opts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	verification := false
	w := cmd.OutOrStdout()
	width := len(fmt.Sprint(len(d.Images)))
	for i, im := range d.Images {
		rec := d.Records[i]
		hex := strings.TrimPrefix(im.Digest, "sha256:")
		if len(hex) > 12 {
			hex = hex[:12]
		}
		name := filepath.Join(o.out, fmt.Sprintf("%0*d-%s.json", width, i+1, hex))
		if err := writeDecision(name, rec, d.Canon[im.Decision], signKey); err != nil {
			return err
		}
		verification = verification || im.Verification
		fmt.Fprintf(w, "%-5s %s  %s  %s\n", strings.ToUpper(im.Verdict), im.Target, im.Decision, name)
		for _, r := range rec.Reasons {
			fmt.Fprintf(w, "      %s\n", r)
		}
	}
	if err := atomicfile.WriteFrom(filepath.Join(o.out, "release.json"), 0o644, func(w io.Writer) error { return writeJSON(w, d) }); err != nil {
		return err
	}
	fmt.Fprintf(w, "release %s: %s (%d images)\n", d.Name, strings.ToUpper(d.Verdict), len(d.Images))
	return verdictErr(d.Verdict, verification)
}

// writeDecision writes the record and, with a key, its signed envelope
// beside it: decision.json → decision.intoto.jsonl. The file holds exactly
// the canonical bytes (no newline), so that its sha256 is the decision id
// and the envelope's "decision" subject: cosign verify-blob-attestation
// checks the file against it.
func writeDecision(path string, rec *gate.Record, canon []byte, key crypto.Signer) error {
	if err := atomicfile.WriteFile(path, canon, 0o644); err != nil {
		return err
	}
	if key == nil {
		return nil
	}
	env, err := gate.Sign(key, rec, canon)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(envelopePath(path), env, 0o644)
}

// envelopePath names the signed envelope of a record file as cosign names
// attestations.
func envelopePath(record string) string {
	return strings.TrimSuffix(record, filepath.Ext(record)) + ".intoto.jsonl"
}

func recordName(out string) string {
	if out == "" {
		return "decision.json"
	}
	return out
}

// verdictErr maps a verdict to the exit code: block is 1, a failed
// signature or attestation check 3.
func verdictErr(verdict string, verification bool) error {
	switch {
	case verification:
		return verificationErr{errors.New("gate: blocked, a required signature or attestation is missing or does not verify")}
	case verdict == gate.VerdictBlock:
		return blockedErr{errors.New("gate: blocked")}
	}
	return nil
}

func readRecord(path string) (*gate.Record, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	rec, err := gate.ParseRecord(data)
	if err != nil {
		return nil, nil, verificationErr{fmt.Errorf("%s: %w", path, err)}
	}
	canon, err := rec.Marshal()
	if err != nil {
		return nil, nil, err
	}
	return rec, canon, nil
}

func newGateExplainCmd() *cobra.Command {
	var format, html string
	var asJSON bool
	c := &cobra.Command{
		Use:   "explain RECORD [--format text|markdown|json | --json] [--html FILE]",
		Short: `Say in plain words why a decision passed or blocked ("why blocked?")`,
		Long: `Explain a decision record: the verdict, each blocking rule with its
numbers, each blocking finding (advisory, package, version, fixed version,
severity, KEV/EPSS, its VEX consensus and on whose word), the waiver that
would let it pass, and the command that replays the decision. Markdown is
for a ticket; json prints the record itself.

With --html FILE the decision is also written as one self-contained HTML
page to read on screen or print on A4: the verdict, every rule, the
blocking findings, and the evidence chain from the image through the
record and its signed envelope (decision.intoto.jsonl beside the record,
if any) down to the signed kits the data came from.`,
		Example: `  ferry gate explain decision.json
  ferry gate explain decision.json --format markdown > ticket.md
  ferry gate explain decision.json --html decision.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON {
				if cmd.Flags().Changed("format") && format != "json" {
					return usagef("--json and --format %s contradict each other", format)
				}
				format = "json"
			}
			if format != "text" && format != "markdown" && format != "json" {
				return usagef("--format %q: want text, markdown or json", format)
			}
			rec, canon, err := readRecord(args[0])
			if err != nil {
				return err
			}
			if html != "" {
				if err := writeDecisionHTML(html, args[0], rec, canon); err != nil {
					return err
				}
			}
			switch format {
			case "json":
				_, err = cmd.OutOrStdout().Write(append(canon, '\n'))
				return err
			case "text", "markdown":
				return gate.Explain(cmd.OutOrStdout(), rec, canon, format, args[0])
			}
			return usagef("--format %q: want text, markdown or json", format)
		},
	}
	c.Flags().StringVar(&format, "format", "text", "text, markdown or json")
	c.Flags().BoolVar(&asJSON, "json", false, "print the record itself (the same as --format json)")
	c.Flags().StringVar(&html, "html", "", "also write the decision as a self-contained HTML page (screen and A4 print) to this file")
	return c
}

// writeDecisionHTML writes the HTML report of a decision record, naming
// the signed envelope beside it when there is one.
func writeDecisionHTML(path, recordFile string, rec *gate.Record, canon []byte) error {
	in := htmlreport.DecisionInput{Record: rec, Canonical: canon, RecordFile: recordFile, FerryVersion: version.Version}
	if env := envelopePath(recordFile); env != recordFile {
		if _, err := os.Stat(env); err == nil {
			in.Envelope = env
		}
	}
	if err := atomicfile.WriteFrom(path, 0o644, func(w io.Writer) error { return htmlreport.Decision(w, in) }); err != nil {
		return fmt.Errorf("--html %s: %w", path, err)
	}
	return nil
}

func newGateReplayCmd() *cobra.Command {
	var dir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "replay RECORD --store DIR",
		Short: "Re-evaluate a decision against the store: identical, or exactly what differs",
		Long: `Replay a decision: the same subject, policy (embedded in the record),
environment, site files and evaluation time, against the store at the kit
versions the record names. An import keeps the kits it replaces until
'ferry store gc --keep N' drops them, so a decision replays after newer
kits were imported. Prints "identical" (exit 0), with the kits imported
since as information ("inputs changed: channel X v41 → v42"), or what
differs. When the inputs are no longer the record's (a recorded kit
version gone from the store, another ferry version, changed --vex files)
the decision cannot be reproduced: exit 1. When the inputs are the
record's own and the outcome is not, or the record is not in canonical
form, the record was edited: exit 3.`,
		Example: `  ferry gate replay decision.json --store /srv/ferry`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("--store DIR is required")
			}
			rec, canon, err := readRecord(args[0])
			if err != nil {
				return err
			}
			st, err := store.Open(cmd.Context(), dir, storeOptions(store.Options{ReadOnly: true}))
			if err != nil {
				return err
			}
			r, err := gatesite.ReplayRecord(cmd.Context(), st, rec, canon, version.Version)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(w, replayJSON(r, canon)); err != nil {
					return err
				}
			} else {
				switch {
				case r.Identical:
					fmt.Fprintf(w, "identical: %s\n", gate.ID(canon))
					if len(r.Since) > 0 {
						fmt.Fprintf(w, "inputs changed: %s (replayed at the recorded versions)\n", strings.Join(r.Since, "; "))
					}
				case len(r.InputsChanged) > 0:
					fmt.Fprintf(w, "inputs changed: %s\n", strings.Join(r.InputsChanged, "; "))
				default:
					fmt.Fprintf(w, "differs, with the record's own inputs: the record was edited\n")
				}
				for _, p := range r.Pointers {
					fmt.Fprintf(w, "  %s\n", p)
				}
			}
			switch {
			case r.Identical:
				return nil
			case r.Tampered():
				return verificationErr{fmt.Errorf("%s: %w: it differs from what its own inputs give", args[0], gate.ErrRecordTampered)}
			}
			return blockedErr{fmt.Errorf("%s: inputs changed since the decision: %s", args[0], strings.Join(r.InputsChanged, "; "))}
		},
	}
	c.Flags().StringVar(&dir, "store", "", "the offline store")
	c.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	return c
}

type replayOutcome struct {
	Schema        string   `json:"schema"`
	Decision      string   `json:"decision"`
	Replayed      string   `json:"replayed"`
	Identical     bool     `json:"identical"`
	InputsChanged []string `json:"inputsChanged"`
	// Since lists the kits imported since the decision; the replay read
	// the recorded versions.
	Since    []string `json:"since"`
	Pointers []string `json:"pointers"`
}

func replayJSON(r *gatesite.Replay, canon []byte) replayOutcome {
	o := replayOutcome{Schema: "https://ferry.dev/gate/replay/v1", Decision: gate.ID(canon), Identical: r.Identical,
		InputsChanged: r.InputsChanged, Since: r.Since, Pointers: r.Pointers}
	if r.Canonical != nil {
		o.Replayed = gate.ID(r.Canonical)
	}
	if o.InputsChanged == nil {
		o.InputsChanged = []string{}
	}
	if o.Pointers == nil {
		o.Pointers = []string{}
	}
	if o.Since == nil {
		o.Since = []string{}
	}
	return o
}

func newGateVerifyCmd() *cobra.Command {
	var keyFile, recordFile string
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify ENVELOPE --key PUB [--record decision.json] [--json]",
		Short: "Check a signed decision (DSSE envelope) and, if given, its record file",
		Long: `Verify a signed decision written by ferry gate --sign: the DSSE signature
with the public key, the in-toto statement, the record's canonical form
and that the statement names the record (its decision id). With --record
the record file must be exactly the signed record. Exit 3 on any failure.`,
		Example: `  ferry gate verify decision.intoto.jsonl --key keys/gate.pub --record decision.json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return usagef("--key PUB is required")
			}
			pub, err := loadPublicKey(keyFile)
			if err != nil {
				return err
			}
			env, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			v, err := gate.VerifyEnvelope(env, pub)
			if err != nil {
				return verificationErr{fmt.Errorf("%s: %w", args[0], err)}
			}
			if recordFile != "" {
				data, err := os.ReadFile(recordFile)
				if err != nil {
					return err
				}
				if err := v.CheckRecordFile(data); err != nil {
					return verificationErr{fmt.Errorf("%s: %w", recordFile, err)}
				}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), struct {
					Schema   string `json:"schema"`
					Verified bool   `json:"verified"`
					Decision string `json:"decision"`
					Verdict  string `json:"verdict"`
					Subject  string `json:"subject"`
					Record   string `json:"record,omitempty"`
				}{"https://ferry.dev/gate/verify/v1", true, v.ID, v.Record.Verdict, v.Record.Inputs.Subject.Digest, recordFile})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "verified: decision %s, verdict %s, subject %s\n", v.ID, v.Record.Verdict, v.Record.Inputs.Subject.Digest)
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print what verified as JSON (a failure prints nothing on stdout and exits 3)")
	c.Flags().StringVar(&keyFile, "key", "", "the gate's public key")
	c.Flags().StringVar(&recordFile, "record", "", "the record file to compare with the signed record")
	return c
}

func newGateDiffCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "diff OLD NEW [--json]",
		Short: "What changed between two decisions: findings, consensus, rule outcomes",
		Long: `Compare two decision records (the same image over time, or two images):
inputs that changed (channel versions, policy, environment, time), findings
added and removed, findings whose consensus, deciding statement, severity
or waiver changed, and rules whose outcome or numbers changed.`,
		Example: `  ferry gate diff yesterday.json today.json
  ferry gate diff yesterday.json today.json --json | jq .changed`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			oldRec, oldCanon, err := readRecord(args[0])
			if err != nil {
				return err
			}
			newRec, newCanon, err := readRecord(args[1])
			if err != nil {
				return err
			}
			d := gate.Compare(oldRec, newRec, oldCanon, newCanon)
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), d)
			}
			return gate.WriteDiff(cmd.OutOrStdout(), d)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the diff as JSON")
	return c
}
