package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ferry-dev/ferry/publish"
	"github.com/ferry-dev/ferry/store"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// registryFlags are the flags that reach the site's registry, as crane
// spells them.
type registryFlags struct {
	insecure      bool
	username      string
	passwordStdin bool
}

func (r *registryFlags) add(f *pflag.FlagSet) {
	f.BoolVar(&r.insecure, "insecure", false, "allow plain HTTP to the registry (only on a network you trust)")
	f.StringVar(&r.username, "username", "", "registry user name (default: credentials from the Docker config)")
	f.BoolVar(&r.passwordStdin, "password-stdin", false, "read the registry password for --username from standard input")
}

// options turns the flags into publish.Options; the password is read
// from stdin here, never from a flag.
func (r *registryFlags) options(cmd *cobra.Command) (publish.Options, error) {
	o := publish.Options{Insecure: r.insecure}
	if r.passwordStdin != (r.username != "") {
		return o, usagef("--username and --password-stdin go together")
	}
	if r.username != "" {
		b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<16))
		if err != nil {
			return o, fmt.Errorf("reading the password from standard input: %w", err)
		}
		o.Auth = &authn.Basic{Username: r.username, Password: strings.TrimRight(string(b), "\r\n")}
	}
	return o, nil
}

func newPublishCmd() *cobra.Command {
	var (
		to, storeDir string
		reg          registryFlags
		jsonOut      bool
	)
	c := &cobra.Command{
		Use:   "publish KIT... --to REGISTRY/REPO [--store DIR]",
		Short: "Push kits, byte-exact, to the site's OCI registry for the site's runners",
		Long: `Push each kit file as an OCI artifact (artifactType ` + publish.ArtifactType + `,
the kit file as its one layer, byte-exact) to REGISTRY/REPO, tagged
CHANNEL-VERSION and CHANNEL. Runners then 'ferry import oci://REGISTRY/REPO:CHANNEL'
with the same verification as a file.

The store keeps a kit's content, not the kit file: publish takes the kit
files. A kit in parts (KIT.001, with KIT.parts.json beside it) is published
as the one kit file its parts make, streamed from them: the same artifact
as the whole file. With --store, each must be the active kit of its channel in that
store (same sha256): only what this site imported and verified goes out.

Publishing a kit the registry already has under both tags writes nothing.
Another kit under the same CHANNEL-VERSION tag is refused. The CHANNEL tag
is never moved back to an older version.

Credentials come from the Docker config (docker login / crane auth login),
or --username with --password-stdin. Plain HTTP only with --insecure.`,
		Example: `  ferry publish acme-7.kit.tar.zst --store /srv/ferry --to registry.site:5000/ferry/kits
  echo "$PASSWORD" | ferry publish acme-7.kit.tar.zst --to registry.site/ferry/kits --username ferry --password-stdin
  ferry publish acme-7.kit.tar.zst --to localhost:5000/ferry/kits --insecure --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("name the kit files to publish: a store keeps each kit's content and sha256, not the kit file")
			}
			if to == "" {
				return usagef("--to REGISTRY/REPO is required")
			}
			o, err := reg.options(cmd)
			if err != nil {
				return err
			}
			var s *store.Store
			if storeDir != "" {
				if s, err = store.Open(cmd.Context(), storeDir, storeOptions(store.Options{ReadOnly: true})); err != nil {
					return err
				}
			}
			res := struct {
				Schema    string               `json:"schema"`
				Published []*publish.Published `json:"published"`
			}{Schema: "ferry.dev/publish/v1"}
			for _, path := range args {
				k, err := publish.ReadKit(path)
				if err != nil {
					return err
				}
				if s != nil {
					if err := publish.CheckActive(cmd.Context(), s, now(), k); err != nil {
						return err
					}
				}
				p, err := publish.Publish(cmd.Context(), to, k, o)
				if err != nil {
					if errors.Is(err, publish.ErrPlainHTTP) {
						return usageErr{err}
					}
					return err
				}
				res.Published = append(res.Published, p)
				if !jsonOut {
					verb := "published"
					if p.Unchanged {
						verb = "already published"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: channel %s version %d -> %s (tags %s)\n", verb, p.Channel, p.Version, p.Ref, strings.Join(p.Tags, ", "))
					if p.ChannelTagKept != "" {
						fmt.Fprintf(cmd.OutOrStdout(), "  %s\n", p.ChannelTagKept)
					}
				}
			}
			if jsonOut {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&to, "to", "", "the registry repository, REGISTRY/REPO")
	f.StringVar(&storeDir, "store", "", "publish only kits that are their channel's active kit in this store")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON (schema ferry.dev/publish/v1)")
	reg.add(f)
	return c
}
