package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/internal/attestverify"
	"github.com/ferry-dev/ferry/kitdiff"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/verify"
	"github.com/spf13/cobra"
)

func newKitCmd() *cobra.Command {
	c := &cobra.Command{Use: "kit", Short: "Work with kit files: compare two kits"}
	c.AddCommand(newKitDiffCmd())
	return c
}

func newKitDiffCmd() *cobra.Command {
	var o struct {
		root, store, at string
		json            bool
	}
	c := &cobra.Command{
		Use:   "diff OLD NEW [--json] [--root root.json | --store DIR]",
		Short: "Show what changed between two kits of one channel: images, advisories, VEX, trust",
		Long: `Compare two kits of one channel (full or delta kits, whole or in parts),
offline: images by digest (added, removed, and the names that moved to
another digest), advisories by id (added, removed, modified: the record
changed), VEX documents, and trust (the root version, keys per role and
threshold, the carried trust files), then any other file.

Without --root or --store the kits are read as they claim to be and the
output says NOT VERIFIED. With --root (or --store, the store's trust state
for the channel) both kits are verified first, as 'ferry verify' does,
and the diff rests on verified bytes only; a kit that fails is exit 3.

When NEW is a delta kit, it carries only what changed on its base and names
the paths the full kit no longer has (its delta.json): those show as
removed, what it neither carries nor removes as unchanged. An advisories
file it carries as a patch on its base's file is compared record by record
when OLD holds that base file (the same sha256); otherwise a note says it
cannot be compared and none of its advisories are counted. --json prints the diff as canonical
JSON (RFC 8785, schema ` + kitdiff.Schema + `); the text fits 100 columns.`,
		Example: `  ferry kit diff acme-41.kit.tar.zst acme-42.kit.tar.zst
  ferry kit diff acme-41.kit.tar.zst acme-42.delta.kit.tar.zst --root trust/root.json
  ferry kit diff acme-41.kit.tar.zst acme-42.kit.tar.zst.001 --json | jq '.advisories.modified'`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var src verify.TrustSource
			var opts verify.Options
			if o.root != "" || o.store != "" {
				at, err := parseAt(o.at)
				if err != nil {
					return err
				}
				opts = verify.Options{At: at, Attestations: attestverify.Verifier{}}
				var rootData []byte
				if o.root != "" {
					if rootData, err = readRootFile(o.root); err != nil {
						return err
					}
				}
				src = verify.Static(verify.Trust{Root: rootData})
				if o.store != "" {
					st, err := store.Open(cmd.Context(), o.store, storeOptions(store.Options{ReadOnly: true}))
					if err != nil {
						return err
					}
					src = st.TrustSource(cmd.Context(), rootData)
				}
			} else if o.at != "" {
				return usagef("--at is for verifying: give --root or --store too")
			}
			var kits [2]*kitdiff.Kit
			for i, path := range args {
				k, err := readKitForDiff(cmd.Context(), path, src, opts)
				if err != nil {
					if bundle.CodeOf(err) != "" {
						return verificationErr{fmt.Errorf("%s: %w", path, err)}
					}
					return fmt.Errorf("%s: %w", path, err)
				}
				kits[i] = k
			}
			d, err := kitdiff.Compare(kits[0], kits[1])
			if errors.Is(err, kitdiff.ErrOtherChannel) {
				return usagef("%v: kit diff compares two kits of one channel", err)
			}
			if err != nil {
				return err
			}
			if o.json {
				b, err := d.MarshalCanonical()
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return err
			}
			return d.WriteText(cmd.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.root, "root", "", "verify both kits against this channel root first")
	c.Flags().StringVar(&o.store, "store", "", "verify both kits against this store's trust state first (read only)")
	c.Flags().StringVar(&o.at, "at", "", "verify as of this time (RFC 3339) instead of now")
	c.Flags().BoolVar(&o.json, "json", false, "print the diff as canonical JSON (schema "+kitdiff.Schema+")")
	return c
}

// readKitForDiff reads a whole kit or a kit in parts, verified when src
// is set.
func readKitForDiff(ctx context.Context, path string, src verify.TrustSource, opts verify.Options) (*kitdiff.Kit, error) {
	if src == nil {
		r, err := openUnverified(path)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return kitdiff.Read(r)
	}
	var r io.ReadCloser
	if set, _ := partSet(path); set != nil {
		if _, err := verify.OpenPartIndex(set, src); err != nil {
			return nil, err
		}
		r = set.Reader(false)
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		r = f
	}
	defer r.Close()
	return kitdiff.ReadVerified(ctx, r, src, opts)
}
