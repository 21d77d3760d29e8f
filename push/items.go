package push

import (
	"errors"
	"fmt"

	"github.com/ferry-dev/ferry/store"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrNoRepository is returned by Items for an image the kit recorded no
// repository for: there is nowhere to push it.
var ErrNoRepository = errors.New("the kit recorded no repository for it")

// Items lists the manifests to push for ims: each image into every
// repository it came from, and each of its attachments into the
// repository it was found in (the image's first when the kit did not
// say), with its tag. Repositories lose their registry: Options.Registry
// takes its place. A malformed digest or repository fails with the image
// (and attachment) it belongs to; nothing is left out silently.
func Items(ims []store.Image) ([]Item, error) {
	var items []Item
	for _, im := range ims {
		desc, err := im.Descriptor()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Digest, err)
		}
		if len(im.Repositories) == 0 {
			return nil, fmt.Errorf("image %s: %w", im.Digest, ErrNoRepository)
		}
		for _, repo := range im.Repositories {
			p, err := repositoryPath(repo)
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", im.Digest, err)
			}
			items = append(items, Item{Repository: p, Desc: desc})
		}
		for _, a := range im.Attachments {
			h, err := v1.NewHash(a.Digest)
			if err != nil {
				return nil, fmt.Errorf("image %s: %s %q: %w", im.Digest, a.Kind, a.Digest, err)
			}
			repo := a.Repository
			if repo == "" {
				repo = im.Repositories[0]
			}
			p, err := repositoryPath(repo)
			if err != nil {
				return nil, fmt.Errorf("image %s: %s %s: %w", im.Digest, a.Kind, a.Digest, err)
			}
			items = append(items, Item{Repository: p, Tag: a.Tag,
				Desc: v1.Descriptor{Digest: h, MediaType: types.MediaType(a.MediaType), Size: a.Size}})
		}
	}
	return items, nil
}

// repositoryPath returns repo without its registry ("app/api").
func repositoryPath(repo string) (string, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return "", fmt.Errorf("repository %q: %w", repo, err)
	}
	return r.RepositoryStr(), nil
}
