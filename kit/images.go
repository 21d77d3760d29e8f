package kit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/internal/version"
	"github.com/ferry-dev/ferry/mirror"
	"github.com/google/go-containerregistry/pkg/authn"
	"go.yaml.in/yaml/v3"
)

func init() {
	sourceKinds["images"] = parseImagesSource
	sourceKinds["registries"] = parseRegistries
}

// ImageProvenance records one mirrored image in kit.json: the reference as
// written, the digest it resolved to, the platforms carried.
type ImageProvenance = mirror.ImageProvenance

// Registry is how to reach one registry, from kit.yaml's registries:.
type Registry struct {
	// Host is the normalised registry host[:port].
	Host string
	// Auth is "anonymous" (the default) or "docker-config": credentials
	// from the Docker config (docker login, credential helpers).
	Auth string
	// Insecure allows plain HTTP. Without it a registry reached over HTTP
	// (localhost, loopback, private addresses, .local) is refused.
	Insecure bool
}

// Registry auth values.
const (
	AuthAnonymous    = "anonymous"
	AuthDockerConfig = "docker-config"
)

// ImagesSource is kit.yaml's images: every image goes into the kit's one
// OCI image layout under images/, with its signatures, attestations, SBOMs
// and referrers.
type ImagesSource struct {
	// Images are the entries in spec order.
	Images []ImageEntry
	spec   *Spec
	file   string
	line   int
}

// ImageEntry is one entry of images:.
type ImageEntry struct {
	// Ref is the reference as written: a tag is resolved to a digest at
	// mirror time and kept only as a label.
	Ref string
	// Platforms are the platforms to carry of an index; empty means all.
	Platforms []string
	line      int
	host      string
}

var _ Source = (*ImagesSource)(nil)

// Kind implements Source.
func (s *ImagesSource) Kind() string { return "images" }

// Name implements Source.
func (s *ImagesSource) Name() string { return "images" }

func parseImagesSource(p *parser, key, v *yaml.Node) []Source {
	if v.Kind != yaml.SequenceNode {
		p.add(v, "images", SpecInvalidYAML, "images is a list of references, or of {ref, platforms}")
		return nil
	}
	s := &ImagesSource{spec: p.spec, file: p.file, line: key.Line}
	seen := map[string]bool{}
	for i, item := range v.Content {
		field := fmt.Sprintf("images[%d]", i)
		refNode := item
		var platforms *yaml.Node
		if item.Kind == yaml.MappingNode {
			m, ok := p.mapping(item, field, "ref", "platforms")
			if !ok {
				continue
			}
			refNode, platforms = m["ref"], m["platforms"]
			if refNode == nil {
				p.add(item, field+".ref", SpecInvalidImageReference, "ref is required, e.g. registry.example.com/app/api:1.4")
				continue
			}
			field += ".ref"
		}
		written, ok := p.scalar(refNode, field, SpecInvalidImageReference)
		if !ok {
			continue
		}
		ref, err := mirror.ParseReference(written, false)
		if err != nil {
			p.add(refNode, field, SpecInvalidImageReference, "%v", err)
			continue
		}
		if seen[written] {
			p.add(refNode, field, SpecInvalidImageReference, "%s is listed twice", written)
			continue
		}
		seen[written] = true
		e := ImageEntry{Ref: written, line: refNode.Line, host: ref.Context().RegistryStr()}
		if platforms != nil {
			e.Platforms = p.platforms(platforms, strings.TrimSuffix(field, ".ref")+".platforms")
		}
		if mirror.PlainHTTP(ref) {
			// registries: may come after images:, so decide once all is read.
			refNode, field := refNode, field
			p.later = append(p.later, func() {
				if !p.spec.Registries[e.host].Insecure {
					p.add(refNode, field, SpecHTTPRegistryBlocked,
						"%s would be reached over plain HTTP: add `%s: {insecure: true}` under registries: if you trust that network", written, e.host)
				}
			})
		}
		s.Images = append(s.Images, e)
	}
	if len(s.Images) == 0 {
		return nil
	}
	return []Source{s}
}

func (p *parser) platforms(n *yaml.Node, field string) []string {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.add(n, field, SpecUnknownPlatform, "platforms is a non-empty list like [linux/amd64, linux/arm64]; leave it out to carry all")
		return nil
	}
	var out []string
	for i, pn := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		s, ok := p.scalar(pn, f, SpecUnknownPlatform)
		if !ok {
			continue
		}
		pl, err := mirror.ParsePlatform(s)
		if err != nil {
			p.add(pn, f, SpecUnknownPlatform, "%v", err)
			continue
		}
		if !slices.Contains(out, pl.String()) {
			out = append(out, pl.String())
		}
	}
	return out
}

func parseRegistries(p *parser, key, v *yaml.Node) []Source {
	if v.Kind != yaml.MappingNode {
		p.add(v, "registries", SpecInvalidYAML, "registries is a mapping of registry host to {auth, insecure}")
		return nil
	}
	regs := map[string]Registry{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		field := "registries." + k.Value
		host, err := mirror.RegistryHost(k.Value)
		if err != nil {
			p.add(k, field, SpecInvalidRegistry, "%v", err)
			continue
		}
		if _, dup := regs[host]; dup {
			p.add(k, field, SpecInvalidRegistry, "registry %s is given twice", host)
			continue
		}
		r := Registry{Host: host, Auth: AuthAnonymous}
		if val.Kind != yaml.MappingNode && (val.Tag == "!!null" || val.Value == "") {
			regs[host] = r // "host:" alone: the defaults
			continue
		}
		m, ok := p.mapping(val, field, "auth", "insecure")
		if !ok {
			continue
		}
		if a, ok := m["auth"]; ok {
			switch a.Value {
			case AuthAnonymous, AuthDockerConfig:
				r.Auth = a.Value
			default:
				p.add(a, field+".auth", SpecInvalidRegistry, "auth %q: use %s or %s", a.Value, AuthDockerConfig, AuthAnonymous)
			}
		}
		if in, ok := m["insecure"]; ok {
			r.Insecure = p.boolean(in, field+".insecure")
		}
		regs[host] = r
	}
	p.spec.Registries = regs
	return nil
}

// Fetch implements Source: it resolves every image to its digest and
// returns the files of the kit's OCI image layout. Blobs are downloaded
// once into env.Cache (or the build's scratch directory) and streamed from
// there into the kit.
func (s *ImagesSource) Fetch(ctx context.Context, env *Env) (*Fetched, error) {
	dir := env.Cache
	if dir == "" {
		dir = env.TempDir
	}
	if dir == "" {
		return nil, errors.New("images: no cache or scratch directory (Env.Cache, Env.TempDir)")
	}
	cache, err := mirror.OpenBlobCache(filepath.Join(dir, "images"))
	if err != nil {
		return nil, err
	}
	opts := []mirror.ImagesOption{mirror.WithUserAgent("ferry/" + version.Version)}
	if env.Logger != nil {
		opts = append(opts, mirror.WithLogger(env.Logger))
	}
	if env.HTTPClient != nil && env.HTTPClient.Transport != nil {
		opts = append(opts, mirror.WithTransport(env.HTTPClient.Transport))
	}
	hosts := map[string]bool{}
	for _, r := range s.spec.Registries {
		cfg := mirror.RegistryConfig{Insecure: r.Insecure}
		if r.Auth == AuthDockerConfig {
			cfg.Keychain = authn.DefaultKeychain
		}
		opts = append(opts, mirror.WithRegistry(r.Host, cfg))
	}
	var refs []mirror.ImageRef
	for _, e := range s.Images {
		ref, err := mirror.ParseReference(e.Ref, s.spec.Registries[e.host].Insecure)
		if err != nil {
			return nil, s.err(e.line, SpecInvalidImageReference, "%v", err)
		}
		ir := mirror.ImageRef{Ref: ref, Written: e.Ref}
		for _, p := range e.Platforms {
			pl, err := mirror.ParsePlatform(p)
			if err != nil {
				return nil, s.err(e.line, SpecUnknownPlatform, "%v", err)
			}
			ir.Platforms = append(ir.Platforms, pl)
		}
		refs = append(refs, ir)
		hosts[e.host] = true
	}
	m, err := mirror.NewImages(refs, opts...)
	if err != nil {
		if errors.Is(err, mirror.ErrPlainHTTP) {
			return nil, s.err(s.line, SpecHTTPRegistryBlocked, "%v", err)
		}
		return nil, err
	}
	layout, err := m.Fetch(ctx, cache, env.Created)
	if err != nil {
		return nil, err
	}
	f := &Fetched{Provenance: Provenance{
		Name: s.Name(), Kind: s.Kind(), From: strings.Join(sortedKeys(hosts), ", "), Dest: mirror.LayoutDir + "/",
		Files: len(layout.Files), Bytes: layout.Bytes, FetchedAt: env.Created.UTC().Format(time.RFC3339), Images: layout.Images,
	}}
	for _, lf := range layout.Files {
		custom := map[string]string{"source": s.Name()}
		if lf.MediaType != "" {
			custom["mediaType"] = lf.MediaType
		}
		c, err := json.Marshal(custom)
		if err != nil {
			return nil, err
		}
		open := lf.Open
		// The digest and size are known: blobs were verified on download
		// and the cache re-checks them as the kit reads them, so
		// bundle.Write need not read every blob a second time to hash it.
		digest, err := hex.DecodeString(lf.Digest.Hex)
		if err != nil || lf.Digest.Algorithm != "sha256" {
			return nil, fmt.Errorf("images: %s: digest %s is not sha256", lf.Path, lf.Digest)
		}
		f.Files = append(f.Files, bundle.File{Path: lf.Path, Custom: c, Digest: digest, Size: lf.Size,
			Open: func() (io.ReadCloser, error) { return open() }})
	}
	return f, nil
}

func (s *ImagesSource) err(line int, code SpecCode, format string, args ...any) error {
	return &SpecError{File: s.file, Line: line, Field: s.Name(), Code: code, Msg: fmt.Sprintf(format, args...)}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
