package cli

import (
	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/storescan"
	"github.com/ferry-dev/ferry/vex/consensus"
	"github.com/ferry-dev/ferry/vexsite"
	"github.com/spf13/cobra"
)

type vexOptions struct {
	store, vuln, product, within, local, issuers, at string
	json                                             bool
	out                                              string
	// evidence is a scan target whose Go symbol evidence gives tool
	// statements (issuer ferry:symbols, tier analysis); "" for none.
	evidence string
}

func (o *vexOptions) addFlags(c *cobra.Command, filters bool) {
	c.Flags().StringVar(&o.store, "store", "", "the store directory (VEX documents, attestations and trust/issuers.json of imported kits)")
	c.Flags().StringVar(&o.local, "vex", "", "a directory of the site's own OpenVEX files (issuer local, tier self)")
	c.Flags().StringVar(&o.issuers, "issuers", "", "a local issuers file (YAML or trust/issuers.json form) overriding the kits' entries of the same id")
	c.Flags().StringVar(&o.at, "at", "", "evaluation time (RFC 3339); statements dated later are dropped; default now, recorded in the output")
	if filters {
		c.Flags().StringVar(&o.vuln, "vuln", "", "a vulnerability id or alias (CVE-…, GHSA-…, GO-…)")
		c.Flags().StringVar(&o.product, "product", "", "a product: purl (without a version: every version), image digest or id")
		c.Flags().StringVar(&o.within, "within", "", "the product --product is part of (an image digest or purl), for statements about subcomponents")
	}
}

func newVEXCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "vex",
		Short: "VEX consensus: one explained status per (vulnerability, product)",
		Long: `The VEX statements carried across the air gap (OpenVEX documents, CSAF
product statuses, verified OCI attestations), the site's own (--vex DIR) and the
issuer tiers of trust/issuers.json decide, per (vulnerability, product), one
status with the algorithm ` + consensus.Algorithm + ` (docs/vex-consensus.md): the most
trusted tier with an affected, not_affected or fixed statement decides;
disagreement inside it is a conflict, resolved conservatively; nothing said is
unknown.`,
		Example: `  ferry vex consensus --store /srv/ferry
  ferry vex consensus --store /srv/ferry --vuln CVE-2024-24557 --json
  ferry vex explain --store /srv/ferry --vuln CVE-2024-24557 --product pkg:golang/github.com/docker/docker
  ferry vex export --store /srv/ferry --vex ./our-vex -o merged.openvex.json`,
	}
	c.AddCommand(newVEXConsensusCmd(), newVEXExplainCmd(), newVEXExportCmd())
	return c
}

func newVEXConsensusCmd() *cobra.Command {
	o := &vexOptions{}
	c := &cobra.Command{
		Use:   "consensus --store DIR [--vuln ID] [--product PURL] [--vex DIR] [--at T] [--json]",
		Short: "The consensus status of every (vulnerability, product), or of those selected",
		Long: `Consensus prints one line per (vulnerability, product): status, justification and
the deciding issuer with its tier. With both --vuln and --product it decides exactly
that pair (unknown when nothing is said about it); otherwise it lists every pair
the statements name that the filters select.

--json writes canonical JSON (RFC 8785, schema ` + consensus.Schema + `) with every
statement considered and dropped.`,
		Example: `  ferry vex consensus --store /srv/ferry
  ferry vex consensus --store /srv/ferry --product pkg:golang/github.com/aquasecurity/trivy --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := o.run(cmd)
			if err != nil {
				return err
			}
			if o.json {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	o.addFlags(c, true)
	c.Flags().BoolVar(&o.json, "json", false, "canonical JSON (RFC 8785)")
	return c
}

func newVEXExplainCmd() *cobra.Command {
	o := &vexOptions{}
	c := &cobra.Command{
		Use:   "explain --store DIR --vuln ID --product PURL",
		Short: "Every statement considered for one (vulnerability, product), and why it won or lost",
		Long: `Explain decides one (vulnerability, product) and lists every statement that applied:
issuer, tier, status, justification, time, source document, and its role — DECIDES,
AGREES, CONFLICTS, DISSENT, CONCURS, INVESTIGATING — or DROPPED with its reason code
(UNKNOWN_STATUS, NOT_AFFECTED_UNJUSTIFIED, INVALID_JUSTIFICATION, INVALID_PRODUCT,
SIGNATURE_REQUIRED, SUPERSEDED, FUTURE_STATEMENT).

--evidence TARGET scans TARGET (as ferry scan --evidence does) and adds the
statements its Go symbol evidence gives: issuer ferry:symbols, tier analysis,
not_affected where the module or package is in the binary but none of the
vulnerable symbols. They are about the package within TARGET's image digest:
--within defaults to it.`,
		Example: `  ferry vex explain --store /srv/ferry --vuln GO-2024-2575 --product pkg:golang/helm.sh/helm/v3 \
      --within pkg:golang/github.com/aquasecurity/trivy
  ferry vex explain --store /srv/ferry --vuln GO-2025-3487 --product pkg:golang/golang.org/x/crypto@v0.31.0 \
      --evidence docker-archive:app.tar`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.vuln == "" || o.product == "" {
				return usagef("explain needs --vuln and --product")
			}
			rep, err := o.run(cmd)
			if err != nil {
				return err
			}
			if o.json {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteExplain(cmd.OutOrStdout())
		},
	}
	o.addFlags(c, true)
	c.Flags().BoolVar(&o.json, "json", false, "canonical JSON (RFC 8785)")
	c.Flags().StringVar(&o.evidence, "evidence", "", "a scan target (sha256:…, oci:DIR, docker-archive:FILE, dir:DIR) whose Go symbol evidence adds ferry:symbols statements (tier analysis)")
	return c
}

func newVEXExportCmd() *cobra.Command {
	o := &vexOptions{}
	c := &cobra.Command{
		Use:   "export --store DIR [--product PURL] [--vex DIR] -o merged.openvex.json",
		Short: "Write the consensus as one OpenVEX v0.2.0 document",
		Long: `Export writes one OpenVEX v0.2.0 document with one statement per (vulnerability,
product) that has a status: the consensus status (a conflict as its conservative
resolution), the deciding issuer, its tier and the algorithm in status_notes.
Unknown pairs are left out. The same store gives the same bytes.`,
		Example: `  ferry vex export --store /srv/ferry -o merged.openvex.json
  ferry vex export --store /srv/ferry --product pkg:oci/app@sha256:… -o app.openvex.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.out == "" {
				return usagef("export needs -o FILE (- for standard output)")
			}
			rep, err := o.run(cmd)
			if err != nil {
				return err
			}
			doc, err := rep.OpenVEX()
			if err != nil {
				return err
			}
			if o.out == "-" {
				_, err := cmd.OutOrStdout().Write(doc)
				return err
			}
			return atomicfile.WriteFile(o.out, doc, 0o644)
		},
	}
	o.addFlags(c, false)
	c.Flags().StringVar(&o.product, "product", "", "export only the products this selects (a purl without a version: every version)")
	c.Flags().StringVarP(&o.out, "output", "o", "", "the file to write (- for standard output)")
	return c
}

// run loads the site's VEX and decides.
func (o *vexOptions) run(cmd *cobra.Command) (*consensus.Report, error) {
	if o.store == "" {
		return nil, usagef("--store DIR is required")
	}
	at, err := parseAt(o.at)
	if err != nil {
		return nil, err
	}
	ctx := cmd.Context()
	st, err := store.Open(ctx, o.store, storeOptions(store.Options{ReadOnly: true}))
	if err != nil {
		return nil, err
	}
	var rep *consensus.Report
	decide := func(r *store.Reader, analysis []consensus.Input, within string) error {
		site, err := vexsite.Load(ctx, r, r, r, vexsite.Options{LocalDir: o.local, IssuersFile: o.issuers, At: at, Analysis: analysis})
		if err != nil {
			return err
		}
		rep = site.Report(vexsite.Filter{Vuln: o.vuln, Product: o.product, Within: within})
		return nil
	}
	if o.evidence != "" {
		if _, err := scan.ParseTarget(o.evidence); err != nil {
			return nil, usageErr{err}
		}
		_, err := storescan.Scan(ctx, st, o.evidence, scan.Options{Evidence: true, Time: at}, func(r *store.Reader, sr *scan.Report) error {
			within := o.within
			if within == "" {
				within = sr.Target.Digest
			}
			return decide(r, vexsite.SymbolStatements(sr), within)
		})
		return rep, err
	}
	err = st.View(ctx, func(r *store.Reader) error { return decide(r, nil, o.within) })
	return rep, err
}
