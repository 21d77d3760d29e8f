package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-dev/ferry/htmlreport"
	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/internal/attestverify"
	"github.com/ferry-dev/ferry/internal/version"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/verify"
	"github.com/spf13/cobra"
)

func newVerifyCmd() *cobra.Command {
	var o struct {
		root, store, at, html string
		json, partOnly        bool
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
--store and --root, the root is used for a channel the store does not know;
for a channel it knows, a --root that is not the store's root of the same
version is refused (exit 3), never ignored.

With --html FILE the report is also written as one self-contained HTML page
to read on screen or print on A4: what the kit holds, who signed it, every
check and its result, and with --store what changed since the store's
version. It is written whether the kit passes or fails.

A kit written in parts (mirror --split) is verified from any of its parts
(KIT.001), or from KIT when only the parts are there: the signed part index
beside them (KIT.parts.json) is checked first, then that every part is there
with its size, then the parts are read in order as one stream, with no
reassembled copy. A missing or corrupt part is named by its file
(KIT_PART_MISSING, KIT_PART_INVALID, with the expected and the actual
sha256), and every other bad part is named too, so that only those are sent
again. --part-only checks the one part given against the signed index, e.g.
at a diode before the others arrive.

A delta kit (ferry mirror --base or --have) is checked on its own:
everything it carries, and the full kit's targets it stands for, signed by
the channel's keys; the report says which base it needs. With --store it
is also checked against the site: the store must hold exactly that base
(KIT_BASE_MISMATCH names the version it holds and the one needed) and
every content the delta leaves out (KIT_BLOB_MISSING names the digest).`,
		Example: `  ferry verify acme-1.kit.tar.zst --root trust/root.json
  ferry verify acme-1.kit.tar.zst --root trust/root.json --json
  ferry verify acme-1.kit.tar.zst --root trust/root.json --at 2026-12-20T00:00:00Z
  ferry verify acme-2.kit.tar.zst --store /srv/ferry
  ferry verify acme-2.kit.tar.zst --store /srv/ferry --html verify-report.html
  ferry verify acme-2.kit.tar.zst.001 --root trust/root.json
  ferry verify acme-2.kit.tar.zst.003 --part-only --root trust/root.json`,
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
			var st *store.Store
			vopts := verify.Options{At: at, Attestations: attestverify.Verifier{}}
			if o.store != "" {
				if st, err = store.Open(cmd.Context(), o.store, storeOptions(store.Options{ReadOnly: true})); err != nil {
					return err
				}
				src = st.TrustSource(cmd.Context(), rootData)
				vopts.Store = st.DeltaStore(cmd.Context())
			}
			var rep *verify.Report
			if set, n := partSet(args[0]); set != nil || o.partOnly {
				if err := partOnlyUsage(args[0], set); o.partOnly && err != nil {
					return err
				}
				rep, err = verifyParts(cmd.Context(), set, n, o.partOnly, src, vopts)
			} else {
				f, ferr := os.Open(args[0])
				if ferr != nil {
					return ferr
				}
				defer f.Close()
				r, endProgress := kitReadProgress(cmd.ErrOrStderr(), f, "verifying "+filepath.Base(args[0]))
				rep, err = verify.Kit(cmd.Context(), r, src, vopts)
				endProgress()
			}
			if errors.Is(err, store.ErrRootMismatch) {
				return verificationErr{fmt.Errorf("--root %s: %w", o.root, err)}
			}
			if err != nil {
				return err
			}
			if o.html != "" {
				if err := writeVerifyHTML(cmd, o.html, args[0], rep, o.root, o.store, st, at); err != nil {
					return err
				}
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
				return verificationErr{withKitAdvice(rep.Err(), "verify")}
			}
			return nil
		},
	}
	c.Flags().StringVar(&o.root, "root", "", "the channel root pinned out of band")
	c.Flags().StringVar(&o.store, "store", "", "verify against the trust state of this offline store (read only)")
	c.Flags().StringVar(&o.at, "at", "", "verify as of this time (RFC 3339) instead of now")
	c.Flags().BoolVar(&o.json, "json", false, "print the report as JSON (schema "+verify.ReportSchema+")")
	c.Flags().StringVar(&o.html, "html", "", "also write the report as a self-contained HTML page (screen and A4 print) to this file")
	c.Flags().BoolVar(&o.partOnly, "part-only", false, "check only the part given (KIT.NNN) against the signed part index")
	return c
}

// writeVerifyHTML writes the HTML report of a verification; with a store
// it adds what changed since the store's version of the kit's channel.
func writeVerifyHTML(cmd *cobra.Command, path, kitFile string, rep *verify.Report, rootFile, storeDir string, st *store.Store, at time.Time) error {
	in := htmlreport.VerifyInput{Kit: kitFile, Report: rep, FerryVersion: version.Version}
	switch {
	case st != nil && rootFile != "":
		in.Trust = fmt.Sprintf("the store %s (root %s for a channel it does not know)", storeDir, rootFile)
	case st != nil:
		in.Trust = "the store " + storeDir + " (the channel's last trusted root, timestamp and snapshot)"
	default:
		in.Trust = "the root " + rootFile + " pinned out of band"
	}
	if st != nil && rep.Channel != "" {
		info, err := st.Info(cmd.Context(), at)
		if err != nil {
			return err
		}
		sv := &htmlreport.StoreVersion{Dir: storeDir}
		for _, ch := range info.Channels {
			if ch.Channel != rep.Channel {
				continue
			}
			sv.Known, sv.Version, sv.Created, sv.TargetsSHA256 = true, ch.Version, ch.Created, ch.TargetsSHA256
			sv.Types = map[string]verify.TypeCount{}
			for _, t := range ch.Types {
				sv.Types[t.Type] = verify.TypeCount{Files: t.Files, Bytes: t.Bytes}
			}
		}
		in.Store = sv
	}
	if err := atomicfile.WriteFrom(path, 0o644, func(w io.Writer) error { return htmlreport.Verify(w, in) }); err != nil {
		return fmt.Errorf("--html %s: %w", path, err)
	}
	return nil
}

func newInspectCmd() *cobra.Command {
	var o struct{ json bool }
	c := &cobra.Command{
		Use:   "inspect KIT [--json]",
		Short: "Show what a kit holds, without verifying it",
		Long: `Show a kit's content by type, sizes, provenance, signer key ids and expiry,
as the kit claims them. inspect verifies NOTHING: use 'ferry verify' before
trusting a kit. A kit in parts is read from any of its parts (KIT.001).`,
		Example: `  ferry inspect acme-1.kit.tar.zst
  ferry inspect acme-1.kit.tar.zst --json | jq '.counts'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := openUnverified(args[0])
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
