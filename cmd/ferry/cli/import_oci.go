package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/publish"
	"github.com/ferry-dev/ferry/store"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ociImportFlags are import's flags for a kit in the site's registry
// (oci://REGISTRY/REPO:TAG).
type ociImportFlags struct {
	follow time.Duration
	reg    registryFlags
}

func (o *ociImportFlags) add(f *pflag.FlagSet) {
	f.DurationVar(&o.follow, "follow", 0, "with oci://: check the tag every INTERVAL and import new versions until interrupted")
	o.reg.add(f)
}

// isOCI says whether KIT names a kit in a registry, and refuses the
// registry flags for a file.
func (o *ociImportFlags) isOCI(kit, quarantine, at string) (bool, error) {
	if strings.HasPrefix(kit, publish.Scheme) {
		if quarantine != "" {
			return true, usagef("--quarantine is for kit files; a kit in a registry is not moved")
		}
		if at != "" && o.follow != 0 {
			return true, usagef("--at and --follow: a follower verifies as of each check")
		}
		if o.follow < 0 || (o.follow > 0 && o.follow < time.Second) {
			return true, usagef("--follow %s: want an interval of a second or more", o.follow)
		}
		return true, nil
	}
	if o.follow != 0 || o.reg.insecure || o.reg.username != "" || o.reg.passwordStdin {
		return false, usagef("--follow, --insecure, --username and --password-stdin are for oci://REGISTRY/REPO:TAG")
	}
	return false, nil
}

// importOCI imports the kit at ref (once, or with --follow every
// interval until the context ends) through the store's own import.
func (o *ociImportFlags) importOCI(cmd *cobra.Command, ref string, s *store.Store, opts store.ImportOptions, jsonOut bool) error {
	ro, err := o.reg.options(cmd)
	if err != nil {
		return err
	}
	r, err := publish.ParseRef(ref, ro)
	if err != nil {
		return usageErr{err}
	}
	once := func() error {
		if o.follow > 0 {
			opts.At = now()
			opts.Now = opts.At
		}
		end := func() {}
		ro.Read = func(kit io.Reader, size int64) io.Reader {
			var w io.Reader
			w, end = kitReadProgressSize(cmd.ErrOrStderr(), kit, "importing "+ref, size)
			return w
		}
		im, err := publish.Import(cmd.Context(), s, r, opts, ro)
		end()
		if err != nil {
			if im != nil && im.Result != nil && im.Result.Report != nil && !im.Result.Report.OK {
				return verificationErr{importAdvice(err)}
			}
			if bundle.CodeOf(err) != "" {
				return verificationErr{importAdvice(err)}
			}
			return err
		}
		out := cmd.OutOrStdout()
		if im.Current {
			if jsonOut {
				return writeJSON(out, map[string]any{"schema": store.ImportResultSchema, "outcome": "current", "ref": im.Artifact.Ref})
			}
			_, err := fmt.Fprintf(out, "%s: already the active kit of channel %s (%s)\n", ref, im.Artifact.Channel, im.Artifact.Ref)
			return err
		}
		if jsonOut {
			return writeJSON(out, im.Result)
		}
		return writeImportText(out, im.Artifact.Ref, im.Result)
	}
	if o.follow == 0 {
		return once()
	}
	return publish.Follow(cmd.Context(), o.follow, func(context.Context) error { return once() }, func(err error) {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s refused: %v\n", now().Format(time.RFC3339), err)
	})
}
