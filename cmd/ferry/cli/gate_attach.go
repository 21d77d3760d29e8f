package cli

import (
	"crypto"
	"fmt"

	"github.com/ferry-dev/ferry/gate"
	"github.com/ferry-dev/ferry/publish"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// attachFlags are gate's flags for attaching the signed decision to the
// image in the site's registry.
type attachFlags struct {
	repo string
	reg  registryFlags
}

func (a *attachFlags) add(f *pflag.FlagSet) {
	f.StringVar(&a.repo, "attach", "", "push the signed decision to the image in this registry repository (REGISTRY/REPO) as a cosign attestation; needs --sign")
	a.reg.add(f)
}

// push attaches the signed decision to REPO@digest of the gated image.
// It does nothing without --attach.
func (a *attachFlags) push(cmd *cobra.Command, rec *gate.Record, canon []byte, key crypto.Signer) error {
	if a.repo == "" {
		if a.reg.insecure || a.reg.username != "" || a.reg.passwordStdin {
			return usagef("--insecure, --username and --password-stdin are for --attach")
		}
		return nil
	}
	if key == nil {
		return usagef("--attach needs --sign KEY: only a signed decision is attached")
	}
	o, err := a.reg.options(cmd)
	if err != nil {
		return err
	}
	subject, err := v1.NewHash(rec.Inputs.Subject.Digest)
	if err != nil {
		return fmt.Errorf("the gated image has no digest to attach to: %w", err)
	}
	env, err := gate.Sign(key, rec, canon)
	if err != nil {
		return err
	}
	res, err := publish.Attach(cmd.Context(), a.repo, subject, env, gate.RecordSchema, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "attached: %s (referrer %s)\n", res.Tag, res.Referrer)
	return nil
}
