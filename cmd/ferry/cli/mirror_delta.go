package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/internal/attestverify"
	"github.com/ferry-dev/ferry/kit"
)

// deltaFrom reads what a delta is made against: the base kit (--base) or
// the site's have-list (--have); nil when neither is given. The base's
// advisories, which a changed one may be patched on, are kept in a
// temporary directory until done is called.
func deltaFrom(ctx context.Context, base, have string, chain [][]byte, channel string) (from *bundle.DeltaFrom, done func(), err error) {
	switch {
	case base != "":
		tmp, err := os.MkdirTemp("", "ferry-base-")
		if err != nil {
			return nil, nil, err
		}
		done = func() { os.RemoveAll(tmp) }
		from, err := kit.DeltaFromKit(ctx, base, chain, channel, attestverify.Verifier{}, tmp)
		if err != nil {
			done()
			return nil, nil, err
		}
		return from, done, nil
	case have != "":
		f, err := os.Open(have)
		if err != nil {
			return nil, nil, fmt.Errorf("have-list: %w", err)
		}
		defer f.Close()
		from, err := kit.DeltaFromHave(f, have, channel)
		return from, func() {}, err
	}
	return nil, func() {}, nil
}

func deltaJSON(res *kit.BuildResult) map[string]any {
	d := res.Delta
	return map[string]any{
		"base": res.Info.Base, "fullTargetsSha256": d.FullTargetsSHA256, "fullTargets": d.FullTargets,
		"fullContentBytes": d.FullContentBytes, "carried": d.Carried, "carriedBytes": d.CarriedBytes,
		"patched": d.Patched, "patchBytes": d.PatchBytes, "removed": d.Removed,
	}
}

func printDelta(w io.Writer, res *kit.BuildResult) {
	d := res.Delta
	b := res.Info.Base
	if b.Have {
		fmt.Fprintf(w, "delta of  the have-list (channel %s v%d)\n", b.Channel, b.Version)
	} else {
		fmt.Fprintf(w, "delta of  %s v%d (targets sha256:%s)\n", b.Channel, b.Version, b.TargetsSHA256)
	}
	patches := ""
	if d.Patched > 0 {
		patches = fmt.Sprintf(", %d as patches (%d bytes)", d.Patched, d.PatchBytes)
	}
	fmt.Fprintf(w, "carries   %d of %d files (%d of %d bytes)%s and %s, %d removed\nfull kit  targets sha256:%s\n",
		d.Carried, d.FullTargets, d.CarriedBytes, d.FullContentBytes, patches, bundle.DeltaPath, len(d.Removed), d.FullTargetsSHA256)
}
