package scan

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	purls "github.com/ferry-dev/ferry/internal/purl"
	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
)

// maxSBOM caps an SBOM file.
const maxSBOM = 512 << 20

// sbomInventory reads a CycloneDX JSON or SPDX JSON SBOM. Components are
// identified by their package URL; a component without one cannot be
// matched and is reported as not evaluated.
func sbomInventory(name string) ([]Package, []NotEvaluated, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return readSBOM(f, name)
}

// readSBOM reads a CycloneDX JSON or SPDX JSON SBOM from r, at most
// maxSBOM bytes; name names it in errors.
func readSBOM(r io.Reader, name string) ([]Package, []NotEvaluated, error) {
	br := bufio.NewReader(io.LimitReader(r, maxSBOM))
	head, _ := br.Peek(64 << 10)
	switch {
	case bytes.Contains(head, []byte(`"bomFormat"`)):
		return cdxInventory(br, name)
	case bytes.Contains(head, []byte(`"spdxVersion"`)):
		return spdxInventory(br, name)
	}
	return nil, nil, fmt.Errorf("%s: %w", name, ErrSBOMFormat)
}

func cdxInventory(r io.Reader, name string) ([]Package, []NotEvaluated, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(r, cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, nil, fmt.Errorf("%s: CycloneDX: %w", name, err)
	}
	if bom.BOMFormat != cdx.BOMFormat {
		return nil, nil, fmt.Errorf("%s: %w", name, ErrSBOMFormat)
	}
	var pkgs []Package
	var notEval []NotEvaluated
	var walk func(cs *[]cdx.Component)
	walk = func(cs *[]cdx.Component) {
		if cs == nil {
			return
		}
		for _, c := range *cs {
			// The component's reference in findings: its bom-ref, else
			// its name, else its purl (neither is required).
			ref := cmp.Or(c.BOMRef, c.Name, c.PackageURL)
			// A component with a purl scan cannot map (pkg:generic,
			// pkg:oci, an unknown type) is not evaluated, whatever its
			// type: leaving it out would read as clean.
			if p, ok, why := fromPURL(c.PackageURL); ok {
				p.Location = Location{SBOMRef: ref}
				pkgs = append(pkgs, p)
			} else if c.PackageURL != "" || c.Type == cdx.ComponentTypeLibrary || c.Type == cdx.ComponentTypeApplication || c.Type == cdx.ComponentTypeFramework || c.Type == cdx.ComponentTypeOS {
				notEval = append(notEval, NotEvaluated{Package: PackageRef{Name: c.Name, Version: c.Version, PURL: c.PackageURL}, Location: Location{SBOMRef: ref}, Reason: why})
			}
			walk(c.Components)
		}
	}
	walk(bom.Components)
	return pkgs, notEval, nil
}

func spdxInventory(r io.Reader, name string) ([]Package, []NotEvaluated, error) {
	doc, err := readSPDX(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: SPDX: %w", name, err)
	}
	var pkgs []Package
	var notEval []NotEvaluated
	for i, sp := range doc.Packages {
		if sp == nil {
			// spdx/tools-golang leaves an entry it could not convert
			// (an older SPDX version's) nil: it was not scanned.
			notEval = append(notEval, NotEvaluated{Location: Location{SBOMRef: fmt.Sprintf("packages[%d]", i)},
				Reason: "the SPDX package entry could not be read"})
			continue
		}
		ref := "SPDXRef-" + string(sp.PackageSPDXIdentifier)
		purl := ""
		for _, er := range sp.PackageExternalReferences {
			if er != nil && er.RefType == "purl" {
				purl = er.Locator
				break
			}
		}
		if p, ok, why := fromPURL(purl); ok {
			p.Location = Location{SBOMRef: ref}
			pkgs = append(pkgs, p)
		} else {
			notEval = append(notEval, NotEvaluated{Package: PackageRef{Name: sp.PackageName, Version: sp.PackageVersion, PURL: purl}, Location: Location{SBOMRef: ref}, Reason: why})
		}
	}
	return pkgs, notEval, nil
}

// readSPDX reads an SPDX JSON document. spdx/tools-golang panics on some
// malformed documents (a null package of an SPDX 2.3 document): the scan
// of such a file fails with an error instead of crashing ferry.
func readSPDX(r io.Reader) (doc *spdx.Document, err error) {
	defer func() {
		if p := recover(); p != nil {
			doc, err = nil, fmt.Errorf("%w: the SPDX parser failed on the document: %v", ErrSBOMFormat, p)
		}
	}()
	return spdxjson.Read(r)
}

// fromPURL maps a package URL to an OSV ecosystem and package name.
func fromPURL(s string) (Package, bool, string) {
	if s == "" {
		return Package{}, false, "no package URL: cannot be matched"
	}
	u, err := packageurl.FromString(s)
	if err != nil {
		return Package{}, false, "invalid package URL: " + err.Error()
	}
	q := map[string]string{}
	for _, kv := range u.Qualifiers {
		q[kv.Key] = kv.Value
	}
	// The package keeps the canonical spelling of its purl, so that VEX
	// statements written either way find it.
	canon, _ := purls.Normalize(s)
	p := Package{Name: u.Name, Version: u.Version, PURL: cmp.Or(canon, s)}
	withNS := func(sep string) string {
		if u.Namespace == "" {
			return u.Name
		}
		return u.Namespace + sep + u.Name
	}
	switch u.Type {
	case "golang":
		p.Ecosystem, p.Name = "Go", withNS("/")
		p.Version = strings.TrimPrefix(p.Version, "v")
		switch p.Name {
		case "std", "stdlib":
			// The standard library: cyclonedx-gomod writes
			// pkg:golang/std@go1.22.0, others stdlib@1.22.0; the Go
			// vulndb calls it stdlib, with semver versions.
			v := goTagToSemver(p.Version)
			if v == "" {
				return Package{}, false, "package URL " + s + ": Go standard library version not understood"
			}
			p.Name, p.Version = "stdlib", v
		case "toolchain":
			if v := goTagToSemver(p.Version); v != "" {
				p.Version = v
			}
		}
		p.GOOS, p.GOARCH = q["goos"], q["goarch"]
	case "npm":
		p.Ecosystem, p.Name = "npm", withNS("/")
	case "pypi":
		p.Ecosystem = "PyPI"
	case "maven":
		p.Ecosystem, p.Name = "Maven", withNS(":")
	case "gem":
		p.Ecosystem = "RubyGems"
	case "cargo":
		p.Ecosystem = "crates.io"
	case "nuget":
		p.Ecosystem = "NuGet"
	case "composer":
		p.Ecosystem, p.Name = "Packagist", withNS("/")
	case "hex":
		p.Ecosystem = "Hex"
	case "pub":
		p.Ecosystem = "Pub"
	case "deb":
		p.Ecosystem = distroEcosystem(u.Namespace, q["distro"])
		if src := q["upstream"]; src != "" {
			p.SourceName, _, _ = strings.Cut(src, "@")
		}
	case "apk":
		p.Ecosystem = distroEcosystem(u.Namespace, q["distro"])
	case "rpm":
		p.Ecosystem = distroEcosystem(u.Namespace, q["distro"])
	default:
		return Package{}, false, "package URL type " + u.Type + " has no OSV ecosystem here"
	}
	if p.Ecosystem == "" {
		return Package{}, false, "package URL " + s + ": unknown distribution"
	}
	if p.Version == "" {
		return Package{}, false, "package URL " + s + " has no version"
	}
	return p, true, ""
}

// distroEcosystem maps a purl namespace and distro qualifier to an OSV
// ecosystem with release: deb debian + debian-12 -> Debian:12, apk alpine
// + alpine-3.18.4 -> Alpine:v3.18.
func distroEcosystem(ns, distro string) string {
	_, rel, _ := strings.Cut(distro, "-")
	switch strings.ToLower(ns) {
	case "debian":
		if rel != "" {
			major, _, _ := strings.Cut(rel, ".")
			return "Debian:" + major
		}
		return "Debian"
	case "ubuntu":
		if rel != "" {
			return "Ubuntu:" + rel
		}
		return "Ubuntu"
	case "alpine":
		if rel != "" {
			parts := strings.Split(rel, ".")
			if len(parts) >= 2 {
				return "Alpine:v" + parts[0] + "." + parts[1]
			}
		}
		return "Alpine"
	case "redhat":
		return "Red Hat"
	case "rocky":
		return "Rocky Linux"
	case "almalinux":
		return "AlmaLinux"
	case "opensuse":
		return "openSUSE"
	case "suse":
		return "SUSE"
	case "wolfi":
		return "Wolfi"
	case "chainguard":
		return "Chainguard"
	}
	return ""
}
