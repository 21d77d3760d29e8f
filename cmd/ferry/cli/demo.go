package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-dev/ferry/internal/demo"
	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	var o struct {
		dir  string
		keep bool
	}
	c := &cobra.Command{
		Use:   "demo [--dir DIR | --keep [DIR]]",
		Short: "Run the whole journey on built-in data, in a temp dir by default",
		Long: `Run the ferry journey on built-in data: make keys and a channel root, build
a signed kit from the demo documents (twice, to show it is byte-identical),
inspect and verify it, then show the refusal of a tampered copy and of an
expired kit, each with its stable code. Every step is a real ferry command.

The demo plays in a new temporary directory, removed at the end, unless
--dir DIR or --keep DIR names one (kept afterwards; it must be new or
empty), or --keep alone keeps the temporary one. The last line says where
the files are, or that they were removed.`,
		Example: `  ferry demo
  ferry demo --keep ./ferry-demo
  ferry demo --dir /tmp/ferry-demo`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && !(o.keep && len(args) == 1 && o.dir == "") {
				return usagef("demo takes no arguments but --keep DIR: got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := o.dir
			if len(args) == 1 {
				dir = args[0] // --keep DIR
			}
			removed := false
			if dir == "" {
				tmp, err := os.MkdirTemp("", "ferry-demo-")
				if err != nil {
					return err
				}
				dir = tmp
				if !o.keep {
					removed = true
					defer os.RemoveAll(tmp)
				}
			} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
				return usagef("%s is not empty: the demo needs a new or empty directory", dir)
			}
			out := cmd.OutOrStdout()
			defer func() {
				if removed {
					fmt.Fprintf(out, "\nThe demo's files were in %s and are removed; run ferry demo --keep DIR to keep them.\n", dir)
				} else {
					fmt.Fprintf(out, "\nThe demo's files are in %s (kept).\n", dir)
				}
			}()
			return demo.Run(cmd.Context(), dir, out, func(ctx context.Context, wd string, args ...string) int {
				sub := New()
				sub.SetOut(out)
				sub.SetErr(out)
				sub.SetArgs(absArgs(wd, args))
				err := sub.ExecuteContext(ctx)
				code := ExitCode(sub, err)
				if code != 0 {
					fmt.Fprintf(out, "(exit %d)\n", code)
				}
				return code
			})
		},
	}
	c.Flags().StringVar(&o.dir, "dir", "", "directory to play the demo in (kept afterwards)")
	c.Flags().BoolVar(&o.keep, "keep", false, "keep the demo's files: in the temporary directory, or in DIR with --keep DIR")
	return c
}

// absArgs makes the demo's relative paths absolute under wd, so the
// commands run in-process without changing the working directory.
func absArgs(wd string, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if rest, ok := strings.CutPrefix(a, "sbom:"); ok {
			out[i] = "sbom:" + filepath.Join(wd, rest)
		} else if i > 0 && len(a) > 0 && a[0] != '-' && looksLikePath(a) {
			out[i] = filepath.Join(wd, a)
		}
	}
	return out
}

func looksLikePath(a string) bool {
	for _, suffix := range []string{".yaml", ".zst", ".key", ".pub", ".json"} {
		if filepath.Ext(a) == suffix || len(a) > len(suffix) && a[len(a)-len(suffix):] == suffix {
			return true
		}
	}
	return a == "keys" || a == "trust" || a == "store"
}
