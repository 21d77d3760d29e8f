package cli

import (
	"fmt"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/keys"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/trust"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/cobra"
)

func newMirrorCmd() *cobra.Command {
	var o struct {
		spec, out, root     string
		split               string
		cache               string
		keys                []string
		check, json, noProg bool
		allowExpired        bool
		base, have          string
	}
	c := &cobra.Command{
		Use:   "mirror -f kit.yaml -o OUT.kit.tar.zst --key SIGNING_KEY",
		Short: "Fetch what kit.yaml names and pack it into one deterministic, signed kit",
		Long: `Fetch every source that kit.yaml names and write one signed kit file.

The channel root is --root, else the root named in kit.yaml, else
trust/root.json beside kit.yaml; its versioned chain (1.root.json …) must lie
beside it. The kit's creation time is kit.yaml's created, else
SOURCE_DATE_EPOCH, else now: the same inputs, time and ed25519 keys give a
byte-identical kit. The output is written atomically: on failure nothing is
left at -o.

--check validates kit.yaml (every problem, each with its line and code) and
the local files it names, without the network: a file that holds a private
key (SPEC_PRIVATE_KEY_GIVEN) or a files source outside the directory of
kit.yaml without allowOutside: true (SPEC_OUTSIDE_SPEC_DIR) is refused. It
builds nothing. A kit whose targets.json would be larger than a verifier
reads (64 MiB) is refused before anything is written.

--split SIZE writes the kit in parts of SIZE bytes for removable media
(700MiB, 4GiB, 4.7GB; a part may end anywhere in the stream): OUT.001,
OUT.002 … and OUT.parts.json, the part index (each part's size and sha256,
the kit's targets sha256) signed with the signing keys, so that one part
can be checked alone and a corrupt part sent again alone.

--base OLD.kit.tar.zst writes a delta kit instead: OLD (a full kit or a
delta of the same channel) is verified under the channel root first, then
the delta carries only the files whose content OLD lacks, the paths it no
longer has, and the full kit's signed targets; it imports only onto a
store whose active kit is exactly OLD's version. A changed advisories
file whose bytes OLD carries goes as a line patch on OLD's file when that
is under a quarter of the file (OLD's advisories are kept in a temporary
directory meanwhile). --have have.json (ferry store inventory --have at
the site) writes a delta that leaves out every content the site listed,
whatever version it has; it never patches. See docs/kit-format.md.`,
		Example: `  ferry mirror -f kit.yaml -o acme-1.kit.tar.zst --key keys/signer.key
  ferry mirror -f kit.yaml -o acme-2.kit.tar.zst --key keys/signer.key --cache ~/.cache/ferry
  ferry mirror -f kit.yaml --check
  ferry mirror -f kit.yaml -o acme-2.kit.tar.zst --key keys/signer.key --split 4GiB
  ferry mirror -f kit.yaml --base acme-41.kit.tar.zst -o acme-42.delta.kit.tar.zst --key keys/signer.key
  ferry mirror -f kit.yaml --have have.json -o acme-42.delta.kit.tar.zst --key keys/signer.key
  FERRY_SIGNING_KEY="$(cat signer.key)" ferry mirror -f kit.yaml -o acme-2.kit.tar.zst --key env:FERRY_SIGNING_KEY`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.spec == "" {
				return usagef("-f kit.yaml is required")
			}
			spec, err := kit.LoadSpec(o.spec)
			if err != nil {
				return err
			}
			clock := mirrorClock()
			if !o.allowExpired {
				if err := spec.CheckExpiry(spec.Created, clock); err != nil {
					return err
				}
			}
			if o.check {
				if err := spec.CheckLocal(cmd.Context()); err != nil {
					return err
				}
				if o.json {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"ok": true, "spec": o.spec, "sources": len(spec.Sources)})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (%d source(s))\n", o.spec, len(spec.Sources))
				return nil
			}
			if o.out == "" || len(o.keys) == 0 {
				return usagef("-o and --key are required (or --check to only validate)")
			}
			var partSize int64
			if o.split != "" {
				if partSize, err = bundle.ParseSize(o.split); err != nil {
					return usagef("--split: %v", err)
				}
			}
			chain, err := trust.LoadChain(spec.RootFile(o.root))
			if err != nil {
				return fmt.Errorf("channel root: %w", err)
			}
			var signers []signature.Signer
			for _, ref := range o.keys {
				priv, err := loadPrivateKey(ref)
				if err != nil {
					return err
				}
				s, err := keys.Signer(priv)
				if err != nil {
					return err
				}
				signers = append(signers, s)
			}
			created, err := createdTime()
			if err != nil {
				return err
			}
			delta, deltaDone, err := deltaFrom(cmd.Context(), o.base, o.have, chain, spec.Channel)
			if err != nil {
				return err
			}
			defer deltaDone()
			logger, done := progressLogger(cmd.ErrOrStderr(), o.noProg)
			bo := kit.BuildOptions{Roots: chain, Signers: signers, Now: created, Clock: clock, AllowExpired: o.allowExpired, Cache: o.cache, Logger: logger, Delta: delta}
			if partSize > 0 {
				res, err := kit.BuildParts(cmd.Context(), o.out, partSize, spec, bo)
				done()
				if err != nil {
					return err
				}
				return writeSplitResult(cmd.OutOrStdout(), o.json, res)
			}
			res, err := kit.BuildFile(cmd.Context(), o.out, spec, bo)
			done()
			if err != nil {
				return err
			}
			if o.json {
				out := map[string]any{
					"kit": o.out, "name": res.Info.Name, "channel": res.Info.Channel, "version": res.Info.Version,
					"created": res.Info.Created, "expires": res.Info.Expires, "targets": res.Targets,
					"contentBytes": res.ContentBytes, "targetsSha256": res.TargetsSHA256, "signerKeyIds": res.SignerKeyIDs,
				}
				if res.Delta != nil {
					out["delta"] = deltaJSON(res)
				}
				return writeJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\nchannel   %s\nversion   %d\ncreated   %s\nexpires   %s\nfiles     %d (%d bytes)\ntargets   sha256:%s\n",
				o.out, res.Info.Channel, res.Info.Version, res.Info.Created.Format("2006-01-02T15:04:05Z"),
				res.Info.Expires.Format("2006-01-02T15:04:05Z"), res.Targets, res.ContentBytes, res.TargetsSHA256)
			if res.Delta != nil {
				printDelta(cmd.OutOrStdout(), res)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&o.spec, "file", "f", "", "the kit spec (kit.yaml)")
	c.Flags().StringVarP(&o.out, "output", "o", "", "the kit file to write")
	c.Flags().StringArrayVar(&o.keys, "key", nil, "signing key: a PKCS#8 PEM file, or env:VAR (repeatable for k-of-n)")
	c.Flags().StringVar(&o.root, "root", "", "the channel's root file (default: kit.yaml's root, else trust/root.json beside kit.yaml)")
	c.Flags().StringVar(&o.cache, "cache", "", "keep downloads and image blobs in DIR between runs (re-verified by digest); default: a temporary directory removed afterwards")
	c.Flags().BoolVar(&o.check, "check", false, "validate kit.yaml and the local files it names (no network); build nothing")
	c.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	c.Flags().BoolVar(&o.allowExpired, "allow-expired", false, "build (or pass --check) even if the kit would already be expired now (for tests of expiry handling)")
	c.Flags().BoolVar(&o.noProg, "no-progress", false, "no progress output")
	c.Flags().StringVar(&o.split, "split", "", "write the kit in parts of this size (700MiB, 4GiB, 4.7GB): OUT.001 … and the signed OUT.parts.json")
	c.Flags().StringVar(&o.base, "base", "", "write a delta kit against this kit of the channel (verified first): only what it lacks")
	c.Flags().StringVar(&o.have, "have", "", "write a delta kit against a site's have-list (ferry store inventory --have): only what the site lacks")
	c.MarkFlagsMutuallyExclusive("base", "have")
	return c
}

// mirrorClock is the real time against which mirror checks that the kit it
// builds is not already expired; tests pin it.
var mirrorClock = now
