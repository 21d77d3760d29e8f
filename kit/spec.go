package kit

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/manifest"
	"github.com/ferry-dev/ferry/trust"
	"go.yaml.in/yaml/v3"
)

// DefaultExpiry is a kit's validity when kit.yaml sets none. Sneakernet is
// slow: a month.
const DefaultExpiry = 30 * 24 * time.Hour

// Spec is a parsed and validated kit.yaml.
type Spec struct {
	// File is the path of the spec; relative source paths are resolved
	// against its directory.
	File    string
	Name    string
	Channel string
	Version int64
	// Created is the kit's creation time, or zero when kit.yaml sets none
	// (the builder then uses SOURCE_DATE_EPOCH or the current time).
	Created time.Time
	// Expires is an absolute expiry, or zero; then ExpiresIn applies.
	Expires   time.Time
	ExpiresIn time.Duration
	// Root is the channel root file named in kit.yaml, resolved, or "".
	Root string
	// Freshness holds the age budget of each content type, for the store.
	Freshness map[string]time.Duration
	// Sources are the sources in spec order.
	Sources []Source
	// Registries is how to reach each registry (kit.yaml registries:), by
	// normalised host; see images.go.
	Registries map[string]Registry
}

// Dir is the directory relative paths of the spec are resolved against.
func (s *Spec) Dir() string { return filepath.Dir(s.File) }

// RootFile returns the channel root file to build with: override (a
// command-line choice) when set, else the root kit.yaml names, else
// trust/root.json beside kit.yaml. Its versioned chain lies beside it.
func (s *Spec) RootFile(override string) string {
	return cmp.Or(override, s.Root, filepath.Join(s.Dir(), "trust", "root.json"))
}

// ExpiryFor returns the kit's expiry given its creation time.
func (s *Spec) ExpiryFor(created time.Time) time.Time {
	if !s.Expires.IsZero() {
		return s.Expires
	}
	return created.Add(s.ExpiresIn)
}

// sourceParser parses one kit.yaml key that holds sources.
type sourceParser func(p *parser, key, value *yaml.Node) []Source

// sourceKinds are the kit.yaml keys that hold sources. Each kind of source
// registers itself here; nothing else in the spec code changes.
var sourceKinds = map[string]sourceParser{
	"files": parseFilesSources,
}

// futureKinds are source keys of the kit format that this build does not
// fetch yet: they get SPEC_UNKNOWN_SOURCE, not a silent skip.
var futureKinds = []string{"policies"}

// The kinds registered in other files of this package add themselves to
// sourceKinds from init functions.

// LoadSpec reads and validates a kit spec file. All problems come back
// together as SpecErrors.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSpec(path, data)
}

// ParseSpec validates a kit spec. path names it in errors and anchors
// relative paths. It reads no source content and opens no connection; it
// only checks that local sources exist.
func ParseSpec(path string, data []byte) (*Spec, error) {
	p := &parser{file: path, spec: &Spec{File: path, ExpiresIn: DefaultExpiry}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.add(nil, "", SpecInvalidYAML, "%v", err)
		return nil, p.errs
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		p.add(&doc, "", SpecInvalidYAML, "the spec must be a YAML mapping (name, channel, version, …)")
		return nil, p.errs
	}
	p.parseTop(doc.Content[0])
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return p.spec, nil
}

type parser struct {
	file string
	spec *Spec
	errs SpecErrors
	// later are checks that need the whole spec (e.g. images against
	// registries:, whichever comes first); they run after every key.
	later []func()
}

func (p *parser) add(n *yaml.Node, field string, code SpecCode, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &SpecError{File: p.file, Line: line, Field: field, Code: code, Msg: fmt.Sprintf(format, args...)})
}

// path resolves a path written in the spec against the spec's directory.
func (p *parser) path(s string) string {
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	return filepath.Join(filepath.Dir(p.file), s)
}

// scalar returns n's value if it is a non-empty scalar, else reports code.
func (p *parser) scalar(n *yaml.Node, field string, code SpecCode) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Value == "" || n.Tag == "!!null" {
		p.add(n, field, code, "%s must be a non-empty value", field)
		return "", false
	}
	return n.Value, true
}

// nameRE is compiled on first use, not at start-up: every ferry process
// (a scan too) would pay for compiling its counted repetition.
var nameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
})

func (p *parser) parseTop(m *yaml.Node) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if _, dup := seen[k.Value]; dup {
			p.add(k, k.Value, SpecInvalidYAML, "%q is given twice", k.Value)
			continue
		}
		seen[k.Value] = v
		switch k.Value {
		case "name":
			if s, ok := p.scalar(v, "name", SpecMissingName); ok {
				if !nameRE().MatchString(s) {
					p.add(v, "name", SpecInvalidName, "%q: use letters, digits, '.', '_' or '-' (at most 128)", s)
				}
				p.spec.Name = s
			}
		case "channel":
			if s, ok := p.scalar(v, "channel", SpecMissingChannel); ok {
				if err := trust.ValidChannel(s); err != nil {
					p.add(v, "channel", SpecInvalidChannel, "%v", err)
				}
				p.spec.Channel = s
			}
		case "version":
			if s, ok := p.scalar(v, "version", SpecMissingVersion); ok {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil || n < 1 {
					p.add(v, "version", SpecInvalidVersion, "%q: the kit version is a whole number ≥ 1 that grows with every kit of the channel", s)
				}
				p.spec.Version = n
			}
		case "created":
			if s, ok := p.scalar(v, "created", SpecInvalidCreated); ok {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					p.add(v, "created", SpecInvalidCreated, "%q: want an RFC 3339 time like 2026-11-28T00:00:00Z", s)
				}
				p.spec.Created = t.UTC().Truncate(time.Second)
			}
		case "expires":
			if s, ok := p.scalar(v, "expires", SpecInvalidExpires); ok {
				if t, err := time.Parse(time.RFC3339, s); err == nil {
					p.spec.Expires = t.UTC().Truncate(time.Second)
				} else if d, err := manifest.ParseDuration(s); err == nil {
					p.spec.ExpiresIn = d
				} else {
					p.add(v, "expires", SpecInvalidExpires, "%q: want a duration after created (30d, 2w, 36h) or an RFC 3339 time", s)
				}
			}
		case "root":
			if s, ok := p.scalar(v, "root", SpecSourceNotFound); ok {
				p.spec.Root = p.path(s)
				if _, err := os.Stat(p.spec.Root); err != nil {
					p.add(v, "root", SpecSourceNotFound, "channel root %s: %v", s, err)
				}
			}
		case "freshness":
			p.parseFreshness(v)
		default:
			if parse, ok := sourceKinds[k.Value]; ok {
				p.spec.Sources = append(p.spec.Sources, parse(p, k, v)...)
			} else if slices.Contains(futureKinds, k.Value) {
				p.add(k, k.Value, SpecUnknownSource, "source kind %q is not supported by this version of ferry (supported: %s)", k.Value, p.kinds())
			} else {
				p.add(k, k.Value, SpecUnknownField, "unknown field %q (known: name, channel, version, created, expires, root, freshness, %s)", k.Value, p.kinds())
			}
		}
	}
	for _, check := range p.later {
		check()
	}
	for _, req := range []struct {
		key  string
		code SpecCode
	}{{"name", SpecMissingName}, {"channel", SpecMissingChannel}, {"version", SpecMissingVersion}} {
		if _, ok := seen[req.key]; !ok {
			p.add(m, req.key, req.code, "%s is required", req.key)
		}
	}
	if !p.spec.Created.IsZero() && !p.spec.Expires.IsZero() && !p.spec.Expires.After(p.spec.Created) {
		p.add(seen["expires"], "expires", SpecInvalidExpires, "expires (%s) is not after created (%s)",
			p.spec.Expires.Format(time.RFC3339), p.spec.Created.Format(time.RFC3339))
	}
	p.checkUniqueNames()
}

func (p *parser) kinds() string {
	ks := make([]string, 0, len(sourceKinds))
	for k := range sourceKinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return fmt.Sprint(ks)
}

func (p *parser) parseFreshness(v *yaml.Node) {
	if v.Kind != yaml.MappingNode {
		p.add(v, "freshness", SpecInvalidFreshness, "freshness is a mapping of content type to age, e.g. {advisories: 7d}")
		return
	}
	p.spec.Freshness = map[string]time.Duration{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, d := v.Content[i], v.Content[i+1]
		field := "freshness." + k.Value
		switch k.Value {
		case "advisories", "vex", "images", "trust", "enrich", "files", "policy":
		default:
			p.add(k, field, SpecInvalidFreshness, "unknown content type %q (advisories, vex, images, trust, enrich, files, policy)", k.Value)
			continue
		}
		dur, err := manifest.ParseDuration(d.Value)
		if err != nil {
			p.add(d, field, SpecInvalidFreshness, "%v", err)
			continue
		}
		p.spec.Freshness[k.Value] = dur
	}
}

func (p *parser) checkUniqueNames() {
	seen := map[string]bool{}
	for _, s := range p.spec.Sources {
		if seen[s.Name()] {
			p.add(nil, s.Name(), SpecDuplicatePath, "two sources are named %q", s.Name())
		}
		seen[s.Name()] = true
	}
}

// mapping checks that n is a mapping with only the allowed keys and returns
// its values by key.
func (p *parser) mapping(n *yaml.Node, field string, allowed ...string) (map[string]*yaml.Node, bool) {
	if n.Kind != yaml.MappingNode {
		p.add(n, field, SpecInvalidYAML, "%s must be a mapping with %v", field, allowed)
		return nil, false
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(allowed, k.Value) {
			p.add(k, field+"."+k.Value, SpecUnknownField, "unknown field %q (known: %v)", k.Value, allowed)
			continue
		}
		out[k.Value] = n.Content[i+1]
	}
	return out, true
}

// CheckExpiry refuses a spec whose kit would already be expired at clock:
// created is the kit's creation time (the spec's, or the build's when the
// spec sets none), clock the real time read by the caller. A zero clock
// checks nothing.
func (s *Spec) CheckExpiry(created, clock time.Time) error {
	if clock.IsZero() {
		return nil
	}
	if created.IsZero() {
		created = clock
	}
	if exp := s.ExpiryFor(created); !exp.After(clock) {
		return fmt.Errorf("%s: the kit would already be expired: expires %s, now %s (fix created/expires, or --allow-expired)",
			s.File, exp.UTC().Format(time.RFC3339), clock.UTC().Format(time.RFC3339))
	}
	return nil
}
