package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/internal/attestverify"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/verify"
)

// partSet returns the kit in parts that path names (NAME.NNN with
// NAME.parts.json beside it) and the part's number, or nil; NAME itself
// names its parts when only they are there. NAME.NNN
// beside other parts but without the index is a kit in parts too, so that
// the missing index is reported as such (KIT_PART_MISSING), not the part
// as a truncated kit.
func partSet(path string) (*bundle.PartSet, int) {
	k, n, ok := bundle.SplitPartPath(path)
	if !ok {
		// The kit's own name, when only its parts are there.
		if !exists(path) && exists(path+bundle.PartIndexSuffix) {
			return &bundle.PartSet{Kit: path}, 1
		}
		return nil, 0
	}
	if !bundle.IsPart(path) && !(exists(bundle.PartName(k, 1)) && exists(bundle.PartName(k, 2))) {
		return nil, 0
	}
	return &bundle.PartSet{Kit: k}, n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// verifyParts verifies a kit in parts (all of them, or part n alone).
func verifyParts(ctx context.Context, set *bundle.PartSet, n int, partOnly bool, src verify.TrustSource, opts verify.Options) (*verify.Report, error) {
	if partOnly {
		return verify.Part(set, n, src, opts)
	}
	opts.Attestations = attestverify.Verifier{}
	return verify.Parts(ctx, set, src, opts)
}

// writeSplitResult prints what mirror --split wrote.
func writeSplitResult(w io.Writer, jsonOut bool, res *kit.PartsResult) error {
	if jsonOut {
		return writeJSON(w, map[string]any{
			"kit": res.Index.Kit, "name": res.Info.Name, "channel": res.Info.Channel, "version": res.Info.Version,
			"created": res.Info.Created, "expires": res.Info.Expires, "targets": res.Targets,
			"contentBytes": res.ContentBytes, "targetsSha256": res.TargetsSHA256, "signerKeyIds": res.SignerKeyIDs,
			"parts": res.Paths, "partIndex": res.IndexPath, "partSize": res.Index.PartSize,
			"size": res.Index.Size, "sha256": res.Index.SHA256,
		})
	}
	for i, p := range res.Paths {
		fmt.Fprintf(w, "wrote %s (%d bytes, sha256 %s)\n", p, res.Index.Parts[i].Size, res.Index.Parts[i].SHA256)
	}
	fmt.Fprintf(w, "wrote %s (signed part index)\nchannel   %s\nversion   %d\ncreated   %s\nexpires   %s\nfiles     %d (%d bytes)\nkit       %d bytes in %d part(s), sha256:%s\ntargets   sha256:%s\n",
		res.IndexPath, res.Info.Channel, res.Info.Version, res.Info.Created.Format("2006-01-02T15:04:05Z"),
		res.Info.Expires.Format("2006-01-02T15:04:05Z"), res.Targets, res.ContentBytes,
		res.Index.Size, len(res.Paths), res.Index.SHA256, res.TargetsSHA256)
	return nil
}

// partOnlyUsage checks --part-only against the kit argument.
func partOnlyUsage(path string, set *bundle.PartSet) error {
	if set == nil {
		return usagef("--part-only needs a part of a kit written in parts (NAME.NNN with NAME%s beside it), not %s", bundle.PartIndexSuffix, path)
	}
	return nil
}

// openPartsForImport checks a kit in parts before the import reads it: the
// signed index and that every part is there with its size. A failure is a
// verification failure (exit 3) listing every bad part on w.
func openPartsForImport(w io.Writer, set *bundle.PartSet, src verify.TrustSource) (*bundle.PartReader, error) {
	if _, err := verify.OpenPartIndex(set, src); err != nil {
		if bundle.CodeOf(err) != "" {
			return nil, verificationErr{importAdvice(err)}
		}
		return nil, err
	}
	if errs := set.Check(); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(w, e)
		}
		return nil, verificationErr{fmt.Errorf("%d part(s) missing or invalid, first: %w; nothing was imported", len(errs), errs[0])}
	}
	return set.Reader(true), nil
}

// reportPartFailures lists the parts that stopped an import.
func reportPartFailures(w io.Writer, r *bundle.PartReader) {
	for _, e := range r.Failures() {
		fmt.Fprintln(w, e)
	}
}

// openUnverified opens a whole kit, or a kit in parts through its part
// index read without checking its signature, for commands that read a kit
// as it claims to be (inspect, kit diff without --root).
func openUnverified(path string) (io.ReadCloser, error) {
	set, _ := partSet(path)
	if set == nil {
		return os.Open(path)
	}
	data, err := os.ReadFile(set.IndexPath())
	if err != nil {
		return nil, err
	}
	if _, set.Index, err = bundle.ParsePartIndex(filepath.Base(set.IndexPath()), data); err != nil {
		return nil, err
	}
	return set.Reader(false), nil
}
