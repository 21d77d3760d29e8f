package push_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/format"
	"github.com/ferry-dev/ferry/push"
	"github.com/ferry-dev/ferry/store"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestItems(t *testing.T) {
	img := "sha256:" + strings.Repeat("a", 64)
	sig := "sha256:" + strings.Repeat("b", 64)
	ref := "sha256:" + strings.Repeat("c", 64)
	hash := func(s string) v1.Hash {
		h, err := v1.NewHash(s)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	image := func(repos []string, atts ...store.ImageAttachment) store.Image {
		return store.Image{Digest: img, MediaType: string(types.OCIManifestSchema1), Repositories: repos,
			Manifests: []store.ImageManifest{{Digest: img, Size: 500}}, Attachments: atts}
	}
	imgDesc := v1.Descriptor{Digest: hash(img), MediaType: types.OCIManifestSchema1, Size: 500}
	for _, tc := range []struct {
		name    string
		ims     []store.Image
		want    []push.Item
		wantErr string
		is      error
	}{
		{
			name: "every repository the image came from",
			ims:  []store.Image{image([]string{"registry.example.com/app/api", "mirror.example.org/team/api"})},
			want: []push.Item{{Repository: "app/api", Desc: imgDesc}, {Repository: "team/api", Desc: imgDesc}},
		},
		{
			name: "attachments: where found, else the first repository",
			ims: []store.Image{image([]string{"registry.example.com/app/api"},
				store.ImageAttachment{Kind: format.KindSignature, Digest: sig, MediaType: string(types.OCIManifestSchema1), Size: 300, Tag: "sha256-" + strings.Repeat("a", 64) + ".sig"},
				store.ImageAttachment{Kind: format.KindReferrer, Digest: ref, MediaType: string(types.OCIManifestSchema1), Size: 200, Repository: "registry.example.com/app/sigs"})},
			want: []push.Item{
				{Repository: "app/api", Desc: imgDesc},
				{Repository: "app/api", Tag: "sha256-" + strings.Repeat("a", 64) + ".sig", Desc: v1.Descriptor{Digest: hash(sig), MediaType: types.OCIManifestSchema1, Size: 300}},
				{Repository: "app/sigs", Desc: v1.Descriptor{Digest: hash(ref), MediaType: types.OCIManifestSchema1, Size: 200}},
			},
		},
		{name: "nothing to push", ims: nil, want: nil},
		{
			name: "no repository", ims: []store.Image{image(nil)},
			wantErr: "image " + img, is: push.ErrNoRepository,
		},
		{
			name:    "malformed attachment digest",
			ims:     []store.Image{image([]string{"registry.example.com/app/api"}, store.ImageAttachment{Kind: format.KindSignature, Digest: "sha256:xyz"})},
			wantErr: `image ` + img + `: signature "sha256:xyz"`,
		},
		{
			name:    "malformed repository",
			ims:     []store.Image{image([]string{"registry.example.com/App/API"})},
			wantErr: `repository "registry.example.com/App/API"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := push.Items(tc.ims)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v is not %v", err, tc.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
		})
	}
}
