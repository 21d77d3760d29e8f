package vex

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gowebpki/jcs"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

// The @context values of the OpenVEX versions this package reads. go-vex
// reads a bare "https://openvex.dev/ns" as v0.0.1, and so do we.
const (
	contextV020 = openvex.Context + "/v" + openvex.SpecVersion // https://openvex.dev/ns/v0.2.0
	contextV001 = openvex.Context + "/v0.0.1"
)

// headerFields are the top-level fields of an OpenVEX document; the ones a
// misplaced header is recognised by.
var headerFields = []string{"@context", "@id", "author", "role", "timestamp", "last_updated", "version", "tooling", "statements"}

// ParseOpenVEX parses an OpenVEX document (v0.2.0, or v0.0.1 which is
// migrated to v0.2.0 as go-vex migrates it) and normalises its statements.
//
// It refuses, with a *DocumentError: malformed JSON and duplicate keys
// (ErrMalformed); a document without an OpenVEX @context (ErrNotOpenVEX);
// header fields nested under another key (ErrNestedHeader); an unknown
// version (ErrUnsupportedVersion); no author or no statements, a statement
// without a vulnerability, a product with no identifier (ErrMissingField);
// an unknown status or justification (ErrInvalidField).
func ParseOpenVEX(data []byte) (*Document, error) { return parseOpenVEX(data, true) }

// ParseOpenVEXStatementsUnchecked is ParseOpenVEX without the checks of
// single statements' status and justification: a statement with an
// unknown status or justification is returned as written, for a caller
// that drops such statements one by one with a reason (the consensus
// does) instead of refusing the document. Everything else is checked as
// ParseOpenVEX checks it.
func ParseOpenVEXStatementsUnchecked(data []byte) (*Document, error) {
	return parseOpenVEX(data, false)
}

func parseOpenVEX(data []byte, strict bool) (*Document, error) {
	const f = FormatOpenVEX
	top, _, err := topLevel(f, data)
	if err != nil {
		return nil, err
	}
	if err := checkHeaderPlacement(top); err != nil {
		return nil, err
	}
	var ctx string
	if err := json.Unmarshal(top["@context"], &ctx); err != nil {
		return nil, docErr(f, ErrInvalidField, "@context", "must be a string (a JSON-LD context list is not OpenVEX)")
	}
	var doc *openvex.VEX
	switch strings.TrimSuffix(ctx, "/") {
	case contextV020:
		doc, err = openvex.Parse(data)
	case openvex.Context, contextV001:
		doc, err = migrateV001(data)
	default:
		if !strings.HasPrefix(ctx, openvex.Context) {
			return nil, docErr(f, ErrNotOpenVEX, "@context", "%q is not an OpenVEX context (want %s)", ctx, contextV020)
		}
		return nil, docErr(f, ErrUnsupportedVersion, "@context", "%q: this version of ferry reads OpenVEX v0.0.1 and v0.2.0", ctx)
	}
	if err != nil {
		return nil, docErr(f, ErrMalformed, "", "%s", cleanJSONErr(err))
	}
	if err := validateOpenVEX(doc, strict); err != nil {
		return nil, err
	}
	canon, err := CanonicalDigest(doc)
	if err != nil {
		return nil, err
	}
	out := &Document{
		Format:          f,
		ID:              doc.ID,
		Digest:          digestOf(data),
		CanonicalDigest: canon,
		Issuer:          doc.Author,
		Timestamp:       utc(doc.Timestamp),
		OpenVEX:         doc,
	}
	if doc.Version != 0 {
		out.Version = strconv.Itoa(doc.Version)
	}
	docLast := utc(doc.LastUpdated)
	for i := range doc.Statements {
		s := &doc.Statements[i]
		ns := Statement{
			Vulnerability:   string(s.Vulnerability.Name),
			Status:          s.Status,
			Justification:   s.Justification,
			ImpactStatement: s.ImpactStatement,
			ActionStatement: s.ActionStatement,
			StatusNotes:     s.StatusNotes,
			Timestamp:       cmpOrTime(utc(s.Timestamp), out.Timestamp),
			LastUpdated:     cmpOrTime(utc(s.LastUpdated), docLast),
			Issuer:          out.Issuer,
			DocumentDigest:  out.Digest,
			DocumentID:      out.ID,
		}
		if ns.Vulnerability == "" {
			ns.Vulnerability = s.Vulnerability.ID
		} else if s.Vulnerability.ID != "" {
			ns.Aliases = append(ns.Aliases, s.Vulnerability.ID)
		}
		for _, a := range s.Vulnerability.Aliases {
			ns.Aliases = append(ns.Aliases, string(a))
		}
		for _, p := range s.Products {
			np := productFromComponent(p.Component)
			for _, sc := range p.Subcomponents {
				np.Subcomponents = append(np.Subcomponents, productFromComponent(sc.Component))
			}
			ns.Products = append(ns.Products, np)
		}
		out.Statements = append(out.Statements, ns)
	}
	SortStatements(out.Statements)
	return out, nil
}

// topLevel checks size and well-formedness (RFC 8785 parsing refuses
// duplicate keys and invalid UTF-8) and returns the top-level object and
// its JCS form.
func topLevel(f Format, data []byte) (map[string]json.RawMessage, []byte, error) {
	if len(data) > MaxDocumentSize {
		return nil, nil, docErr(f, ErrTooLarge, "", "%d bytes (at most %d)", len(data), MaxDocumentSize)
	}
	canon, err := jcs.Transform(data)
	if err != nil {
		return nil, nil, docErr(f, ErrMalformed, "", "%v", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return nil, nil, docErr(f, ErrMalformed, "", "the document must be a JSON object")
	}
	return top, canon, nil
}

// checkHeaderPlacement recognises a document whose OpenVEX header sits one
// level down (a vendor variant puts @context, @id, author, timestamp and
// version under "metadata"): read as OpenVEX it would have no context and no
// author, so it is refused with a message that says where the fields are.
func checkHeaderPlacement(top map[string]json.RawMessage) error {
	const f = FormatOpenVEX
	_, hasCtx := top["@context"]
	_, hasAuthor := top["author"]
	if hasCtx && hasAuthor {
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if slices.Contains(headerFields, k) {
			continue
		}
		var inner map[string]json.RawMessage
		if json.Unmarshal(top[k], &inner) != nil {
			continue
		}
		var found []string
		for _, h := range headerFields {
			if _, ok := inner[h]; ok {
				found = append(found, h)
			}
		}
		var innerCtx string
		if json.Unmarshal(inner["@context"], &innerCtx) == nil && strings.HasPrefix(innerCtx, openvex.Context) {
			return docErr(f, ErrNestedHeader, k, "the OpenVEX header fields %s are nested under %q; OpenVEX puts them at the top level of the document (this is a non-spec variant: convert it, or ask its publisher for spec OpenVEX)", strings.Join(found, ", "), k)
		}
	}
	if !hasCtx {
		return docErr(f, ErrNotOpenVEX, "@context", "the document has no @context (an OpenVEX document starts with \"@context\": %q)", contextV020)
	}
	return docErr(f, ErrMissingField, "author", "the document names no author (OpenVEX requires one: it identifies the issuer)")
}

func validateOpenVEX(doc *openvex.VEX, strict bool) error {
	const f = FormatOpenVEX
	if strings.TrimSpace(doc.Author) == "" {
		return docErr(f, ErrMissingField, "author", "the document names no author (OpenVEX requires one: it identifies the issuer)")
	}
	if len(doc.Statements) == 0 {
		return docErr(f, ErrMissingField, "statements", "the document has no statements")
	}
	for i := range doc.Statements {
		s := &doc.Statements[i]
		field := fmt.Sprintf("statements[%d]", i)
		if s.Vulnerability.Name == "" && s.Vulnerability.ID == "" {
			return docErr(f, ErrMissingField, field+".vulnerability", "the statement names no vulnerability (name or @id)")
		}
		if strict && !s.Status.Valid() {
			return docErr(f, ErrInvalidField, field+".status", "%q is not one of %s", s.Status, strings.Join(openvex.Statuses(), ", "))
		}
		if strict && s.Justification != "" && !s.Justification.Valid() {
			return docErr(f, ErrInvalidField, field+".justification", "%q is not one of %s", s.Justification, strings.Join(openvex.Justifications(), ", "))
		}
		for j, p := range s.Products {
			if p.ID == "" && len(p.Identifiers) == 0 && len(p.Hashes) == 0 {
				return docErr(f, ErrMissingField, fmt.Sprintf("%s.products[%d]", field, j), "the product has no @id, identifiers or hashes")
			}
			for k, sc := range p.Subcomponents {
				if sc.ID == "" && len(sc.Identifiers) == 0 && len(sc.Hashes) == 0 {
					return docErr(f, ErrMissingField, fmt.Sprintf("%s.products[%d].subcomponents[%d]", field, j, k), "the subcomponent has no @id, identifiers or hashes")
				}
			}
		}
	}
	return nil
}

func productFromComponent(c openvex.Component) Product {
	p := Product{ID: c.ID, PURL: c.Identifiers[openvex.PURL], CPE: cmp.Or(c.Identifiers[openvex.CPE23], c.Identifiers[openvex.CPE22])}
	if p.PURL == "" && strings.HasPrefix(c.ID, "pkg:") {
		p.PURL = c.ID
	}
	if p.ID == "" {
		p.ID = cmp.Or(p.PURL, p.CPE)
	}
	for _, alg := range slices.Sorted(maps.Keys(c.Hashes)) {
		p.Hashes = append(p.Hashes, string(alg)+":"+string(c.Hashes[alg]))
	}
	if p.ID == "" && len(p.Hashes) > 0 {
		p.ID = p.Hashes[0]
	}
	return p
}

func cmpOrTime(a, b time.Time) time.Time {
	if !a.IsZero() {
		return a
	}
	return b
}

func utc(t *time.Time) time.Time {
	if t == nil || t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// cleanJSONErr drops go-vex's uninformative "error: " prefix.
func cleanJSONErr(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("%s: a JSON %s where the format wants %s", ute.Field, ute.Value, ute.Type)
	}
	var te *time.ParseError
	if errors.As(err, &te) {
		return fmt.Sprintf("timestamp %s is not an RFC 3339 time", te.Value)
	}
	return strings.TrimPrefix(err.Error(), "error: ")
}

// migrateV001 reads an OpenVEX v0.0.1 document into the v0.2.0 model
// exactly as go-vex's own compatibility parser does (pkg/vex/compat.go).
// go-vex exposes that parser only through vex.Open, which reads a file
// path; this package parses bytes and never touches the file system, so
// the migration is repeated here and a conformance test
// (TestLegacyMigrationMatchesGoVEX) checks it against vex.Open on every
// v0.0.1 document of the real-data corpus.
func migrateV001(data []byte) (*openvex.VEX, error) {
	var old struct {
		ID         string     `json:"@id"`
		Author     string     `json:"author"`
		AuthorRole string     `json:"role"`
		Timestamp  *time.Time `json:"timestamp"`
		Version    string     `json:"version"`
		Tooling    string     `json:"tooling,omitempty"`
		Statements []struct {
			Vulnerability            string     `json:"vulnerability,omitempty"`
			VulnDescription          string     `json:"vuln_description,omitempty"`
			Timestamp                *time.Time `json:"timestamp,omitempty"`
			Products                 []string   `json:"products,omitempty"`
			Subcomponents            []string   `json:"subcomponents,omitempty"`
			Status                   string     `json:"status"`
			StatusNotes              string     `json:"status_notes,omitempty"`
			Justification            string     `json:"justification,omitempty"`
			ImpactStatement          string     `json:"impact_statement,omitempty"`
			ActionStatement          string     `json:"action_statement,omitempty"`
			ActionStatementTimestamp *time.Time `json:"action_statement_timestamp,omitempty"`
		} `json:"statements"`
	}
	if err := json.Unmarshal(data, &old); err != nil {
		return nil, fmt.Errorf("decoding OpenVEX v0.0.1: %w", err)
	}
	doc := &openvex.VEX{
		Metadata: openvex.Metadata{
			Context:    contextV020,
			ID:         old.ID,
			Author:     old.Author,
			AuthorRole: old.AuthorRole,
			Timestamp:  old.Timestamp,
			Version:    1,
			Tooling:    old.Tooling,
		},
		Statements: []openvex.Statement{},
	}
	if v, err := strconv.Atoi(old.Version); err == nil {
		doc.Version = v
	}
	for _, os := range old.Statements {
		ns := openvex.Statement{
			Status:                   openvex.Status(os.Status),
			StatusNotes:              os.StatusNotes,
			ActionStatement:          os.ActionStatement,
			ActionStatementTimestamp: os.ActionStatementTimestamp,
			Justification:            openvex.Justification(os.Justification),
			ImpactStatement:          os.ImpactStatement,
			Timestamp:                os.Timestamp,
			Vulnerability:            openvex.Vulnerability{Name: openvex.VulnerabilityID(os.Vulnerability), Description: os.VulnDescription},
		}
		for _, pid := range os.Products {
			np := openvex.Product{Component: openvex.Component{ID: pid}, Subcomponents: []openvex.Subcomponent{}}
			for _, sc := range os.Subcomponents {
				if sc != "" {
					np.Subcomponents = append(np.Subcomponents, openvex.Subcomponent{Component: openvex.Component{ID: sc}})
				}
			}
			ns.Products = append(ns.Products, np)
		}
		doc.Statements = append(doc.Statements, ns)
	}
	return doc, nil
}
