package consensus

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// CanonicalJSON is the RFC 8785 (JCS) form of v's JSON encoding.
func CanonicalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	c, err := jcs.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("canonicalising: %w", err)
	}
	return c, nil
}

// WriteJSON writes the report as canonical JSON (RFC 8785) and a newline.
func (rep *Report) WriteJSON(w io.Writer) error {
	b, err := CanonicalJSON(rep)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// tableWidth is what a table row fits in.
const tableWidth = 100

// WriteTable writes one line per result (vulnerability, product, status,
// justification, deciding tier and issuer), fitting 100 columns: long
// values are shortened in the middle, justifications abbreviated (the
// JSON and explain show them whole). A status marked "*" has lower-tier
// dissent.
func (rep *Report) WriteTable(w io.Writer) error {
	type row struct{ vuln, prod, status, just, issuer string }
	rows := []row{{"VULNERABILITY", "PRODUCT", "STATUS", "JUSTIFICATION", "TIER/ISSUER"}}
	for _, r := range rep.Results {
		prod := strings.TrimPrefix(r.Product, "pkg:")
		if r.Within != "" {
			prod = strings.TrimPrefix(r.Within, "pkg:") + ">" + prod
		}
		status := r.Status
		if r.Resolution != "" {
			status += ":" + r.Resolution
		}
		if r.Dissent > 0 {
			status += "*"
		}
		issuer := "-"
		if r.Issuer != "" {
			issuer = string(r.Tier) + "/" + strings.TrimPrefix(strings.TrimPrefix(r.Issuer, "https://"), "http://")
		}
		rows = append(rows, row{clip(r.Vulnerability, 19), prod, status, cmpOr(shortJustification[r.Justification], cmpOr(clip(r.Justification, 13), "-")), issuer})
	}
	// The product takes what the other columns leave of 100, at least 20;
	// the issuer gives way first.
	width := func(get func(row) string) int {
		n := 0
		for _, r := range rows {
			n = max(n, utf8.RuneCountInString(get(r)))
		}
		return n
	}
	fixed := width(func(r row) string { return r.vuln }) + width(func(r row) string { return r.status }) + width(func(r row) string { return r.just }) + 8
	issuerW := min(width(func(r row) string { return r.issuer }), 28)
	prodW := max(tableWidth-fixed-issuerW, 20)
	issuerW = max(min(issuerW, tableWidth-fixed-prodW), 11)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.vuln, clip(r.prod, prodW), r.status, r.just, clip(r.issuer, issuerW))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var parts []string
	for _, s := range Statuses {
		parts = append(parts, fmt.Sprintf("%d %s", rep.Counts[s], s))
	}
	at := "no evaluation time"
	if !rep.At.IsZero() {
		at = "at " + rep.At.Format(time.RFC3339)
	}
	_, err := fmt.Fprintf(w, "\n%d results (%s, %s):\n  %s.\n", len(rep.Results), Algorithm, at, strings.Join(parts, ", "))
	if err == nil && rep.Counts[StatusConflict] > 0 {
		_, err = fmt.Fprintln(w, "  conflict:X — issuers of the deciding tier disagree; X is the conservative reading to act on.")
	}
	return err
}

// shortJustification abbreviates the justifications for the table.
var shortJustification = map[string]string{
	"component_not_present":                             "no_component",
	"vulnerable_code_not_present":                       "no_vuln_code",
	"vulnerable_code_not_in_execute_path":               "not_executed",
	"vulnerable_code_cannot_be_controlled_by_adversary": "uncontrolled",
	"inline_mitigations_already_exist":                  "mitigated",
}

// WriteExplain writes every result with every statement considered: its
// issuer, tier, status, justification, time, source document and role,
// and for a dropped one the reason.
func (rep *Report) WriteExplain(w io.Writer) error {
	for i, r := range rep.Results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s", r.Vulnerability)
		if len(r.Aliases) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(r.Aliases, ", "))
		}
		fmt.Fprintf(w, "\n  product:  %s\n", r.Product)
		if r.Within != "" {
			fmt.Fprintf(w, "  within:   %s\n", r.Within)
		}
		fmt.Fprintf(w, "  status:   %s", r.Status)
		if r.Resolution != "" {
			fmt.Fprintf(w, " — issuers of tier %s disagree; acted on as %s (the conservative reading)", r.Tier, r.Resolution)
		}
		fmt.Fprintln(w)
		switch {
		case r.Deciding >= 0:
			d := r.Statements[r.Deciding]
			fmt.Fprintf(w, "  decided:  by %s (tier %s), the most trusted tier with a decisive statement (%s)\n", d.Issuer, d.Tier, Algorithm)
		case r.Status == StatusUnknown:
			fmt.Fprintf(w, "  decided:  no usable statement about this pair (%s)\n", Algorithm)
		}
		if r.Justification != "" {
			fmt.Fprintf(w, "  justification: %s\n", r.Justification)
		}
		if r.Dissent > 0 {
			fmt.Fprintf(w, "  dissent:  %d statement(s) of lower tiers disagree\n", r.Dissent)
		}
		if len(r.Statements) == 0 {
			continue
		}
		fmt.Fprintln(w, "  statements:")
		for _, c := range r.Statements {
			role := c.Role
			if c.Reason != "" {
				role += " " + c.Reason
			}
			issuer := c.Issuer
			if c.Unlisted {
				issuer += " (unlisted)"
			}
			fmt.Fprintf(w, "    %-13s %s, tier %s: %s", role, issuer, c.Tier, c.Status)
			if c.Justification != "" {
				fmt.Fprintf(w, " (%s)", c.Justification)
			}
			if !c.Timestamp.IsZero() {
				fmt.Fprintf(w, ", %s", c.Timestamp.Format(time.RFC3339))
			}
			fmt.Fprintln(w)
			if c.Detail != "" {
				fmt.Fprintf(w, "      %s\n", c.Detail)
			}
			if c.Product != r.Product && c.Product != "" {
				fmt.Fprintf(w, "      about %s\n", c.Product)
			}
			if c.Signer != "" {
				fmt.Fprintf(w, "      signed by %s\n", c.Signer)
			}
			fmt.Fprintf(w, "      from %s (%s)", cmpOr(c.Source, "-"), c.Origin)
			if c.DocumentDigest != "" {
				fmt.Fprintf(w, ", document %s", c.DocumentDigest)
			}
			if c.DocumentVersion != "" {
				fmt.Fprintf(w, " version %s", c.DocumentVersion)
			}
			fmt.Fprintln(w)
		}
	}
	if len(rep.Results) == 0 {
		_, err := fmt.Fprintln(w, "No results.")
		return err
	}
	return nil
}

// clip shortens s to n runes, keeping its start and end.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	head := (n - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
