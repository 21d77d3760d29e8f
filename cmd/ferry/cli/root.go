// Package cli holds ferry's cobra commands. Each command parses flags, makes
// one library call and renders the result; the logic lives in the packages.
package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/internal/version"
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
	return root
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
	case isCobraUsage(err):
		return ExitUsage
	}
	return ExitOther
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "required flag"} {
		if len(msg) >= len(p) && containsWord(msg, p) {
			return true
		}
	}
	return false
}

func containsWord(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
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
