package cli

import (
	"fmt"
	"os"

	"github.com/ferry-dev/ferry/internal/attestverify"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/verify"
	"github.com/spf13/cobra"
)

func newVerifyCmd() *cobra.Command {
	var o struct {
		root, store, at string
		json            bool
	}
	c := &cobra.Command{
		Use:   "verify KIT --root root.json | --store DIR [--at TIME] [--json]",
		Short: "Check a kit's signatures, every digest, expiry and rollback, offline",
		Long: `Verify a kit before it touches anything: the TUF metadata against the pinned
root (following the kit's root chain), then every content entry against the
signed targets, in one streaming pass with bounded memory. Every failure is
reported with the entry it concerns and a stable code (KIT_…). Exit 3 when
the kit fails.

With --store the trust comes from the site's store (the channel's last
trusted root, timestamp and snapshot): a kit older than the one imported is
refused with KIT_ROLLBACK. Nothing is written to the store. With both
--store and --root, the root is used for a channel the store does not know.

A delta kit (ferry mirror --base or --have) is checked on its own:
everything it carries, and the full kit's targets it stands for, signed by
the channel's keys; the report says which base it needs. With --store it
is also checked against the site: the store must hold exactly that base
(KIT_BASE_MISMATCH names the version it holds and the one needed) and
every content the delta leaves out (KIT_BLOB_MISSING names the digest).`,
		Example: `  ferry verify acme-1.kit.tar.zst --root trust/root.json
  ferry verify acme-1.kit.tar.zst --root trust/root.json --json
  ferry verify acme-1.kit.tar.zst --root trust/root.json --at 2026-12-20T00:00:00Z
  ferry verify acme-2.kit.tar.zst --store /srv/ferry`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.root == "" && o.store == "" {
				return usagef("--root or --store is required")
			}
			at, err := parseAt(o.at)
			if err != nil {
				return err
			}
			var rootData []byte
			if o.root != "" {
				if rootData, err = readRootFile(o.root); err != nil {
					return err
				}
			}
			src := verify.Static(verify.Trust{Root: rootData})
			vopts := verify.Options{At: at, Attestations: attestverify.Verifier{}}
			if o.store != "" {
				st, err := store.Open(cmd.Context(), o.store, storeOptions(store.Options{ReadOnly: true}))
				if err != nil {
					return err
				}
				src = st.TrustSource(cmd.Context(), rootData)
				vopts.Store = st.DeltaStore(cmd.Context())
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := verify.Kit(cmd.Context(), f, src, vopts)
			if err != nil {
				return err
			}
			if o.json {
				err = writeJSON(cmd.OutOrStdout(), rep)
			} else {
				err = rep.WriteText(cmd.OutOrStdout(), args[0])
			}
			if err != nil {
				return err
			}
			if !rep.OK {
				return verificationErr{rep.Err()}
			}
			return nil
		},
	}
	c.Flags().StringVar(&o.root, "root", "", "the channel root pinned out of band")
	c.Flags().StringVar(&o.store, "store", "", "verify against the trust state of this offline store (read only)")
	c.Flags().StringVar(&o.at, "at", "", "verify as of this time (RFC 3339) instead of now")
	c.Flags().BoolVar(&o.json, "json", false, "print the report as JSON (schema "+verify.ReportSchema+")")
	return c
}

func newInspectCmd() *cobra.Command {
	var o struct{ json bool }
	c := &cobra.Command{
		Use:   "inspect KIT [--json]",
		Short: "Show what a kit holds, without verifying it",
		Long: `Show a kit's content by type, sizes, provenance, signer key ids and expiry,
as the kit claims them. inspect verifies NOTHING: use 'ferry verify' before
trusting a kit.`,
		Example: `  ferry inspect acme-1.kit.tar.zst
  ferry inspect acme-1.kit.tar.zst --json | jq '.counts'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			in, err := kit.Inspect(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if o.json {
				return writeJSON(cmd.OutOrStdout(), in)
			}
			return in.WriteText(cmd.OutOrStdout(), now())
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print as JSON (schema "+kit.InspectSchema+")")
	return c
}
