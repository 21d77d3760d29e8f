package vex

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"
)

// Format is a VEX document format.
type Format string

// The formats this package reads.
const (
	FormatOpenVEX Format = "openvex"
	FormatCSAF    Format = "csaf"
)

// MaxDocumentSize is the largest document the parsers accept (Red Hat's
// largest CSAF VEX files are tens of MiB).
const MaxDocumentSize = 256 << 20

// Document is one parsed VEX document and its normalised statements.
type Document struct {
	Format Format `json:"format"`
	// ID is the document's own identifier: the OpenVEX @id or the CSAF
	// document.tracking.id.
	ID string `json:"id"`
	// Version is the document's version as written (OpenVEX version, CSAF
	// tracking.version).
	Version string `json:"version,omitempty"`
	// Digest is "sha256:<hex>" of the bytes exactly as parsed (as fetched):
	// the name the document has in a kit.
	Digest string `json:"digest"`
	// CanonicalDigest is "sha256:<hex>" of the RFC 8785 form of the
	// normalised document: the same for documents that differ only in key
	// order, whitespace or statement order. For OpenVEX see CanonicalDigest;
	// for CSAF it is the JCS form of the document as written (CSAF arrays
	// keep their order).
	CanonicalDigest string `json:"canonicalDigest"`
	// Issuer is the OpenVEX author or the CSAF publisher name.
	Issuer string `json:"issuer"`
	// IssuerNamespace is the CSAF publisher namespace (a URL); "" for
	// OpenVEX.
	IssuerNamespace string `json:"issuerNamespace,omitempty"`
	// Timestamp is the OpenVEX document timestamp or the CSAF
	// current_release_date; zero when an (old) OpenVEX document has none.
	Timestamp time.Time `json:"timestamp,omitzero"`
	// OpenVEX is the go-vex form of an OpenVEX document (v0.0.1 documents
	// migrated to v0.2.0), nil for CSAF. Callers must not modify it.
	OpenVEX *openvex.VEX `json:"-"`
	// Statements are the normalised statements in SortStatements order.
	Statements []Statement `json:"statements"`
}

// Statement is one normalised VEX statement: what one issuer says about one
// vulnerability in a set of products.
type Statement struct {
	// Vulnerability is the main identifier (the OpenVEX vulnerability name,
	// else its @id; the CSAF cve, else the first ids[].text).
	Vulnerability string `json:"vulnerability"`
	// Aliases are the other identifiers, sorted, without Vulnerability.
	Aliases []string `json:"aliases,omitempty"`
	// Products are the products the statement is about, sorted by ID. An
	// OpenVEX v0.0.1 statement may have none (it then applies to the
	// document's subject).
	Products []Product `json:"products,omitempty"`
	// Status is one of the four OpenVEX statuses.
	Status openvex.Status `json:"status"`
	// Justification is set only for not_affected.
	Justification   openvex.Justification `json:"justification,omitempty"`
	ImpactStatement string                `json:"impactStatement,omitempty"`
	ActionStatement string                `json:"actionStatement,omitempty"`
	StatusNotes     string                `json:"statusNotes,omitempty"`
	// Timestamp is when the statement was known true: the statement's own
	// timestamp, else the document's. LastUpdated likewise.
	Timestamp   time.Time `json:"timestamp,omitzero"`
	LastUpdated time.Time `json:"lastUpdated,omitzero"`
	// Issuer and IssuerNamespace are the document's (see Document).
	Issuer          string `json:"issuer"`
	IssuerNamespace string `json:"issuerNamespace,omitempty"`
	// DocumentDigest is the Digest of the source document: the statement's
	// provenance, and its file name in a kit.
	DocumentDigest string `json:"documentDigest"`
	// DocumentID is the source document's own ID.
	DocumentID string `json:"documentId"`
}

// Product identifies a product a statement is about.
type Product struct {
	// ID is the OpenVEX @id (an IRI, often a purl) or the CSAF product_id.
	ID string `json:"id"`
	// Name is the CSAF full product name; "" for OpenVEX.
	Name string `json:"name,omitempty"`
	// PURL is the product's package URL: the OpenVEX identifiers.purl, else
	// its @id when that is a purl; the CSAF identification helper purl.
	PURL string `json:"purl,omitempty"`
	// CPE is the OpenVEX identifiers cpe23 (else cpe22) or the CSAF helper
	// cpe.
	CPE string `json:"cpe,omitempty"`
	// Hashes are "algorithm:value" strings, sorted.
	Hashes []string `json:"hashes,omitempty"`
	// Subcomponents are OpenVEX subcomponents, sorted by ID.
	Subcomponents []Product `json:"subcomponents,omitempty"`
	// VersionRange is the "vers:" range of a CSAF product defined under a
	// product_version_range branch: the product stands for the versions
	// the range holds.
	VersionRange string `json:"versionRange,omitempty"`
	// Relationship is set for a CSAF product defined by a product tree
	// relationship ("component X default_component_of platform Y").
	Relationship *Relationship `json:"relationship,omitempty"`
}

// Relationship is a CSAF product_tree relationship, resolved.
type Relationship struct {
	// Category is default_component_of, external_component_of,
	// installed_on, installed_with or optional_component_of.
	Category string `json:"category"`
	// Component is the product_reference, Platform the
	// relates_to_product_reference.
	Component Product `json:"component"`
	Platform  Product `json:"platform"`
}

// SortStatements orders statements by vulnerability, timestamp, status,
// products and then by every other field, so that equal inputs give equal
// output whatever order they came in.
func SortStatements(ss []Statement) {
	for i := range ss {
		ss[i].normalise()
	}
	slices.SortStableFunc(ss, compareStatements)
}

func (s *Statement) normalise() {
	s.Aliases = sortedUnique(s.Aliases, s.Vulnerability)
	for i := range s.Products {
		s.Products[i].normalise()
	}
	slices.SortFunc(s.Products, compareProducts)
	s.Products = slices.CompactFunc(s.Products, func(a, b Product) bool { return compareProducts(a, b) == 0 })
}

func (p *Product) normalise() {
	p.Hashes = sortedUnique(p.Hashes, "")
	for i := range p.Subcomponents {
		p.Subcomponents[i].normalise()
	}
	slices.SortFunc(p.Subcomponents, compareProducts)
}

// sortedUnique sorts ss, drops duplicates, empty strings and drop.
func sortedUnique(ss []string, drop string) []string {
	out := slices.DeleteFunc(slices.Clone(ss), func(s string) bool { return s == "" || s == drop })
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

func compareStatements(a, b Statement) int {
	if c := cmp.Or(
		strings.Compare(a.Vulnerability, b.Vulnerability),
		a.Timestamp.Compare(b.Timestamp),
		strings.Compare(string(a.Status), string(b.Status)),
		slices.CompareFunc(a.Products, b.Products, compareProducts),
	); c != 0 {
		return c
	}
	// A total order: ties are broken by the whole statement.
	return strings.Compare(mustJSON(a), mustJSON(b))
}

func compareProducts(a, b Product) int {
	if c := cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Name, b.Name), strings.Compare(a.PURL, b.PURL), strings.Compare(a.CPE, b.CPE)); c != 0 {
		return c
	}
	return strings.Compare(mustJSON(a), mustJSON(b))
}

// mustJSON marshals values of this package's own types, which cannot fail.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("vex: marshalling a statement: " + err.Error())
	}
	return string(b)
}

// Parse parses a document of the given format: ParseOpenVEX or ParseCSAF.
func Parse(f Format, data []byte) (*Document, error) {
	switch f {
	case FormatOpenVEX:
		return ParseOpenVEX(data)
	case FormatCSAF:
		return ParseCSAF(data)
	}
	return nil, fmt.Errorf("%w %q (want %s or %s)", ErrUnknownFormat, f, FormatOpenVEX, FormatCSAF)
}
