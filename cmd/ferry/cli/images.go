package cli

import (
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/mirror"
	"github.com/ferry-dev/ferry/push"
	"github.com/ferry-dev/ferry/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/spf13/cobra"
)

func newImagesCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "images",
		Short: "List, export, push and verify the images in the offline store",
		Long: `Work with the images that imported kits carried.

Offline a tag never decides anything: images are named by digest. A name
(the reference kit.yaml wrote) is accepted only when exactly one image in
the store carries it; otherwise the error lists the digests.`,
		Example: `  ferry images list --store /srv/ferry
  ferry images export sha256:… --store /srv/ferry --format oci -o ./app-oci
  ferry images push --store /srv/ferry --to registry.site.internal:5000
  ferry images verify sha256:… --store /srv/ferry --key cosign.pub`,
	}
	c.AddCommand(newImagesListCmd(), newImagesExportCmd(), newImagesPushCmd(), newImagesVerifyCmd())
	return c
}

func newImagesListCmd() *cobra.Command {
	var f storeFlags
	c := &cobra.Command{
		Use:   "list --store DIR [--json]",
		Short: "Every image of the active kits: digest, names, platforms, size, signatures",
		Long: `List every image the store's active kits carry, by digest, with the
names it was mirrored as (labels only), its platforms, the bytes of its
blobs, and how many signatures, attestations, SBOMs and referrers came
with it. --json prints every field, including the attachment digests.`,
		Example: `  ferry images list --store /srv/ferry
  ferry images list --store /srv/ferry --json | jq '.[].digest'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.open(cmd)
			if err != nil {
				return err
			}
			ims, err := s.Images(cmd.Context())
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(cmd.OutOrStdout(), ims)
			}
			return writeImagesText(cmd.OutOrStdout(), ims)
		},
	}
	f.add(c, store.ImagesSchema+" (a list)")
	return c
}

func writeImagesText(w io.Writer, ims []store.Image) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DIGEST\tNAMES\tPLATFORMS\tSIZE\tSIG\tATT\tSBOM\tREF")
	for _, im := range ims {
		n := map[string]int{}
		for _, a := range im.Attachments {
			n[a.Kind]++
		}
		pl := strings.Join(im.Platforms, ",")
		if pl == "" {
			pl = "-"
		}
		if im.Incomplete {
			pl += " (partial)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", im.Digest, strings.Join(im.Names, ","), pl, im.Size,
			n[format.KindSignature], n[format.KindAttestation], n[format.KindSBOM], n[format.KindReferrer])
	}
	return tw.Flush()
}

func newImagesExportCmd() *cobra.Command {
	var f storeFlags
	var format, out, platform string
	c := &cobra.Command{
		Use:   "export DIGEST|REF --store DIR --format oci|docker -o OUT",
		Short: "Write one image as an OCI image layout or a docker tarball",
		Long: `Write one image of the store, built from its blobs, as an OCI image
layout directory (--format oci; its index.json names the image with its
source digest, unchanged) or a docker tarball for docker load (--format
docker; an index needs --platform unless the store holds one of its
images; docker load rebuilds the manifest, so only the image ID and the
layers keep their digests there).`,
		Example: `  ferry images export sha256:… --store /srv/ferry --format oci -o ./api-oci
  ferry images export registry.example.com/app/api:1.4 --store /srv/ferry --format docker -o api.tar
  ferry images export sha256:… --store /srv/ferry --format docker --platform linux/arm64 -o api-arm64.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("-o OUT is required")
			}
			if format != images.FormatOCI && format != images.FormatDocker {
				return usagef("--format %q: use oci or docker", format)
			}
			o := images.ExportOptions{Format: format}
			if platform != "" {
				p, err := mirror.ParsePlatform(platform)
				if err != nil {
					return usagef("--platform: %v", err)
				}
				o.Platform = &p
			}
			s, im, err := resolveImage(cmd, &f, args[0])
			if err != nil {
				return err
			}
			if len(im.Names) > 0 {
				o.Name = im.Names[0]
			}
			desc, err := im.Descriptor()
			if err != nil {
				return err
			}
			res, err := images.Export(cmd.Context(), s, desc, out, o)
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s, %s)\n", res.Path, res.Format, res.Digest)
			return nil
		},
	}
	f.add(c, "")
	c.Flags().BoolVar(&f.json, "json", false, "print the result as JSON")
	c.Flags().StringVar(&format, "format", images.FormatOCI, "oci (an OCI image layout directory) or docker (a docker load tarball)")
	c.Flags().StringVarP(&out, "output", "o", "", "where to write: a new or empty directory (oci), a file (docker)")
	c.Flags().StringVar(&platform, "platform", "", "for docker: the image of an index to write, e.g. linux/arm64")
	return c
}

// resolveImage opens the store and resolves DIGEST|REF.
func resolveImage(cmd *cobra.Command, f *storeFlags, arg string) (*store.Store, *store.Image, error) {
	s, err := f.open(cmd)
	if err != nil {
		return nil, nil, err
	}
	im, err := s.ResolveImage(cmd.Context(), arg)
	var amb *store.AmbiguousImageError
	if errors.As(err, &amb) {
		return nil, nil, usageErr{err}
	}
	if err != nil {
		return nil, nil, err
	}
	return s, im, nil
}

func newImagesPushCmd() *cobra.Command {
	var f storeFlags
	var to string
	var insecure bool
	var jobs int
	var only []string
	c := &cobra.Command{
		Use:   "push --store DIR --to HOST[:PORT] [--insecure]",
		Short: "Push images, their signatures and attestations into the site's registry (network)",
		Long: `Push images from the store into the site's own registry, by digest, so
the digest there equals the mirrored digest (checked after the push), with
their cosign signature, attestation and SBOM tags (sha256-<hex>.sig …) and
OCI referrers, so cosign at the site finds them. Each image goes to the
same repository path it came from (registry.example.com/app/api ->
HOST/app/api). Tags are not pushed: offline a tag decides nothing.

This is the one offline command that opens network connections, and only
to the registry given with --to. Plain HTTP only with --insecure.
Credentials come from the Docker config (docker login HOST).`,
		Example: `  ferry images push --store /srv/ferry --to registry.site.internal:5000
  ferry images push --store /srv/ferry --to localhost:5000 --insecure --image sha256:…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usagef("--to HOST[:PORT] is required")
			}
			s, err := f.open(cmd)
			if err != nil {
				return err
			}
			var ims []store.Image
			if len(only) == 0 {
				if ims, err = s.Images(cmd.Context()); err != nil {
					return err
				}
			}
			for _, arg := range only {
				im, err := s.ResolveImage(cmd.Context(), arg)
				var amb *store.AmbiguousImageError
				if errors.As(err, &amb) {
					return usageErr{err}
				}
				if err != nil {
					return err
				}
				ims = append(ims, *im)
			}
			items, err := push.Items(ims)
			if err != nil {
				return err
			}
			progress, endProgress := pushProgress(cmd.ErrOrStderr(), to)
			res, err := push.Push(cmd.Context(), s, items, push.Options{Registry: to, Insecure: insecure, Jobs: jobs,
				Logger: slog.New(slog.DiscardHandler), Progress: progress})
			endProgress()
			if errors.Is(err, push.ErrPlainHTTP) {
				return usageErr{err}
			}
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PUSHED\tDIGEST (= REGISTRY DIGEST)")
			for _, p := range res.Pushed {
				fmt.Fprintf(tw, "%s\t%s\n", p.Ref, p.RegistryDigest)
			}
			return tw.Flush()
		},
	}
	f.add(c, "")
	c.Flags().BoolVar(&f.json, "json", false, "print the result as JSON (schema "+push.ResultSchema+")")
	c.Flags().StringVar(&to, "to", "", "the site's registry, HOST[:PORT]")
	c.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to the registry (only on a network you trust)")
	c.Flags().IntVar(&jobs, "jobs", 4, "blob uploads in flight at once")
	c.Flags().StringArrayVar(&only, "image", nil, "push only this image (DIGEST or REF; repeatable); default: every image")
	return c
}

func newImagesVerifyCmd() *cobra.Command {
	var f storeFlags
	var keyFile, identity, issuer, trustedRoot string
	c := &cobra.Command{
		Use:   "verify DIGEST|REF --store DIR (--key cosign.pub | --certificate-identity ID --certificate-oidc-issuer URL)",
		Short: "Check an image's cosign signatures and attestations offline",
		Long: `Check the cosign signatures (sha256-<hex>.sig) and attestations (.att)
that the kit carried for an image and its platform manifests, offline,
with sigstore-go:

  --key FILE           a cosign public key (PEM); a signature made with
                       cosign sign --tlog-upload=false needs no log entry
  --certificate-identity ID --certificate-oidc-issuer URL
                       keyless: the Fulcio certificate must chain to the
                       Sigstore trusted root and name exactly this identity
                       and issuer; a Rekor entry (signed entry timestamp) or
                       an RFC 3161 timestamp must vouch for the signing time.
                       The trusted root is the trusted_root.json a kit
                       carried (trust/<name>/targets/…), or --trusted-root.

Exit 0 when at least one signature verified, 3 when none did. Each
signature and attestation is reported, valid or not.`,
		Example: `  ferry images verify sha256:… --store /srv/ferry --key cosign.pub
  ferry images verify sha256:… --store /srv/ferry \
      --certificate-identity https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := images.VerifyOptions{Identity: identity, Issuer: issuer}
			switch {
			case keyFile != "" && (identity != "" || issuer != ""):
				return usagef("give --key, or --certificate-identity and --certificate-oidc-issuer, not both")
			case keyFile != "":
				pemBytes, err := os.ReadFile(keyFile)
				if err != nil {
					return err
				}
				pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
				if err != nil {
					return usagef("--key %s: not a PEM public key: %v", keyFile, err)
				}
				o.Key = pub
			case identity == "" || issuer == "":
				return usagef("give --key FILE, or both --certificate-identity and --certificate-oidc-issuer")
			}
			s, im, err := resolveImage(cmd, &f, args[0])
			if err != nil {
				return err
			}
			if o.Key == nil {
				if o.TrustedRoot, err = trustedRootFor(cmd, s, trustedRoot); err != nil {
					return err
				}
			}
			h, err := v1.NewHash(im.Digest)
			if err != nil {
				return err
			}
			atts := make([]images.Attachment, 0, len(im.Attachments))
			for _, a := range im.Attachments {
				att, err := images.ParseAttachment(a.Kind, a.Digest, a.Subject)
				if err != nil {
					return fmt.Errorf("image %s in the store: %w", im.Digest, err)
				}
				atts = append(atts, att)
			}
			res, verr := images.Verify(cmd.Context(), s, h, atts, o)
			if res == nil {
				return verr
			}
			if f.json {
				if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else if err := writeVerifyText(cmd.OutOrStdout(), res); err != nil {
				return err
			}
			if verr != nil {
				return verificationErr{verr}
			}
			return nil
		},
	}
	f.add(c, images.VerifySchema)
	c.Flags().StringVar(&keyFile, "key", "", "cosign public key (PEM)")
	c.Flags().StringVar(&identity, "certificate-identity", "", "keyless: the signer's identity (certificate SAN), exact")
	c.Flags().StringVar(&issuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer, exact")
	c.Flags().StringVar(&trustedRoot, "trusted-root", "", "keyless: a Sigstore trusted_root.json (default: the one a kit carried)")
	return c
}

// trustedRootFor reads --trusted-root, else the one trusted root the active
// kits carry; none or several is the user's to resolve (exit 2).
func trustedRootFor(cmd *cobra.Command, s *store.Store, file string) ([]byte, error) {
	if file != "" {
		return os.ReadFile(file)
	}
	b, err := s.SigstoreTrustedRoot(cmd.Context())
	var amb *store.AmbiguousTrustedRootError
	switch {
	case errors.Is(err, store.ErrNoTrustedRoot):
		return nil, usagef("%v: mirror one (docs/trust-sources.md) or pass --trusted-root FILE", err)
	case errors.As(err, &amb):
		return nil, usagef("%v: pass --trusted-root FILE", err)
	}
	return b, err
}

func writeVerifyText(w io.Writer, r *images.VerifyResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "image\t%s\n", r.Image)
	fmt.Fprintf(tw, "mode\t%s\n", r.Mode)
	verdict := "VERIFIED"
	if !r.Verified {
		verdict = "NOT VERIFIED"
	}
	fmt.Fprintf(tw, "result\t%s\n\n", verdict)
	fmt.Fprintln(tw, "KIND\tMANIFEST\tLAYER\tSUBJECT\tRESULT\tSIGNER\tTLOG")
	row := func(kind string, s images.SignatureRes) {
		res := "ok"
		if !s.OK {
			res = "FAIL: " + s.Error
		}
		signer := "-"
		if s.Identity != "" {
			signer = s.Identity + " (" + s.Issuer + ")"
		}
		if s.PredicateType != "" {
			kind += " " + s.PredicateType
		}
		fmt.Fprintf(tw, "%s\t%.19s…\t%d\t%.19s…\t%s\t%s\t%s\n", kind, s.Manifest, s.Layer, s.Subject, res, signer, s.Tlog)
	}
	for _, s := range r.Signatures {
		row("signature", s)
	}
	for _, s := range r.Attestations {
		row("attestation", s)
	}
	return tw.Flush()
}
