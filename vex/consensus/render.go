package consensus

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

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
// justification, deciding issuer and tier), fitting 100 columns, and the
// counts.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VULNERABILITY\tPRODUCT\tSTATUS\tJUSTIFICATION\tISSUER")
	for _, r := range rep.Results {
		prod := r.Product
		if r.Within != "" {
			prod = r.Within + " > " + r.Product
		}
		status := r.Status
		if r.Resolution != "" {
			status += "→" + r.Resolution
		}
		if r.Dissent > 0 {
			status += fmt.Sprintf(" (%d dissent)", r.Dissent)
		}
		issuer := "-"
		if r.Issuer != "" {
			issuer = r.Issuer + " (" + string(r.Tier) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clip(r.Vulnerability, 20), clip(prod, 34), status, clip(cmpOr(r.Justification, "-"), 18), clip(issuer, 24))
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
	_, err := fmt.Fprintf(w, "\n%d results (%s): %s.\n", len(rep.Results), Algorithm+", "+at, strings.Join(parts, ", "))
	return err
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
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range r.Statements {
			role := c.Role
			if c.Reason != "" {
				role += " " + c.Reason
			}
			issuer := c.Issuer
			if c.Unlisted {
				issuer += " (unlisted)"
			}
			if c.Signer != "" {
				issuer += " signed"
			}
			ts := "-"
			if !c.Timestamp.IsZero() {
				ts = c.Timestamp.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%s\n", role, issuer, c.Tier, c.Status, cmpOr(c.Justification, "-"), ts, shortDigest(c.DocumentDigest))
			if c.Detail != "" {
				fmt.Fprintf(tw, "      %s\t\t\t\t\t\t\n", c.Detail)
			}
			if c.Product != r.Product && c.Product != "" {
				fmt.Fprintf(tw, "      about %s\t\t\t\t\t\t\n", c.Product)
			}
			if c.Source != "" {
				fmt.Fprintf(tw, "      from %s (%s)\t\t\t\t\t\t\n", c.Source, c.Origin)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Results) == 0 {
		_, err := fmt.Fprintln(w, "No results.")
		return err
	}
	return nil
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return cmpOr(d, "-")
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
