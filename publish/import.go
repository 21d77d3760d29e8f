package publish

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ferry-dev/ferry/store"
	"github.com/google/go-containerregistry/pkg/name"
)

// Imported is what Import did with the kit at a reference.
type Imported struct {
	Artifact *Artifact
	// Current is true when the kit blob is already the store's active kit
	// of its channel: nothing was downloaded or imported.
	Current bool
	// Result is the store's import result (nil when Current).
	Result *store.ImportResult
}

// Import resolves the kit at ref and imports it into s exactly as a kit
// file is imported (store.Store.Import: the same verification, rollback
// and trust rules), streaming it from the registry: the only copy is the
// store's own staging. A manifest that is not a kit, or does not match its
// digest, is refused before the kit blob is requested. A kit blob that
// does not match its digest fails the import before it commits. When the
// blob is the channel's active kit already (same sha256), nothing is
// downloaded. The Source of opts defaults to ref.
func Import(ctx context.Context, s *store.Store, ref name.Reference, opts store.ImportOptions, o Options) (*Imported, error) {
	a, err := Resolve(ctx, ref, o)
	if err != nil {
		return nil, err
	}
	out := &Imported{Artifact: a}
	if a.Channel != "" && !opts.DryRun && !opts.ForceActivate {
		if cur, err := activeKit(ctx, s, opts, a.Channel); err != nil {
			return nil, err
		} else if cur == a.Layer.Digest.Hex {
			out.Current = true
			return out, nil
		}
	}
	rc, err := Open(ctx, ref.Context(), a, o)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if opts.Source == "" {
		opts.Source = ref.String()
	}
	var r io.Reader = rc
	if o.Read != nil {
		r = o.Read(rc, a.Layer.Size)
	}
	out.Result, err = s.Import(ctx, r, opts)
	if err != nil {
		return out, err
	}
	if out.Result != nil && out.Result.KitSHA256 != "" && out.Result.KitSHA256 != a.Layer.Digest.Hex {
		// Unreachable with a registry client that checks blob digests;
		// said loudly if it ever is.
		return out, fmt.Errorf("%s: imported kit sha256 %s is not the manifest's %s", a.Ref, out.Result.KitSHA256, a.Layer.Digest.Hex)
	}
	return out, nil
}

// activeKit returns the sha256 of the channel's active kit in s, "" when
// there is none (or no store yet).
func activeKit(ctx context.Context, s *store.Store, opts store.ImportOptions, channel string) (string, error) {
	in, err := s.Info(ctx, opts.At)
	if err != nil {
		if isNoStore(err) {
			return "", nil
		}
		return "", err
	}
	for _, c := range in.Channels {
		if c.Channel == channel {
			return c.KitSHA256, nil
		}
	}
	return "", nil
}

func isNoStore(err error) bool { return errors.Is(err, store.ErrNoStore) }
