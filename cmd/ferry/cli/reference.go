package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// WriteReference writes the command reference (docs/cli.md) from the
// command tree, so the docs cannot drift from the flags.
func WriteReference(w io.Writer, root *cobra.Command) error {
	fmt.Fprintf(w, "# ferry command reference\n\nGenerated from the command tree (`go test ./cmd/ferry/cli -run TestReference -update`). Do not edit.\n")
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return nil
		}
		if c.Runnable() && c.Annotations[groupAnnotation] == "" {
			fmt.Fprintf(w, "\n## %s\n\n%s\n\n```\n%s\n```\n", c.CommandPath(), c.Short, c.UseLine())
			if c.Long != "" {
				fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Long))
			}
			if c.Example != "" {
				fmt.Fprintf(w, "\nExamples:\n\n```\n%s\n```\n", c.Example)
			}
			if f := c.NonInheritedFlags().FlagUsages(); strings.TrimSpace(f) != "" {
				fmt.Fprintf(w, "\nFlags:\n\n```\n%s```\n", f)
			}
		}
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}
