package consensus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNothingToExport: no result has a VEX status (every pair is unknown),
// and an OpenVEX document needs at least one statement.
var ErrNothingToExport = errors.New("no (vulnerability, product) has a VEX status to export")

// The OpenVEX v0.2.0 document of the export, with fields in the spec's
// order.
type ovDoc struct {
	Context    string        `json:"@context"`
	ID         string        `json:"@id"`
	Author     string        `json:"author"`
	Role       string        `json:"role,omitempty"`
	Timestamp  string        `json:"timestamp"`
	Version    int           `json:"version"`
	Tooling    string        `json:"tooling,omitempty"`
	Statements []ovStatement `json:"statements"`
}

type ovStatement struct {
	Vulnerability   ovVuln      `json:"vulnerability"`
	Timestamp       string      `json:"timestamp,omitempty"`
	Products        []ovProduct `json:"products"`
	Status          string      `json:"status"`
	StatusNotes     string      `json:"status_notes,omitempty"`
	Justification   string      `json:"justification,omitempty"`
	ImpactStatement string      `json:"impact_statement,omitempty"`
	ActionStatement string      `json:"action_statement,omitempty"`
}

type ovVuln struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
}

type ovProduct struct {
	ID            string           `json:"@id"`
	Identifiers   *ovIdentifiers   `json:"identifiers,omitempty"`
	Subcomponents []ovSubcomponent `json:"subcomponents,omitempty"`
}

type ovSubcomponent struct {
	ID          string         `json:"@id"`
	Identifiers *ovIdentifiers `json:"identifiers,omitempty"`
}

type ovIdentifiers struct {
	PURL string `json:"purl"`
}

// ExportAuthor is the author of an exported document.
const ExportAuthor = "ferry vex consensus"

// OpenVEX writes the report as one OpenVEX v0.2.0 document: one
// statement per (vulnerability, product) with a VEX status (unknown pairs
// have none and are left out; a conflict is exported as its conservative
// resolution), the deciding issuer, its tier and the algorithm in
// status_notes. The document's timestamp is the newest deciding
// statement's and its @id is derived from its statements, so the same
// store gives the same bytes whatever the time of export. It returns
// ErrNothingToExport when no pair has a status.
func (rep *Report) OpenVEX() ([]byte, error) {
	doc := ovDoc{Context: "https://openvex.dev/ns/v0.2.0", Author: ExportAuthor, Role: "consensus of the site's VEX statements", Version: 1, Tooling: "ferry " + Algorithm}
	var newest time.Time
	for _, r := range rep.Results {
		if r.Status == StatusUnknown || r.Deciding < 0 || strings.Contains(r.Product, " vers:") || strings.Contains(r.Within, " vers:") {
			// OpenVEX cannot say "these versions": a product standing for a
			// version range is left out rather than widened to all versions.
			continue
		}
		d := r.Statements[r.Deciding]
		if d.Timestamp.After(newest) {
			newest = d.Timestamp
		}
		st := ovStatement{
			Vulnerability: ovVuln{Name: r.Vulnerability, Aliases: r.Aliases},
			Status:        r.Effective(),
			Products:      []ovProduct{exportProduct(r)},
		}
		if !d.Timestamp.IsZero() {
			st.Timestamp = d.Timestamp.UTC().Format(time.RFC3339Nano)
		}
		notes := fmt.Sprintf("%s: decided by %s (tier %s)", Algorithm, d.Issuer, d.Tier)
		if d.DocumentDigest != "" {
			notes += " in " + d.DocumentDigest
		}
		if r.Status == StatusConflict {
			notes += fmt.Sprintf("; issuers of tier %s conflict, exported as the conservative resolution %s", r.Tier, r.Resolution)
		}
		if r.Dissent > 0 {
			notes += fmt.Sprintf("; %d lower-tier statement(s) dissent", r.Dissent)
		}
		st.StatusNotes = notes
		switch st.Status {
		case StatusNotAffected:
			st.Justification, st.ImpactStatement = r.Justification, r.ImpactStatement
		case StatusAffected:
			st.ActionStatement = r.ActionStatement
			if st.ActionStatement == "" {
				st.ActionStatement = "No action statement was given by " + d.Issuer + ": treat as affected; see the issuer's advisory."
			}
		}
		doc.Statements = append(doc.Statements, st)
	}
	if len(doc.Statements) == 0 {
		return nil, ErrNothingToExport
	}
	if newest.IsZero() {
		newest = time.Unix(0, 0)
	}
	doc.Timestamp = newest.UTC().Format(time.RFC3339Nano)
	body, err := json.Marshal(doc.Statements)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	doc.ID = "https://ferry.dev/vex/consensus/sha256-" + hex.EncodeToString(sum[:])
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func exportProduct(r Result) ovProduct {
	idOf := func(s string) (string, *ovIdentifiers) {
		if strings.HasPrefix(s, "pkg:") {
			return s, &ovIdentifiers{PURL: s}
		}
		return s, nil
	}
	if r.Within == "" {
		id, ids := idOf(r.Product)
		return ovProduct{ID: id, Identifiers: ids}
	}
	id, ids := idOf(r.Within)
	sid, sids := idOf(r.Product)
	return ovProduct{ID: id, Identifiers: ids, Subcomponents: []ovSubcomponent{{ID: sid, Identifiers: sids}}}
}
