package cli

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ferry-dev/ferry/manifest"
	"github.com/ferry-dev/ferry/trust"
	"github.com/spf13/cobra"
)

type rootKeyFlags struct {
	threshold, signingThreshold int
	signingKeys                 []string
	expires                     string
}

func (f *rootKeyFlags) add(c *cobra.Command) {
	c.Flags().IntVar(&f.threshold, "threshold", 1, "how many root keys must sign a root")
	c.Flags().StringArrayVar(&f.signingKeys, "signing-key", nil, "key of the targets/snapshot/timestamp roles (public or private key file; repeatable)")
	c.Flags().IntVar(&f.signingThreshold, "signing-threshold", 1, "how many signing keys must sign a kit")
	c.Flags().StringVar(&f.expires, "expires", "365d", "how long the root is valid")
}

func (f *rootKeyFlags) options(channel string, rootKeys []crypto.PublicKey) (trust.Options, error) {
	o := trust.Options{Channel: channel, RootKeys: rootKeys, Threshold: f.threshold, SigningThreshold: f.signingThreshold}
	for _, ref := range f.signingKeys {
		pub, err := loadPublicKey(ref)
		if err != nil {
			return o, err
		}
		o.SigningKeys = append(o.SigningKeys, pub)
	}
	d, err := manifest.ParseDuration(f.expires)
	if err != nil {
		return o, usagef("--expires: %v", err)
	}
	created, err := createdTime()
	if err != nil {
		return o, err
	}
	o.Created = created
	o.Expires = created.Add(d)
	return o, nil
}

func loadSigners(refs []string) ([]crypto.Signer, error) {
	var out []crypto.Signer
	for _, ref := range refs {
		k, err := loadPrivateKey(ref)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

func newTrustCmd() *cobra.Command {
	c := &cobra.Command{Use: "trust", Short: "Create and rotate a channel's TUF root"}

	var in struct {
		rootKeyFlags
		channel, out string
		rootKeys     []string
		force, json  bool
	}
	initCmd := &cobra.Command{
		Use:   "init --channel NAME --root-key K… [--threshold N] --signing-key K --out root.json",
		Short: "Write root version 1 of a new channel",
		Long: `Write root version 1 of a new channel, signed by every root key given.

The root is written to --out and, beside it, as 1.root.json: the chain of
versioned roots is what every kit carries, so that a site pinned to an old
root can follow rotations offline.

A channel's root is made once: init refuses to overwrite an existing --out
or 1.root.json beside it (sites pinned to that root would no longer accept
the channel's kits) unless --force is given. To change keys, use
ferry trust rotate.`,
		Example: `  ferry trust init --channel acme-feeds --root-key keys/root.key \
      --signing-key keys/signer.key --out trust/root.json
  ferry trust init --channel acme-feeds --root-key k1.key --root-key k2.key --root-key k3.key \
      --threshold 2 --signing-key keys/signer.pub --out trust/root.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.channel == "" || in.out == "" || len(in.rootKeys) == 0 || len(in.signingKeys) == 0 {
				return usagef("--channel, --root-key, --signing-key and --out are required")
			}
			if err := trust.ValidChannel(in.channel); err != nil {
				return usageErr{err}
			}
			rk, err := loadSigners(in.rootKeys)
			if err != nil {
				return err
			}
			o, err := in.options(in.channel, publics(rk))
			if err != nil {
				return err
			}
			if !in.force {
				for _, p := range []string{in.out, filepath.Join(filepath.Dir(in.out), trust.VersionedName(1))} {
					if _, err := os.Lstat(p); err == nil {
						return usagef("%s exists: a channel's root is written once (sites pinned to it would refuse the new one); rotate it with ferry trust rotate, or pass --force to overwrite", p)
					} else if !errors.Is(err, fs.ErrNotExist) {
						return err
					}
				}
			}
			root, err := trust.Init(o, rk)
			if err != nil {
				return usageErr{err}
			}
			if err := trust.WriteChainFile(in.out, root); err != nil {
				return err
			}
			return describeRoot(cmd.OutOrStdout(), in.out, root, in.json)
		},
	}
	initCmd.Flags().StringVar(&in.channel, "channel", "", "channel name, e.g. acme-feeds")
	initCmd.Flags().StringArrayVar(&in.rootKeys, "root-key", nil, "private root key file (repeatable)")
	initCmd.Flags().StringVar(&in.out, "out", "", "where to write the root (e.g. trust/root.json)")
	initCmd.Flags().BoolVar(&in.force, "force", false, "overwrite an existing root and 1.root.json (a new channel identity: pinned sites must be given the new root)")
	initCmd.Flags().BoolVar(&in.json, "json", false, "describe the written root as JSON")
	in.add(initCmd)

	var ro struct {
		rootKeyFlags
		root, out       string
		oldKeys, newKey []string
		json            bool
	}
	rotate := &cobra.Command{
		Use:   "rotate --root root.json --old-root-key K… [--new-root-key K…] [--signing-key K…] [--out root.json]",
		Short: "Write root version N+1, signed by the old and the new root keys",
		Long: `Write root version N+1 of a channel. The new root is signed by enough of the
current root's keys to meet its threshold, and by the new root keys to meet
the new threshold. Without --new-root-key the root keys stay the same;
without --signing-key the signing keys stay the same.

--new-root-key lists every root key of the new root, kept ones included: a
key given both as --old-root-key and --new-root-key stays a root key and
signs once, its signature counting toward both thresholds (keep 2 of 3 root
keys and replace the third by giving the 2 kept keys as both, and the new
key as --new-root-key).

The new root is written to --out (default: --root) and, beside it, as
N+1.root.json. When --out is in another directory, the chain 1.root.json …
N.root.json is copied there too (a different file of the same name there
is an error), so that --out is a complete chain that kit.yaml's root: can
name; the current root's directory is then left unchanged.`,
		Example: `  ferry trust rotate --root trust/root.json --old-root-key keys/root.key \
      --new-root-key keys/root2.key --signing-key keys/signer2.pub
  ferry trust rotate --root trust/root.json --old-root-key k1.key --old-root-key k2.key \
      --new-root-key k1.key --new-root-key k2.key --new-root-key k4.key --threshold 2
  ferry trust rotate --root trust/root.json --old-root-key keys/root.key \
      --signing-key keys/signer2.pub --out staged/root.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ro.root == "" || len(ro.oldKeys) == 0 {
				return usagef("--root and --old-root-key are required")
			}
			if ro.out == "" {
				ro.out = ro.root
			}
			chain, err := trust.LoadChain(ro.root)
			if err != nil {
				return err
			}
			old, err := loadSigners(ro.oldKeys)
			if err != nil {
				return err
			}
			newKeys, err := loadSigners(ro.newKey)
			if err != nil {
				return err
			}
			o, err := ro.options("", nil)
			if err != nil {
				return err
			}
			// What is not given stays as the current root has it.
			r := trust.Rotation{OldRootKeys: old, NewRootKeys: newKeys, SigningKeys: o.SigningKeys, Created: o.Created, Expires: o.Expires}
			if cmd.Flags().Changed("threshold") {
				r.Threshold = ro.threshold
			}
			if cmd.Flags().Changed("signing-threshold") {
				r.SigningThreshold = ro.signingThreshold
			}
			next, err := trust.RotateKeeping(chain[len(chain)-1], r)
			if err != nil {
				return err
			}
			// --out elsewhere gets the whole chain, so that it is a root a
			// kit.yaml can name; the current root's directory is then left
			// as it was.
			if err := trust.WriteChain(ro.out, append(chain, next)); err != nil {
				return err
			}
			return describeRoot(cmd.OutOrStdout(), ro.out, next, ro.json)
		},
	}
	rotate.Flags().StringVar(&ro.root, "root", "", "the channel's current root file (its chain N.root.json lies beside it)")
	rotate.Flags().StringArrayVar(&ro.oldKeys, "old-root-key", nil, "private key of the current root (repeatable, up to its threshold)")
	rotate.Flags().StringArrayVar(&ro.newKey, "new-root-key", nil, "private key of the new root, kept keys included (repeatable)")
	rotate.Flags().StringVar(&ro.out, "out", "", "where to write the new root, with the chain beside it (default: --root)")
	rotate.Flags().BoolVar(&ro.json, "json", false, "describe the written root as JSON")
	ro.add(rotate)

	c.AddCommand(initCmd, rotate)
	return c
}

func publics(ks []crypto.Signer) []crypto.PublicKey {
	out := make([]crypto.PublicKey, len(ks))
	for i, k := range ks {
		out[i] = k.Public()
	}
	return out
}

func describeRoot(w io.Writer, path string, data []byte, asJSON bool) error {
	r, err := trust.Parse(data)
	if err != nil {
		return err
	}
	if asJSON {
		type role struct {
			Name      string   `json:"name"`
			Threshold int      `json:"threshold"`
			KeyIDs    []string `json:"key_ids"`
		}
		out := struct {
			Path    string `json:"path"`
			Channel string `json:"channel"`
			Version int64  `json:"version"`
			Expires string `json:"expires"`
			Roles   []role `json:"roles"`
		}{Path: path, Channel: trust.Channel(r), Version: r.Signed.Version, Expires: r.Signed.Expires.UTC().Format(time.RFC3339), Roles: []role{}}
		for _, name := range []string{"root", "targets", "snapshot", "timestamp"} {
			if rr := r.Signed.Roles[name]; rr != nil {
				out.Roles = append(out.Roles, role{Name: name, Threshold: rr.Threshold, KeyIDs: slices.Sorted(slices.Values(rr.KeyIDs))})
			}
		}
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "wrote %s\nchannel   %s\nversion   %d\nexpires   %s\n", path, trust.Channel(r), r.Signed.Version, r.Signed.Expires.Format("2006-01-02T15:04:05Z"))
	for _, role := range []string{"root", "targets"} {
		rr := r.Signed.Roles[role]
		fmt.Fprintf(w, "%-9s %d of %v\n", role, rr.Threshold, rr.KeyIDs)
	}
	return nil
}
