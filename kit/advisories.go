package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/mirror"
	"go.yaml.in/yaml/v3"
)

func init() {
	sourceKinds["advisories"] = parseAdvisorySources
}

// AdvisorySource is one entry of kit.yaml's advisories: an OSV database
// (dir, zip or url), a CISA KEV catalog or EPSS scores (file or url).
type AdvisorySource struct {
	name, feed  string // feed: osv, kev or epss
	location    location
	skipInvalid bool
	line        int
	file        string
}

// location is where a feed comes from: exactly one of a local directory,
// a local file (zip or plain) or a URL.
type location struct {
	Dir, File, URL string
	// AsWritten is the dir or file as kit.yaml wrote it, for the
	// provenance: the resolved path depends on where the spec lies, and
	// a kit must not (the same spec in two checkouts builds the same kit).
	AsWritten string
	Insecure  bool
}

var _ Source = (*AdvisorySource)(nil)

// Kind implements Source.
func (s *AdvisorySource) Kind() string { return "advisories" }

// Name implements Source.
func (s *AdvisorySource) Name() string { return s.name }

func parseAdvisorySources(p *parser, key, v *yaml.Node) []Source {
	if v.Kind != yaml.SequenceNode {
		p.add(v, "advisories", SpecInvalidYAML, "advisories is a list of {name, osv|kev|epss}")
		return nil
	}
	var out []Source
	for i, item := range v.Content {
		field := fmt.Sprintf("advisories[%d]", i)
		m, ok := p.mapping(item, field, "name", "osv", "kev", "epss", "skip-invalid")
		if !ok {
			continue
		}
		s := &AdvisorySource{line: item.Line, file: p.file}
		s.name = p.sourceName(m, item, field)
		var feeds []string
		for _, f := range []string{"osv", "kev", "epss"} {
			if _, ok := m[f]; ok {
				feeds = append(feeds, f)
			}
		}
		if len(feeds) != 1 {
			p.add(item, field, SpecMissingSourceKind, "an advisories entry needs exactly one of osv, kev, epss (got %v)", feeds)
			continue
		}
		s.feed = feeds[0]
		allowed := []string{"file", "url", "insecure"}
		if s.feed == "osv" {
			allowed = []string{"dir", "zip", "url", "insecure"}
		}
		loc, ok := p.location(m[s.feed], field+"."+s.feed, allowed)
		if !ok {
			continue
		}
		s.location = loc
		if n, ok := m["skip-invalid"]; ok {
			if s.feed != "osv" {
				p.add(n, field+".skip-invalid", SpecUnknownField, "skip-invalid applies to osv sources only")
			}
			s.skipInvalid = p.boolean(n, field+".skip-invalid")
		}
		out = append(out, s)
	}
	return out
}

// sourceName reads and checks an entry's required name.
func (p *parser) sourceName(m map[string]*yaml.Node, item *yaml.Node, field string) string {
	n, ok := m["name"]
	if !ok {
		p.add(item, field+".name", SpecMissingName, "every source needs a name (it names its folder in the kit)")
		return field
	}
	name, ok := p.scalar(n, field+".name", SpecMissingName)
	if !ok {
		return field
	}
	if !nameRE().MatchString(name) {
		p.add(n, field+".name", SpecInvalidName, "%q: use letters, digits, '.', '_' or '-'", name)
	}
	return name
}

func (p *parser) boolean(n *yaml.Node, field string) bool {
	switch n.Value {
	case "true":
		return true
	case "false":
		return false
	}
	p.add(n, field, SpecInvalidYAML, "%s must be true or false", field)
	return false
}

// location parses {dir|zip|file|url: …, insecure: bool} and checks local
// paths exist and URLs are https (http only with insecure: true) — all
// before any network access.
func (p *parser) location(n *yaml.Node, field string, allowed []string) (location, bool) {
	var loc location
	m, ok := p.mapping(n, field, allowed...)
	if !ok {
		return loc, false
	}
	if in, ok := m["insecure"]; ok {
		loc.Insecure = p.boolean(in, field+".insecure")
	}
	var set []string
	for _, k := range allowed {
		if k != "insecure" && m[k] != nil {
			set = append(set, k)
		}
	}
	if len(set) != 1 {
		keys := strings.Join(filterOut(allowed, "insecure"), ", ")
		p.add(n, field, SpecMissingSourceKind, "give exactly one of %s", keys)
		return loc, false
	}
	k := set[0]
	val, ok := p.scalar(m[k], field+"."+k, SpecMissingSrc)
	if !ok {
		return loc, false
	}
	switch k {
	case "url":
		u, err := url.Parse(val)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			p.add(m[k], field+".url", SpecInvalidURL, "%q is not an http(s) URL", val)
			return loc, false
		case u.Scheme == "http" && !loc.Insecure:
			p.add(m[k], field+".url", SpecInsecureURL, "%q is plain HTTP: use https, or set insecure: true to accept it knowingly", val)
			return loc, false
		}
		loc.URL = val
	case "dir":
		loc.Dir, loc.AsWritten = p.path(val), val
		if fi, err := os.Stat(loc.Dir); err != nil || !fi.IsDir() {
			p.add(m[k], field+".dir", SpecSourceNotFound, "%s is not a directory", val)
			return loc, false
		}
	default: // zip, file
		loc.File, loc.AsWritten = p.path(val), val
		if fi, err := os.Stat(loc.File); err != nil || !fi.Mode().IsRegular() {
			p.add(m[k], field+"."+k, SpecSourceNotFound, "%s is not a file", val)
			return loc, false
		}
	}
	return loc, true
}

func filterOut(ss []string, drop string) []string {
	var out []string
	for _, s := range ss {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// String is the location for the provenance: the URL, or the path as
// kit.yaml wrote it.
func (l location) String() string {
	if l.URL != "" {
		return l.URL
	}
	return l.AsWritten
}

// fetcher returns the HTTP fetcher for a build.
func fetcher(env *Env) *mirror.Fetcher {
	return &mirror.Fetcher{Client: env.HTTPClient, CacheDir: env.Cache, TempDir: env.TempDir, Logger: env.Logger}
}

// localFile returns a local path for a file location, downloading a URL.
func localFile(ctx context.Context, env *Env, l location) (path, digest string, fetchedAt string, err error) {
	if l.URL == "" {
		d, _, err := mirror.FileSHA256(l.File)
		return l.File, d, "", err
	}
	dl, err := fetcher(env).Get(ctx, l.URL)
	if err != nil {
		return "", "", "", err
	}
	return dl.Path, dl.SHA256, env.Created.UTC().Format(time.RFC3339), nil
}

// Fetch implements Source.
func (s *AdvisorySource) Fetch(ctx context.Context, env *Env) (*Fetched, error) {
	prov := Provenance{Name: s.name, Kind: s.Kind() + "/" + s.feed, From: s.location.String(), Counts: map[string]int{}}
	var files []bundle.File
	switch s.feed {
	case "osv":
		o := mirror.OSVOptions{SkipInvalid: s.skipInvalid, At: env.Created, TempDir: env.TempDir}
		var res *mirror.OSVResult
		var err error
		if s.location.Dir != "" {
			res, err = mirror.CollectOSVDir(ctx, s.location.Dir, o)
		} else {
			path, _, fetched, ferr := localFile(ctx, env, s.location)
			if ferr != nil {
				return nil, ferr
			}
			prov.FetchedAt = fetched
			res, err = mirror.CollectOSVZip(ctx, path, o)
		}
		if err != nil {
			return nil, err
		}
		prov.Digest = "sha256:" + res.Digest
		prov.Counts["records"], prov.Counts["withdrawn"], prov.Counts["skipped"] = res.Records, res.Withdrawn, len(res.Invalid)
		for _, inv := range res.Invalid {
			prov.Skipped = append(prov.Skipped, Skipped{Item: inv.File, ID: inv.ID, Reason: inv.Reason})
		}
		files = append(files, fileAt("advisories/"+s.name+"/osv.jsonl", res.Path, s.name, format.MediaOSVJSONL))
		prov.Files, prov.Bytes = 1, res.Size
	case "kev", "epss":
		path, digest, fetched, err := localFile(ctx, env, s.location)
		if err != nil {
			return nil, err
		}
		prov.FetchedAt, prov.Digest = fetched, "sha256:"+digest
		name, media := "kev.json", format.MediaKEV
		if s.feed == "kev" {
			st, err := mirror.ValidateKEV(path)
			if err != nil {
				return nil, err
			}
			prov.Counts["entries"] = st.Entries
		} else {
			st, err := mirror.ValidateEPSS(path)
			if err != nil {
				return nil, err
			}
			prov.Counts["scores"] = st.Scores
			name, media = "epss.csv", format.MediaEPSS
			if isGzip(path) {
				name += ".gz"
			}
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		files = append(files, fileAt("enrich/"+s.name+"/"+name, path, s.name, media))
		prov.Files, prov.Bytes = 1, fi.Size()
	}
	return &Fetched{Files: files, Provenance: prov}, nil
}

// fileAt is a kit file read from a local path, with its source and media
// type in the target's custom object.
func fileAt(kitPath, local, source, media string) bundle.File {
	return bundle.File{Path: kitPath, Custom: targetCustom(media, source), Open: func() (io.ReadCloser, error) { return openRegular(local) }}
}

// targetCustom is the custom object of a kit file's target: its media
// type and source. Marshalling two strings cannot fail (encoding/json
// replaces invalid UTF-8), so a failure is a bug in this package and
// panics rather than write a target without its custom object.
func targetCustom(media, source string) json.RawMessage {
	custom, err := json.Marshal(struct {
		MediaType string `json:"mediaType,omitempty"`
		Source    string `json:"source"`
	}{media, source})
	if err != nil {
		panic(fmt.Sprintf("kit: target custom object: %v", err))
	}
	return custom
}

func isGzip(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [2]byte
	n, _ := io.ReadFull(f, b[:])
	return n == 2 && bytes.Equal(b[:], []byte{0x1f, 0x8b})
}
