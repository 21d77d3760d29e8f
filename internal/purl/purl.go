package purl

import (
	"strings"

	packageurl "github.com/package-url/packageurl-go"
)

// Parse parses s and normalises it. It fails when s is not a purl or has
// no name.
func Parse(s string) (packageurl.PackageURL, error) {
	p, err := packageurl.FromString(strings.TrimSpace(s))
	if err != nil {
		return packageurl.PackageURL{}, err
	}
	if p.Name == "" {
		return packageurl.PackageURL{}, errNoName
	}
	p.Type = strings.ToLower(p.Type)
	name := p.Name
	if p.Namespace != "" {
		name = p.Namespace + "/" + p.Name
	}
	switch p.Type {
	case "pypi":
		name = strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(name))
	case "github", "bitbucket", "oci":
		name = strings.ToLower(name)
	}
	p.Namespace, p.Name = "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		p.Namespace, p.Name = name[:i], name[i+1:]
	}
	p.Subpath = strings.Trim(p.Subpath, "/")
	if len(p.Qualifiers) > 0 {
		p.Qualifiers = packageurl.QualifiersFromMap(p.Qualifiers.Map())
	} else {
		p.Qualifiers = nil
	}
	return p, nil
}

// String writes p, as normalised by Parse, in its canonical form.
func String(p packageurl.PackageURL) string {
	s := p.ToString()
	if p.Type == "golang" {
		// Go module paths are written with their slashes.
		s = strings.ReplaceAll(s, "%2F", "/")
	}
	return s
}

// Normalize returns the canonical form of the purl s; ok is false when s
// does not parse.
func Normalize(s string) (string, bool) {
	p, err := Parse(s)
	if err != nil {
		return "", false
	}
	return String(p), true
}

// New builds the canonical purl of a package from its parts; name may hold
// the whole path (a Go module path) and ns be empty.
func New(typ, ns, name, version string, qualifiers map[string]string, subpath string) string {
	if ns != "" {
		name = ns + "/" + name
	}
	p := packageurl.PackageURL{Type: strings.ToLower(typ), Name: name, Version: version, Subpath: strings.Trim(subpath, "/")}
	if i := strings.LastIndexByte(name, '/'); i >= 0 && p.Type != "pypi" {
		p.Namespace, p.Name = name[:i], name[i+1:]
	}
	var q packageurl.Qualifiers
	for _, kv := range packageurl.QualifiersFromMap(qualifiers) {
		if kv.Value != "" {
			q = append(q, kv)
		}
	}
	p.Qualifiers = q
	return String(p)
}

// Base is the canonical purl without version, qualifiers and subpath, or
// "" when s is not a purl or has none of them.
func Base(s string) string {
	p, err := Parse(s)
	if err != nil || p.Version == "" && len(p.Qualifiers) == 0 && p.Subpath == "" {
		return ""
	}
	p.Version, p.Qualifiers, p.Subpath = "", nil, ""
	return String(p)
}
