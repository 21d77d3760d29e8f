package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/kit"
	"github.com/ferry-dev/ferry/store"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ArtifactType is the artifactType of a kit's OCI manifest.
const ArtifactType = "application/vnd.ferry.kit.v1"

// MediaKitLayer is the media type of the manifest's one layer: the kit
// file (a zstd-compressed tar), byte-exact.
const MediaKitLayer = "application/vnd.ferry.kit.v1.tar+zstd"

// MediaEmpty is the OCI empty descriptor's media type, the config of an
// artifact manifest; its content is "{}".
const MediaEmpty = "application/vnd.oci.empty.v1+json"

// Annotations on a kit's manifest: hints for tags and logs, never trust
// (the kit's signed metadata is).
const (
	AnnotationChannel = "dev.ferry.kit.channel"
	AnnotationVersion = "dev.ferry.kit.version"
	AnnotationTitle   = "org.opencontainers.image.title"
)

// MaxManifest caps a kit manifest read from the registry.
const MaxManifest = 1 << 20

// Kit describes a kit file to publish.
type Kit struct {
	// Path is the kit file.
	Path string
	// Channel and Version come from the kit's signed metadata
	// (kit.Inspect, or the store's verified import); they name the tags
	// CHANNEL and CHANNEL-VERSION.
	Channel string
	Version int64
	// SHA256 is the kit file's digest (hex), when known.
	SHA256 string
	// Parts, when set, is the kit in parts (Path is its first part): it
	// is published as the one kit file the parts make, streamed from them.
	Parts *bundle.PartSet
}

// Published is what Publish did with one kit.
type Published struct {
	Channel string `json:"channel"`
	Version int64  `json:"version"`
	// Ref is REPO@sha256:… of the kit's manifest.
	Ref string `json:"ref"`
	// KitSHA256 is the digest of the kit file (the layer).
	KitSHA256 string `json:"kitSha256"`
	// Tags are the tags that now point at the manifest.
	Tags []string `json:"tags"`
	// Unchanged is true when the registry already had the kit under
	// both tags: nothing was written.
	Unchanged bool `json:"unchanged"`
	// ChannelTagKept is set when the channel tag was left on a newer
	// version already in the registry (the message says which).
	ChannelTagKept string `json:"channelTagKept,omitempty"`
}

// fileLayer is the kit file as a layer: its bytes are sent as they are.
type fileLayer struct {
	kit    Kit
	digest v1.Hash
	size   int64
}

func (l *fileLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error)  { return MediaKitLayer, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)   { return openKit(l.kit) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) { return openKit(l.kit) }

var _ v1.Layer = (*fileLayer)(nil)

func hashFile(k Kit) (v1.Hash, int64, error) {
	path := k.Path
	f, err := openKit(k)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, n, nil
}

// kitManifest is the OCI image manifest of a kit artifact. Its bytes
// depend only on the kit, so the same kit is the same manifest digest.
func kitManifest(k Kit, layer v1.Descriptor) ([]byte, error) {
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        v1.Descriptor{MediaType: MediaEmpty, Size: 2, Digest: emptyDigest(), Data: []byte("{}")},
		Layers:        []v1.Descriptor{layer},
		Annotations: map[string]string{
			AnnotationChannel: k.Channel,
			AnnotationVersion: strconv.FormatInt(k.Version, 10),
		},
	}
	return json.Marshal(m)
}

func emptyDigest() v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader([]byte("{}")))
	return h
}

// rawManifest is a manifest to put as it is.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// VersionTag is the tag of one kit version: CHANNEL-VERSION.
func VersionTag(channel string, version int64) string {
	return channel + "-" + strconv.FormatInt(version, 10)
}

// Publish pushes the kit file k.Path to repo as an OCI artifact
// (ArtifactType, the file as its one layer, byte-exact) and tags it
// CHANNEL-VERSION and CHANNEL. Publishing a kit the registry already has
// under both tags writes nothing. Another kit already under the version
// tag is ErrVersionTaken. The channel tag is not moved back: when it
// points at a newer version, it stays, and Published.ChannelTagKept says
// so. The kit's content is not verified here: every importer verifies it.
func Publish(ctx context.Context, repo string, k Kit, o Options) (*Published, error) {
	if k.Channel == "" || k.Version <= 0 {
		return nil, fmt.Errorf("%s: no channel or version", k.Path)
	}
	r, err := o.repository(repo)
	if err != nil {
		return nil, err
	}
	ro := o.remote(ctx)
	digest, size, err := hashFile(k)
	if err != nil {
		return nil, err
	}
	layer := &fileLayer{kit: k, digest: digest, size: size}
	raw, err := kitManifest(k, v1.Descriptor{MediaType: MediaKitLayer, Size: size, Digest: digest,
		Annotations: map[string]string{AnnotationTitle: VersionTag(k.Channel, k.Version) + ".kit.tar.zst"}})
	if err != nil {
		return nil, err
	}
	md, _, _ := v1.SHA256(bytes.NewReader(raw))
	out := &Published{Channel: k.Channel, Version: k.Version, Ref: r.Digest(md.String()).String(), KitSHA256: digest.Hex}

	vtag := r.Tag(VersionTag(k.Channel, k.Version))
	ctag := r.Tag(k.Channel)
	have, err := head(vtag, ro)
	if err != nil {
		return nil, err
	}
	if have != nil && *have != md {
		return nil, fmt.Errorf("%s: %w (%s, this kit is %s); a kit version is published once", vtag, ErrVersionTaken, have, md)
	}
	chanAt, err := head(ctag, ro)
	if err != nil {
		return nil, err
	}
	if have != nil && chanAt != nil && *chanAt == md {
		out.Unchanged = true
		out.Tags = []string{vtag.TagStr(), ctag.TagStr()}
		return out, nil
	}
	if have == nil {
		if err := remote.WriteLayer(r, layer, ro...); err != nil {
			return nil, fmt.Errorf("uploading %s: %w", k.Path, err)
		}
		if err := remote.WriteLayer(r, static.NewLayer([]byte("{}"), MediaEmpty), ro...); err != nil {
			return nil, fmt.Errorf("uploading the empty config: %w", err)
		}
		if err := remote.Put(vtag, rawManifest(raw), ro...); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", vtag, err)
		}
	}
	out.Tags = []string{vtag.TagStr()}
	if chanAt != nil {
		v, err := versionAt(ctag, ro)
		if err != nil {
			return nil, err
		}
		if v > k.Version {
			out.ChannelTagKept = fmt.Sprintf("%s stays on version %d, newer than %d", ctag, v, k.Version)
			return out, nil
		}
	}
	if err := remote.Put(ctag, rawManifest(raw), ro...); err != nil {
		return nil, fmt.Errorf("tagging %s: %w", ctag, err)
	}
	out.Tags = append(out.Tags, ctag.TagStr())
	return out, nil
}

// head returns the digest ref points at, or nil when it does not exist.
func head(ref name.Reference, ro []remote.Option) (*v1.Hash, error) {
	d, err := remote.Head(ref, ro...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return &d.Digest, nil
}

// versionAt reads the version annotation of the kit manifest at ref
// (0 when it has none).
func versionAt(ref name.Reference, ro []remote.Option) (int64, error) {
	a, err := resolve(ref, ro)
	if err != nil {
		return 0, err
	}
	return a.Version, nil
}

// ReadKit describes the kit file at path for Publish: its channel and
// version as its metadata claims them (kit.Inspect, unverified) and its
// sha256. A part of a kit in parts (NAME.001 with NAME.parts.json beside
// it) stands for the whole kit the parts make.
func ReadKit(path string) (Kit, error) {
	k := Kit{Path: path}
	if bundle.IsPart(path) {
		set, err := readPartIndex(path)
		if err != nil {
			return Kit{}, err
		}
		k.Parts = set
	}
	f, err := openKit(k)
	if err != nil {
		return Kit{}, err
	}
	defer f.Close()
	in, err := kit.Inspect(f)
	if err != nil {
		return Kit{}, fmt.Errorf("%s: %w", path, err)
	}
	d, _, err := hashFile(k)
	if err != nil {
		return Kit{}, err
	}
	k.Channel, k.Version, k.SHA256 = in.Info.Channel, in.Info.Version, d.Hex
	return k, nil
}

// CheckActive returns an error unless k is the active kit of its channel
// in s (same sha256): what the store imported and verified.
func CheckActive(ctx context.Context, s *store.Store, at time.Time, k Kit) error {
	in, err := s.Info(ctx, at)
	if err != nil {
		return err
	}
	for _, c := range in.Channels {
		if c.Channel != k.Channel {
			continue
		}
		if c.KitSHA256 != k.SHA256 {
			return fmt.Errorf("%s: %w: channel %s is at version %d (kit sha256 %s), this kit is version %d (sha256 %s)", k.Path, ErrNotActive, c.Channel, c.Version, c.KitSHA256, k.Version, k.SHA256)
		}
		return nil
	}
	return fmt.Errorf("%s: %w: the store has no channel %s", k.Path, ErrNotActive, k.Channel)
}
