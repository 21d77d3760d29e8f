package cli

import (
	"fmt"

	"github.com/ferry-dev/ferry/bundle"
)

// kitAdvice is what to do next when a kit fails with code, on the command
// line; "" when there is no obvious next step. docs/runbooks/ says more
// per code.
func kitAdvice(code bundle.Code, command string) string {
	switch code {
	case bundle.CodeUnknownChannel:
		if command == "import" {
			return "pin the channel's root on its first import with --root FILE"
		}
		return "give the channel's root, pinned out of band, with --root FILE"
	case bundle.CodeRollback:
		if command == "import" {
			return "use --force-activate --reason TEXT to activate it anyway"
		}
		return "the store holds a newer kit of the channel (ferry store info --store DIR); ask for a newer one"
	case bundle.CodeExpired:
		return "ask the connected side for a newer kit, or verify as of the time it was received with --at TIME"
	case bundle.CodeDigestMismatch, bundle.CodeSizeMismatch, bundle.CodeMissingTarget, bundle.CodeTruncated, bundle.CodeMalformed:
		return "the kit was changed or damaged on the way: compare its sha256sum with the sender's and ask for it again"
	case bundle.CodeSignatureInvalid, bundle.CodeThresholdNotMet:
		return "it is not signed by the channel's keys: check the pinned root (ferry inspect KIT lists the signer key ids) and treat the kit as hostile"
	case bundle.CodeBaseMismatch:
		return "this delta needs the base kit it names: import that version first (ferry store info --store DIR shows what the store holds)"
	case bundle.CodeUnsafePath, bundle.CodeUnsafeEntryType, bundle.CodeUnexpectedEntry, bundle.CodeDuplicateEntry, bundle.CodeTooLarge:
		return "the kit is not one ferry mirror writes: treat it as hostile and report it to the channel's publisher"
	}
	return ""
}

// withKitAdvice adds the next step for err's kit failure code, if any.
func withKitAdvice(err error, command string) error {
	if a := kitAdvice(bundle.CodeOf(err), command); a != "" {
		return fmt.Errorf("%w\n  next: %s", err, a)
	}
	return err
}
