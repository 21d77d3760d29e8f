package vex

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	openvex "github.com/openvex/go-vex/pkg/vex"
)

// The CSAF document categories that carry VEX statements.
const (
	CSAFCategoryVEX              = "csaf_vex"
	CSAFCategorySecurityAdvisory = "csaf_security_advisory"
)

// maxRelationshipDepth bounds how deep relationship products may nest
// (a component of a component of …); deeper or cyclic chains are refused.
const maxRelationshipDepth = 8

// maxRelationshipSize bounds how many products one relationship product
// expands to (itself, its component and platform, theirs …).
const maxRelationshipSize = 64

// csafStatusLists maps each CSAF product_status list to an OpenVEX status,
// in the order the lists are read. "recommended" is not a status (it says
// which version to use, not whether one is affected) and is not read.
var csafStatusLists = []struct {
	name   string
	status openvex.Status
	get    func(*csafProductStatus) []string
}{
	{"known_affected", openvex.StatusAffected, func(p *csafProductStatus) []string { return p.KnownAffected }},
	{"first_affected", openvex.StatusAffected, func(p *csafProductStatus) []string { return p.FirstAffected }},
	{"last_affected", openvex.StatusAffected, func(p *csafProductStatus) []string { return p.LastAffected }},
	{"known_not_affected", openvex.StatusNotAffected, func(p *csafProductStatus) []string { return p.KnownNotAffected }},
	{"fixed", openvex.StatusFixed, func(p *csafProductStatus) []string { return p.Fixed }},
	{"first_fixed", openvex.StatusFixed, func(p *csafProductStatus) []string { return p.FirstFixed }},
	{"under_investigation", openvex.StatusUnderInvestigation, func(p *csafProductStatus) []string { return p.UnderInvestigation }},
}

// The CSAF 2.0 document, as much of it as VEX needs, with the field names
// of the CSAF 2.0 JSON schema. (github.com/gocsaf/csaf/v3's csaf package
// is not used here: it links net/http, which this offline package must not,
// and v3.7.0 cannot decode spec-valid documents that use "acknowledgments"
// or product groups; the tests check this reading against it.)
type csafDocument struct {
	Document *struct {
		Category    string `json:"category"`
		CSAFVersion string `json:"csaf_version"`
		Publisher   struct {
			Category  string `json:"category"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"publisher"`
		Title    string `json:"title"`
		Tracking struct {
			ID                 string `json:"id"`
			CurrentReleaseDate string `json:"current_release_date"`
			Version            string `json:"version"`
		} `json:"tracking"`
	} `json:"document"`
	ProductTree     *csafProductTree `json:"product_tree"`
	Vulnerabilities []csafVuln       `json:"vulnerabilities"`
}

type csafProductTree struct {
	Branches         []csafBranch          `json:"branches"`
	FullProductNames []csafFullProductName `json:"full_product_names"`
	ProductGroups    []struct {
		GroupID    string   `json:"group_id"`
		ProductIDs []string `json:"product_ids"`
	} `json:"product_groups"`
	Relationships []struct {
		Category          string              `json:"category"`
		FullProductName   csafFullProductName `json:"full_product_name"`
		ProductReference  string              `json:"product_reference"`
		RelatesToProducts string              `json:"relates_to_product_reference"`
	} `json:"relationships"`
}

type csafBranch struct {
	Category string               `json:"category"`
	Name     string               `json:"name"`
	Branches []csafBranch         `json:"branches"`
	Product  *csafFullProductName `json:"product"`
}

type csafFullProductName struct {
	Name      string `json:"name"`
	ProductID string `json:"product_id"`
	Helper    *struct {
		CPE    string `json:"cpe"`
		PURL   string `json:"purl"`
		Hashes []struct {
			FileHashes []struct {
				Algorithm string `json:"algorithm"`
				Value     string `json:"value"`
			} `json:"file_hashes"`
		} `json:"hashes"`
	} `json:"product_identification_helper"`
}

type csafProductStatus struct {
	FirstAffected      []string `json:"first_affected"`
	FirstFixed         []string `json:"first_fixed"`
	Fixed              []string `json:"fixed"`
	KnownAffected      []string `json:"known_affected"`
	KnownNotAffected   []string `json:"known_not_affected"`
	LastAffected       []string `json:"last_affected"`
	Recommended        []string `json:"recommended"`
	UnderInvestigation []string `json:"under_investigation"`
}

// csafRefs are the product references of a flag, threat or remediation.
type csafRefs struct {
	ProductIDs []string `json:"product_ids"`
	GroupIDs   []string `json:"group_ids"`
}

type csafVuln struct {
	CVE string `json:"cve"`
	IDs []struct {
		SystemName string `json:"system_name"`
		Text       string `json:"text"`
	} `json:"ids"`
	ProductStatus *csafProductStatus `json:"product_status"`
	Flags         []struct {
		Label string `json:"label"`
		csafRefs
	} `json:"flags"`
	Threats []struct {
		Category string `json:"category"`
		Details  string `json:"details"`
		csafRefs
	} `json:"threats"`
	Remediations []struct {
		Category string `json:"category"`
		Details  string `json:"details"`
		URL      string `json:"url"`
		csafRefs
	} `json:"remediations"`
}

// ParseCSAF parses a CSAF 2.0 document of category csaf_vex or
// csaf_security_advisory and maps its product status to OpenVEX statuses
// (the mapping is documented in docs/vex.md):
//
//	known_affected, first_affected, last_affected → affected
//	known_not_affected                            → not_affected
//	fixed, first_fixed                            → fixed
//	under_investigation                           → under_investigation
//	recommended                                   → not a status: ignored
//
// A not_affected product's justification is its flag label (the five labels
// are the OpenVEX justifications), its impact statement the details of the
// impact threats that name it; an affected product's action statement is
// the remediations that name it. Products are resolved through the product
// tree (branches, full_product_names, relationships, product_groups) to
// their names and identification helpers.
//
// Errors (*DocumentError): ErrMalformed; ErrNotCSAF (no document or not
// csaf_version 2.0); ErrCSAFCategory; ErrMissingField (publisher, tracking,
// vulnerability id, or no product status at all); ErrUnknownProduct;
// ErrContradiction (a product in two status groups, two different flags);
// ErrInvalidField (a flag label, a release date).
func ParseCSAF(data []byte) (*Document, error) {
	const f = FormatCSAF
	_, canon, err := topLevel(f, data)
	if err != nil {
		return nil, err
	}
	var d csafDocument
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, docErr(f, ErrMalformed, "", "%s", cleanJSONErr(err))
	}
	if d.Document == nil || d.Document.CSAFVersion == "" {
		return nil, docErr(f, ErrNotCSAF, "document.csaf_version", "the document has no document.csaf_version")
	}
	hd := d.Document
	if hd.CSAFVersion != "2.0" {
		return nil, docErr(f, ErrNotCSAF, "document.csaf_version", "%q: this version of ferry reads CSAF 2.0", hd.CSAFVersion)
	}
	if hd.Category != CSAFCategoryVEX && hd.Category != CSAFCategorySecurityAdvisory {
		return nil, docErr(f, ErrCSAFCategory, "document.category", "%q: ferry carries %s and %s documents only", hd.Category, CSAFCategoryVEX, CSAFCategorySecurityAdvisory)
	}
	for _, req := range []struct{ field, value string }{
		{"document.publisher.name", hd.Publisher.Name},
		{"document.publisher.namespace", hd.Publisher.Namespace},
		{"document.tracking.id", hd.Tracking.ID},
		{"document.tracking.current_release_date", hd.Tracking.CurrentReleaseDate},
	} {
		if strings.TrimSpace(req.value) == "" {
			return nil, docErr(f, ErrMissingField, req.field, "required by CSAF 2.0")
		}
	}
	released, err := time.Parse(time.RFC3339, hd.Tracking.CurrentReleaseDate)
	if err != nil {
		return nil, docErr(f, ErrInvalidField, "document.tracking.current_release_date", "%q is not an RFC 3339 time", hd.Tracking.CurrentReleaseDate)
	}
	if len(d.Vulnerabilities) == 0 {
		return nil, docErr(f, ErrMissingField, "vulnerabilities", "the %s document has no vulnerabilities, so no VEX statements", hd.Category)
	}
	tree, err := resolveProductTree(d.ProductTree)
	if err != nil {
		return nil, err
	}
	out := &Document{
		Format:          f,
		ID:              hd.Tracking.ID,
		Version:         hd.Tracking.Version,
		Digest:          digestOf(data),
		CanonicalDigest: digestOf(canon),
		Issuer:          hd.Publisher.Name,
		IssuerNamespace: hd.Publisher.Namespace,
		Timestamp:       released.UTC(),
	}
	for i := range d.Vulnerabilities {
		ss, err := csafStatements(tree, &d.Vulnerabilities[i], fmt.Sprintf("vulnerabilities[%d]", i))
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			s.Timestamp, s.Issuer, s.IssuerNamespace = out.Timestamp, out.Issuer, out.IssuerNamespace
			s.DocumentDigest, s.DocumentID = out.Digest, out.ID
			out.Statements = append(out.Statements, s)
		}
	}
	if len(out.Statements) == 0 {
		return nil, docErr(f, ErrMissingField, "vulnerabilities[].product_status", "no vulnerability has a product status, so the document states nothing about any product")
	}
	SortStatements(out.Statements)
	return out, nil
}

// productTree is a resolved CSAF product tree.
type productTree struct {
	products map[string]Product
	groups   map[string][]string
}

func resolveProductTree(pt *csafProductTree) (*productTree, error) {
	const f = FormatCSAF
	t := &productTree{products: map[string]Product{}, groups: map[string][]string{}}
	if pt == nil {
		return t, nil
	}
	define := func(field string, fpn csafFullProductName) error {
		if fpn.ProductID == "" {
			return docErr(f, ErrMissingField, field+".product_id", "a product needs a product_id")
		}
		if _, dup := t.products[fpn.ProductID]; dup {
			return docErr(f, ErrContradiction, field+".product_id", "product_id %q is defined twice", fpn.ProductID)
		}
		t.products[fpn.ProductID] = productFromCSAF(fpn)
		return nil
	}
	var walk func(field string, bs []csafBranch, depth int) error
	walk = func(field string, bs []csafBranch, depth int) error {
		if depth > 64 {
			return docErr(f, ErrInvalidField, field, "branches nest deeper than 64 levels")
		}
		for i, b := range bs {
			bf := fmt.Sprintf("%s[%d]", field, i)
			if b.Product != nil {
				if err := define(bf+".product", *b.Product); err != nil {
					return err
				}
				if b.Category == "product_version_range" && strings.HasPrefix(b.Name, "vers:") {
					p := t.products[b.Product.ProductID]
					p.VersionRange = b.Name
					t.products[b.Product.ProductID] = p
				}
			}
			if err := walk(bf+".branches", b.Branches, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("product_tree.branches", pt.Branches, 0); err != nil {
		return nil, err
	}
	for i, fpn := range pt.FullProductNames {
		if err := define(fmt.Sprintf("product_tree.full_product_names[%d]", i), fpn); err != nil {
			return nil, err
		}
	}
	for i, r := range pt.Relationships {
		if err := define(fmt.Sprintf("product_tree.relationships[%d].full_product_name", i), r.FullProductName); err != nil {
			return nil, err
		}
	}
	// Relationships refer to products defined anywhere, relationship
	// products included: resolve them once all are defined. Resolved
	// products are memoised and their expanded size bounded, so that a
	// crafted chain cannot grow exponentially.
	rels := map[string]int{}
	for i, r := range pt.Relationships {
		rels[r.FullProductName.ProductID] = i
	}
	type resolved struct {
		p    Product
		size int
	}
	done := map[string]resolved{}
	var resolve func(id string, depth int) (resolved, error)
	resolve = func(id string, depth int) (resolved, error) {
		if r, ok := done[id]; ok {
			return r, nil
		}
		p := t.products[id]
		i, isRel := rels[id]
		if !isRel {
			return resolved{p, 1}, nil
		}
		field := fmt.Sprintf("product_tree.relationships[%d]", i)
		if depth > maxRelationshipDepth {
			return resolved{}, docErr(f, ErrInvalidField, field, "relationships nest deeper than %d levels or form a cycle", maxRelationshipDepth)
		}
		r := pt.Relationships[i]
		for _, ref := range []struct{ name, id string }{{"product_reference", r.ProductReference}, {"relates_to_product_reference", r.RelatesToProducts}} {
			if _, ok := t.products[ref.id]; !ok {
				return resolved{}, docErr(f, ErrUnknownProduct, field+"."+ref.name, "%q is not defined in the product tree", ref.id)
			}
		}
		comp, err := resolve(r.ProductReference, depth+1)
		if err != nil {
			return resolved{}, err
		}
		plat, err := resolve(r.RelatesToProducts, depth+1)
		if err != nil {
			return resolved{}, err
		}
		size := 1 + comp.size + plat.size
		if size > maxRelationshipSize {
			return resolved{}, docErr(f, ErrInvalidField, field, "the relationship expands to more than %d products", maxRelationshipSize)
		}
		p.Relationship = &Relationship{Category: r.Category, Component: comp.p, Platform: plat.p}
		done[id] = resolved{p, size}
		return done[id], nil
	}
	for _, r := range pt.Relationships {
		id := r.FullProductName.ProductID
		res, err := resolve(id, 0)
		if err != nil {
			return nil, err
		}
		t.products[id] = res.p
	}
	for i, g := range pt.ProductGroups {
		field := fmt.Sprintf("product_tree.product_groups[%d]", i)
		if g.GroupID == "" {
			return nil, docErr(f, ErrMissingField, field+".group_id", "a product group needs a group_id")
		}
		if _, dup := t.groups[g.GroupID]; dup {
			return nil, docErr(f, ErrContradiction, field+".group_id", "group_id %q is defined twice", g.GroupID)
		}
		for j, id := range g.ProductIDs {
			if _, ok := t.products[id]; !ok {
				return nil, docErr(f, ErrUnknownProduct, fmt.Sprintf("%s.product_ids[%d]", field, j), "%q is not defined in the product tree", id)
			}
		}
		t.groups[g.GroupID] = g.ProductIDs
	}
	return t, nil
}

func productFromCSAF(fpn csafFullProductName) Product {
	p := Product{ID: fpn.ProductID, Name: fpn.Name}
	if h := fpn.Helper; h != nil {
		p.PURL, p.CPE = h.PURL, h.CPE
		for _, hs := range h.Hashes {
			for _, fh := range hs.FileHashes {
				p.Hashes = append(p.Hashes, fh.Algorithm+":"+fh.Value)
			}
		}
	}
	return p
}

// expand returns the product ids a flag, threat or remediation names,
// checking each is defined.
func (t *productTree) expand(field string, r csafRefs) ([]string, error) {
	var ids []string
	for i, id := range r.ProductIDs {
		if _, ok := t.products[id]; !ok {
			return nil, docErr(FormatCSAF, ErrUnknownProduct, fmt.Sprintf("%s.product_ids[%d]", field, i), "%q is not defined in the product tree", id)
		}
		ids = append(ids, id)
	}
	for i, g := range r.GroupIDs {
		members, ok := t.groups[g]
		if !ok {
			return nil, docErr(FormatCSAF, ErrUnknownProduct, fmt.Sprintf("%s.group_ids[%d]", field, i), "product group %q is not defined in the product tree", g)
		}
		ids = append(ids, members...)
	}
	return ids, nil
}

// csafStatements maps one CSAF vulnerability to statements: one per
// (status, justification, impact statement, action statement), each with
// every product that shares them.
func csafStatements(t *productTree, v *csafVuln, field string) ([]Statement, error) {
	const f = FormatCSAF
	if v.ProductStatus == nil {
		return nil, nil
	}
	status := map[string]openvex.Status{}
	list := map[string]string{} // the list a product was first seen in
	var order []string          // products in the order the lists give them
	for _, sl := range csafStatusLists {
		for j, id := range sl.get(v.ProductStatus) {
			lf := fmt.Sprintf("%s.product_status.%s[%d]", field, sl.name, j)
			if _, ok := t.products[id]; !ok {
				return nil, docErr(f, ErrUnknownProduct, lf, "%q is not defined in the product tree", id)
			}
			if prev, seen := status[id]; seen {
				if prev != sl.status {
					return nil, docErr(f, ErrContradiction, lf, "%q is also in %s: a product has one status per vulnerability", id, list[id])
				}
				continue
			}
			status[id], list[id] = sl.status, sl.name
			order = append(order, id)
		}
	}
	for j, id := range v.ProductStatus.Recommended {
		if _, ok := t.products[id]; !ok {
			return nil, docErr(f, ErrUnknownProduct, fmt.Sprintf("%s.product_status.recommended[%d]", field, j), "%q is not defined in the product tree", id)
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	vulnID, aliases := v.CVE, []string{}
	for _, id := range v.IDs {
		if vulnID == "" {
			vulnID = id.Text
			continue
		}
		aliases = append(aliases, id.Text)
	}
	if vulnID == "" {
		return nil, docErr(f, ErrMissingField, field+".cve", "the vulnerability has neither a cve nor ids")
	}

	justification := map[string]openvex.Justification{}
	for i, fl := range v.Flags {
		ff := fmt.Sprintf("%s.flags[%d]", field, i)
		j := openvex.Justification(fl.Label)
		if !j.Valid() {
			return nil, docErr(f, ErrInvalidField, ff+".label", "%q is not one of %s", fl.Label, strings.Join(openvex.Justifications(), ", "))
		}
		ids, err := t.expand(ff, fl.csafRefs)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if prev, ok := justification[id]; ok && prev != j {
				return nil, docErr(f, ErrContradiction, ff, "%q has two flags, %s and %s (CSAF allows one per product)", id, prev, j)
			}
			justification[id] = j
		}
	}
	impact := map[string][]string{}
	for i, th := range v.Threats {
		if th.Category != "impact" || th.Details == "" {
			continue
		}
		ids, err := t.expand(fmt.Sprintf("%s.threats[%d]", field, i), th.csafRefs)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			impact[id] = appendNew(impact[id], th.Details)
		}
	}
	action := map[string][]string{}
	for i, r := range v.Remediations {
		ids, err := t.expand(fmt.Sprintf("%s.remediations[%d]", field, i), r.csafRefs)
		if err != nil {
			return nil, err
		}
		text := r.Category + ": " + r.Details
		if r.URL != "" {
			text += " (" + r.URL + ")"
		}
		for _, id := range ids {
			action[id] = appendNew(action[id], text)
		}
	}

	type key struct {
		status         openvex.Status
		just           openvex.Justification
		impact, action string
	}
	var keys []key
	byKey := map[key]*Statement{}
	for _, id := range order {
		k := key{status: status[id]}
		switch k.status {
		case openvex.StatusNotAffected:
			k.just, k.impact = justification[id], strings.Join(impact[id], "\n")
		case openvex.StatusAffected:
			k.action = strings.Join(action[id], "\n")
		}
		s, ok := byKey[k]
		if !ok {
			s = &Statement{Vulnerability: vulnID, Aliases: slices.Clone(aliases), Status: k.status, Justification: k.just, ImpactStatement: k.impact, ActionStatement: k.action}
			byKey[k] = s
			keys = append(keys, k)
		}
		s.Products = append(s.Products, t.products[id])
	}
	out := make([]Statement, 0, len(keys))
	for _, k := range keys {
		out = append(out, *byKey[k])
	}
	return out, nil
}

func appendNew(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}
