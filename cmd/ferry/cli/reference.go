package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// WriteReference writes the command reference (docs/cli.md) from the
// command tree, so the docs cannot drift from the flags.
func WriteReference(w io.Writer, root *cobra.Command) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "# ferry command reference\n\nGenerated from the command tree (`go test ./cmd/ferry/cli -run TestReference -update`). Do not edit.\n")
	fmt.Fprintf(ew, "One page per command: [docs/reference/](reference/README.md).\n")
	for _, c := range referenceCommands(root) {
		writeCommand(ew, c, "##")
	}
	return ew.err
}

// ReferencePage is one generated page of docs/reference/.
type ReferencePage struct {
	// Name is the file name: ferry_gate_explain.md, README.md.
	Name string
	Data []byte
}

// ReferencePages returns docs/reference/: a page per command and an index
// (README.md), in a fixed order.
func ReferencePages(root *cobra.Command) []ReferencePage {
	cmds := referenceCommands(root)
	var index bytes.Buffer
	fmt.Fprintf(&index, "# ferry command reference\n\nGenerated from the command tree (`go test ./cmd/ferry/cli -run TestReference -update`). Do not edit.\n\n")
	fmt.Fprintf(&index, "Exit codes: 0 ok, 1 blocked or findings, 2 usage or invalid input, 3 verification failed, 4 other error. ")
	fmt.Fprintf(&index, "Shell completion: `ferry completion bash|zsh|fish` (see the README).\n\n")
	fmt.Fprintf(&index, "| command | what it does |\n| --- | --- |\n")
	pages := make([]ReferencePage, 0, len(cmds)+1)
	for _, c := range cmds {
		name := pageName(c)
		fmt.Fprintf(&index, "| [%s](%s) | %s |\n", c.CommandPath(), name, strings.ReplaceAll(c.Short, "|", "\\|"))
		var b bytes.Buffer
		fmt.Fprintf(&b, "<!-- Generated from the command tree (go test ./cmd/ferry/cli -run TestReference -update). Do not edit. -->\n")
		writeCommand(&b, c, "#")
		if p := c.Parent(); p != nil && p.Parent() != nil {
			fmt.Fprintf(&b, "\nPart of `%s`. ", p.CommandPath())
		} else {
			b.WriteString("\n")
		}
		b.WriteString("All commands: [index](README.md).\n")
		pages = append(pages, ReferencePage{Name: name, Data: b.Bytes()})
	}
	return append([]ReferencePage{{Name: "README.md", Data: index.Bytes()}}, pages...)
}

func pageName(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "_") + ".md"
}

// referenceCommands are the documented commands in tree order: runnable,
// not hidden, not groups, not help or completion (cobra's own).
func referenceCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c.Runnable() && c.Annotations[groupAnnotation] == "" {
			out = append(out, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return out
}

func writeCommand(w io.Writer, c *cobra.Command, h string) {
	fmt.Fprintf(w, "\n%s %s\n\n%s\n\n```\n%s\n```\n", h, c.CommandPath(), c.Short, c.UseLine())
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
