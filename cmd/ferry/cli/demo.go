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
expired kit, each with its stable code; import, scan, and the release gate:
an SBOM blocked with its reasons, a vendor VEX in the next kit that removes
exactly one finding, a waiver that lets it pass (signed record), the
waiver's expiry blocking again, a record with one byte changed refused, an
unsigned image under a signature-requiring policy blocked (exit 3), and an
older decision replayed identical at its kit version. Every step is a real
ferry command.

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
// commands run in-process without changing the working directory. A path
// is an argument (or the value of a --flag=value) that names a file kind
// the demo uses, one of its directories, or a target (sbom:, oci:);
// absolute paths stay as they are.
func absArgs(wd string, args []string) []string {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(wd, p)
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if flag, val, ok := strings.Cut(a, "="); ok && strings.HasPrefix(flag, "--") {
			if looksLikePath(val) {
				out[i] = flag + "=" + abs(val)
			}
			continue
		}
		switch {
		case strings.HasPrefix(a, "sbom:") || strings.HasPrefix(a, "oci:"):
			kind, rest, _ := strings.Cut(a, ":")
			out[i] = kind + ":" + abs(rest)
		case i > 0 && a != "" && a[0] != '-' && looksLikePath(a):
			out[i] = abs(a)
		}
	}
	return out
}

func looksLikePath(a string) bool {
	switch filepath.Ext(a) {
	case ".yaml", ".zst", ".key", ".pub", ".json", ".jsonl":
		return true
	}
	first, _, _ := strings.Cut(a, "/")
	return first == "keys" || first == "trust" || first == "store" || first == "vex"
}
