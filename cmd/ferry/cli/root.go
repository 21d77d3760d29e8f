// Package cli holds ferry's cobra commands. Each command parses flags, makes
// one library call and renders the result; the logic lives in the packages.
package cli

import (
	"crypto/fips140"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/internal/version"
	"github.com/ferry-dev/ferry/keys"
	"github.com/ferry-dev/ferry/kit"
	"github.com/spf13/cobra"
)

// Exit codes (README.md). Scripts depend on them.
const (
	ExitOK           = 0
	ExitBlocked      = 1
	ExitUsage        = 2
	ExitVerification = 3
	ExitOther        = 4
)

// New returns the ferry root command.
func New() *cobra.Command {
	root := &cobra.Command{
		Use:           "ferry",
		Short:         "Carry supply-chain security data across an air gap and act on it there",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `ferry carries supply-chain security data across an air gap.

Connected side:  ferry mirror builds a deterministic, signed kit (tar.zst) from kit.yaml.
Offline side:    ferry verify checks a kit against a pinned root before it touches anything.

Exit codes: 0 ok, 1 gate blocked, 2 usage or invalid spec, 3 verification failed, 4 other error.`,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr{err} })
	root.AddCommand(newKeysCmd(), newTrustCmd(), newMirrorCmd(), newVerifyCmd(), newInspectCmd(), newDemoCmd(), newImportCmd(), newStoreCmd(),
		newImagesCmd())
	root.AddCommand(newScanCmd())
	root.AddCommand(newVEXCmd(), newGateCmd())
	root.AddCommand(newPublishCmd())
	root.AddCommand(newKitCmd())
	markUsageErrors(root)
	return root
}

// markUsageErrors makes every command-line mistake cobra finds below c a
// usageErr (exit 2), without reading cobra's messages: flag errors go
// through the root's FlagErrorFunc; argument errors come from each
// command's Args, wrapped here; and a group (a command that only holds
// subcommands) gets Args that refuse an unknown subcommand and a RunE
// that prints its help. Without them cobra would answer an unknown
// subcommand of a group with help and exit 0, and one of the root with an
// unmarked error.
func markUsageErrors(c *cobra.Command) {
	switch {
	case c.HasSubCommands() && !c.Runnable():
		c.Args = unknownSubcommand
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[groupAnnotation] = "true"
	case c.Args != nil:
		args := c.Args
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return usageErr{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
}

// groupAnnotation marks a command that only holds subcommands; its RunE
// prints help, and the reference documents its subcommands instead.
const groupAnnotation = "ferry.dev/group"

// unknownSubcommand is the Args of a group: any argument names a
// subcommand that does not exist.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set where it suggests
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErr{errors.New(msg)}
}

// usageErr marks a command-line mistake (exit 2).
type usageErr struct{ error }

func (u usageErr) Unwrap() error { return u.error }

func usagef(format string, args ...any) error { return usageErr{fmt.Errorf(format, args...)} }

// verificationErr marks a failed verification (exit 3) whose report was
// already printed.
type verificationErr struct{ error }

func (v verificationErr) Unwrap() error { return v.error }

// ExitCode prints err (if any) on the command's stderr and maps it to an
// exit code.
func ExitCode(root *cobra.Command, err error) int {
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(root.ErrOrStderr(), "ferry: %v\n", err)
	if fipsRefusal(err) {
		fmt.Fprintf(root.ErrOrStderr(), "ferry: refused because FIPS 140-only mode is on (GODEBUG=fips140=only); "+
			"ferry's keys (ed25519, ECDSA P-256) and digests (SHA-256) work in it: see docs/trust-model.md, \"FIPS 140-3 mode\"\n")
	}
	var u usageErr
	var v verificationErr
	var b blockedErr
	var specErrs kit.SpecErrors
	var specErr *kit.SpecError
	switch {
	case errors.As(err, &b):
		return ExitBlocked
	case errors.As(err, &u), errors.As(err, &specErrs), errors.As(err, &specErr):
		return ExitUsage
	case errors.As(err, &v), bundle.CodeOf(err) != "":
		return ExitVerification
	}
	return ExitOther
}

// now is the current time for commands; SOURCE_DATE_EPOCH, when set, fixes
// the creation time of what ferry builds.
func now() time.Time { return time.Now().UTC() }

// createdTime returns SOURCE_DATE_EPOCH if set, else the current time.
func createdTime() (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, usagef("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return now(), nil
}

// parseAt parses --at: RFC 3339, or empty for now.
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("--at %q: want an RFC 3339 time like 2026-12-01T00:00:00Z", s)
	}
	return t.UTC(), nil
}

// fipsRefusal tells whether err is a refusal of FIPS 140-only mode: ferry's
// own (keys.ErrNotFIPSApproved) or the standard library's, which has no
// sentinel and says "not allowed in FIPS 140-only mode" (crypto/ecdsa,
// crypto/rsa, crypto/sha1 …).
func fipsRefusal(err error) bool {
	return errors.Is(err, keys.ErrNotFIPSApproved) ||
		(fips140.Enforced() && strings.Contains(err.Error(), "FIPS 140-only mode"))
}
