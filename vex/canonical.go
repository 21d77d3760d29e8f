package vex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/gowebpki/jcs"
	openvex "github.com/openvex/go-vex/pkg/vex"
)

// CanonicalDigest returns "sha256:<hex>" of the RFC 8785 (JCS) form of a
// normalised OpenVEX document. Normalised means: times in UTC with
// nanoseconds (RFC 3339), every statement's aliases sorted, its products
// sorted and each product's subcomponents sorted, and the statements sorted
// — each by its own canonical JSON. Documents that differ only in key
// order, whitespace, or the order of statements, products or aliases have
// the same digest; a v0.0.1 document and the same content written as v0.2.0
// do too. Anything else that go-vex reads is covered.
//
// It exists because go-vex's VEX.CanonicalHash ranges over maps (hashes,
// identifiers) and so is not stable across runs for documents that use
// them, and truncates times to seconds. doc is not modified.
func CanonicalDigest(doc *openvex.VEX) (string, error) {
	stmts := make([][]byte, 0, len(doc.Statements))
	for i := range doc.Statements {
		s := doc.Statements[i] // copy; slices below are replaced, not sorted in place
		s.Vulnerability.Aliases = slices.Sorted(slices.Values(s.Vulnerability.Aliases))
		prods := make([]openvex.Product, len(s.Products))
		for j, p := range s.Products {
			subs, err := sortByJSON(p.Subcomponents)
			if err != nil {
				return "", err
			}
			p.Subcomponents = subs
			prods[j] = p
		}
		prods, err := sortByJSON(prods)
		if err != nil {
			return "", err
		}
		s.Products = prods
		s.Timestamp, s.LastUpdated, s.ActionStatementTimestamp = utcPtr(s.Timestamp), utcPtr(s.LastUpdated), utcPtr(s.ActionStatementTimestamp)
		b, err := canonicalJSON(&s)
		if err != nil {
			return "", err
		}
		stmts = append(stmts, b)
	}
	slices.SortFunc(stmts, bytes.Compare)
	raw := make([]json.RawMessage, len(stmts))
	for i, b := range stmts {
		raw[i] = b
	}
	// The header is written field by field rather than through
	// VEX.MarshalJSON, which truncates the document times to seconds.
	header := struct {
		Context     string            `json:"@context"`
		ID          string            `json:"@id"`
		Author      string            `json:"author"`
		Role        string            `json:"role,omitempty"`
		Timestamp   string            `json:"timestamp,omitempty"`
		LastUpdated string            `json:"last_updated,omitempty"`
		Version     int               `json:"version"`
		Tooling     string            `json:"tooling,omitempty"`
		Supplier    string            `json:"supplier,omitempty"`
		Statements  []json.RawMessage `json:"statements"`
	}{
		Context: doc.Context, ID: doc.ID, Author: doc.Author, Role: doc.AuthorRole,
		Timestamp: rfc3339(doc.Timestamp), LastUpdated: rfc3339(doc.LastUpdated),
		Version: doc.Version, Tooling: doc.Tooling, Supplier: doc.Supplier, Statements: raw,
	}
	b, err := canonicalJSON(header)
	if err != nil {
		return "", err
	}
	return digestOf(b), nil
}

// canonicalJSON is the RFC 8785 form of v's JSON encoding.
func canonicalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding for canonicalisation: %w", err)
	}
	c, err := jcs.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("canonicalising: %w", err)
	}
	return c, nil
}

// sortByJSON returns a copy of xs sorted by each element's canonical JSON.
func sortByJSON[T any](xs []T) ([]T, error) {
	type keyed struct {
		key []byte
		v   T
	}
	ks := make([]keyed, len(xs))
	for i, x := range xs {
		b, err := canonicalJSON(x)
		if err != nil {
			return nil, err
		}
		ks[i] = keyed{b, x}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return bytes.Compare(a.key, b.key) })
	out := make([]T, len(xs))
	for i, k := range ks {
		out[i] = k.v
	}
	return out, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func rfc3339(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
