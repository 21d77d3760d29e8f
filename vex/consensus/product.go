package consensus

import (
	"strings"

	"github.com/ferry-dev/ferry/internal/purl"
	"github.com/ferry-dev/ferry/vex"
	packageurl "github.com/package-url/packageurl-go"
)

// ref is a product identifier made comparable: a purl normalised (type
// lower case, Go module paths without percent-encoding, PyPI names
// lower case with '-'), an OCI image digest, or an opaque id (a CSAF
// product id, a CPE, an IRI) compared exactly.
type ref struct {
	raw string
	// For a purl: type, full name (namespace/name), version, qualifiers
	// and subpath.
	purl       bool
	typ, name  string
	version    string
	qualifiers map[string]string
	subpath    string
	// digest is "sha256:<hex>" for an OCI image (a pkg:oci purl's version
	// or a bare digest).
	digest string
	// rng is a version range ("vers:…") the product stands for.
	rng string
	// canon is canonical(), computed once; k is key(), computed once.
	canon string
	k     string
}

// refCache memoises parseRef: statements name the same products again
// and again. It is used while an Engine is built, by one goroutine.
type refCache map[string]refParsed

type refParsed struct {
	r  ref
	ok bool
}

func (c refCache) parse(s string) (ref, bool) {
	if c == nil {
		return parseRef(s)
	}
	if p, ok := c[s]; ok {
		return p.r, p.ok
	}
	r, ok := parseRef(s)
	c[s] = refParsed{r, ok}
	return r, ok
}

// parseRef parses s; ok is false for a purl that does not parse and for
// an empty string.
func parseRef(s string) (ref, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return ref{}, false
	}
	if isDigest(s) {
		r := ref{raw: s, digest: strings.ToLower(s)}
		r.canon = r.canonical()
		r.k = r.computeKey()
		return r, true
	}
	if !strings.HasPrefix(strings.ToLower(s), "pkg:") {
		r := ref{raw: s, canon: s}
		r.k = r.computeKey()
		return r, true
	}
	p, err := purl.Parse(s)
	if err != nil {
		return ref{}, false
	}
	r := ref{raw: s, purl: true, typ: p.Type, version: p.Version, subpath: p.Subpath}
	r.name = p.Name
	if p.Namespace != "" {
		r.name = p.Namespace + "/" + p.Name
	}
	if len(p.Qualifiers) > 0 {
		r.qualifiers = p.Qualifiers.Map()
	}
	if r.typ == "oci" && isDigest(r.version) {
		r.digest = strings.ToLower(r.version)
	}
	r.canon = r.canonical()
	r.k = r.computeKey()
	return r, true
}

func isDigest(s string) bool {
	h, ok := strings.CutPrefix(strings.ToLower(s), "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	return strings.Trim(h, "0123456789abcdef") == ""
}

// key is the index key of a ref: what two refs that may cover each other
// share (the digest, the purl without version, or the opaque id).
func (r ref) key() string {
	if r.k != "" {
		return r.k
	}
	return r.computeKey()
}

func (r ref) computeKey() string {
	switch {
	case r.digest != "":
		return "d:" + r.digest
	case r.purl:
		return "p:" + r.typ + "/" + r.name
	}
	return "i:" + r.raw
}

// canonical is the form a ref is shown and grouped by: the normalised
// purl (qualifiers kept, sorted), the digest, or the id.
func (r ref) canonical() string {
	if r.canon != "" {
		if r.rng != "" && !strings.HasSuffix(r.canon, " "+r.rng) {
			return r.canon + " " + r.rng
		}
		return r.canon
	}
	switch {
	case r.digest != "" && !r.purl:
		return r.digest
	case r.purl:
		ns, name := "", r.name
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			ns, name = name[:i], name[i+1:]
		}
		p := packageurl.PackageURL{Type: r.typ, Namespace: ns, Name: name, Version: r.version, Subpath: r.subpath, Qualifiers: packageurl.QualifiersFromMap(r.qualifiers)}
		if r.digest != "" {
			// An image is its digest: where it was pulled from does not
			// make it another product.
			p.Qualifiers, p.Subpath = nil, ""
		}
		s := purl.String(p)
		if r.rng != "" {
			s += " " + r.rng
		}
		return s
	}
	return r.raw
}

// covers reports whether a statement about s applies to the product q:
// the same digest; or the same purl type and name, s without a version (or
// a version range holding q's version) or with q's version, qualifiers and
// subpath equal where both have them; or the same opaque id.
func covers(s, q ref) bool {
	if s.digest != "" || q.digest != "" {
		return s.digest != "" && s.digest == q.digest
	}
	if s.purl != q.purl {
		return false
	}
	if !s.purl {
		return s.raw == q.raw
	}
	if s.typ != q.typ || s.name != q.name {
		return false
	}
	switch {
	case s.rng != "":
		if q.version == "" || !inRange(s.rng, s.typ, q.version) {
			return false
		}
	case s.version != "" && s.version != q.version:
		return false
	}
	for k, v := range s.qualifiers {
		if w, ok := q.qualifiers[k]; ok && w != v {
			return false
		}
	}
	if s.subpath != "" && q.subpath != "" && s.subpath != q.subpath {
		return false
	}
	return true
}

// productRefs are the refs a statement product is found by: its purl (or
// id when it has none), its id when that is something else, its hashes,
// and for a CSAF relationship the component's. ok is false when the
// product has no usable identifier or a purl that does not parse.
func productRefs(c refCache, p vex.Product) ([]ref, bool) {
	var out []ref
	add := func(s string) bool {
		if s == "" {
			return true
		}
		r, ok := c.parse(s)
		if !ok {
			return false
		}
		if p.VersionRange != "" {
			r.rng = p.VersionRange
			r.canon = r.canonical()
		}
		out = append(out, r)
		return true
	}
	if !add(p.PURL) {
		return nil, false
	}
	if p.ID != p.PURL && !add(p.ID) {
		return nil, false
	}
	if p.CPE != "" && p.CPE != p.ID {
		add(p.CPE)
	}
	for _, h := range p.Hashes {
		if isDigest(h) {
			add(h)
		}
	}
	if p.Relationship != nil {
		rs, ok := productRefs(c, p.Relationship.Component)
		if !ok {
			return nil, false
		}
		out = append(out, rs...)
	}
	return out, len(out) > 0
}

// Selects reports whether a product filter (a purl, digest or id; a purl
// without a version stands for every version) selects the product shown
// in a result.
func Selects(filter, product string) bool {
	f, ok := parseRef(filter)
	if !ok || product == "" {
		return false
	}
	p, ok := parseRef(strings.SplitN(product, " ", 2)[0])
	if !ok {
		return false
	}
	return covers(f, p) || covers(p, f)
}
