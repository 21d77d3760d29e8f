package cli

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/vex"
)

// writeStoreInfo renders store info for people: the store, then per
// channel its active kit, its content types with their freshness, the
// carried TUF repositories and the sources with their counts.
func writeStoreInfo(w io.Writer, in *store.Info) error {
	ew := &errWriter{w: w}
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "store\t%s\n", in.Dir)
	fmt.Fprintf(tw, "schema\t%d\n", in.SchemaVersion)
	fmt.Fprintf(tw, "imports\t%d\n", in.Imports)
	fmt.Fprintf(tw, "channels\t%d\n", len(in.Channels))
	tw.Flush()
	for _, c := range in.Channels {
		fmt.Fprintln(ew)
		tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		exp := c.Expires.Format(time.RFC3339)
		if c.Expired {
			exp += " (EXPIRED)"
		}
		fmt.Fprintf(tw, "channel\t%s\n", c.Channel)
		fmt.Fprintf(tw, "active version\t%d (%s)\n", c.Version, c.Name)
		fmt.Fprintf(tw, "created\t%s\n", c.Created.Format(time.RFC3339))
		fmt.Fprintf(tw, "expires\t%s\n", exp)
		fmt.Fprintf(tw, "imported\t%s\n", c.ImportedAt.Format(time.RFC3339))
		if !c.VerifiedAt.IsZero() {
			fmt.Fprintf(tw, "verified at\t%s (clock pinned by %s: %s)\n", c.VerifiedAt.Format(time.RFC3339), c.Operator, c.Reason)
		} else if c.Reason != "" {
			fmt.Fprintf(tw, "reason\t%s (%s)\n", c.Reason, c.Operator)
		}
		fmt.Fprintf(tw, "root version\t%d\n", c.RootVersion)
		fmt.Fprintf(tw, "targets sha256\t%s\n", c.TargetsSHA256)
		tw.Flush()
		fmt.Fprintln(ew)
		tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTENT\tFILES\tBYTES\tAGE\tBUDGET\tFRESHNESS")
		for _, t := range c.Types {
			age, budget := "-", cmp.Or(t.Budget, "-")
			if !t.DataTime.IsZero() {
				age = formatAge(time.Duration(t.AgeSeconds) * time.Second)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", t.Type, t.Files, t.Bytes, age, budget, strings.ToUpper(t.Freshness))
		}
		tw.Flush()
		if len(c.TUF) > 0 {
			fmt.Fprintln(ew)
			tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TUF REPOSITORY\tROOT\tTARGETS\tAT IMPORT\tNOW")
			for _, t := range c.TUF {
				now := "fresh"
				if t.ExpiredNow {
					now = "EXPIRED"
				}
				var root int64
				if len(t.Roots) > 0 {
					root = t.Roots[len(t.Roots)-1]
				}
				status := t.String()
				if t.State == store.TUFExpired {
					status = "EXPIRED: " + status
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", t.Repository, root, len(t.Targets), status, now)
			}
			tw.Flush()
		}
		if len(c.Sources) == 0 {
			continue
		}
		fmt.Fprintln(ew)
		tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SOURCE\tKIND\tFILES\tBYTES\tCOUNTS")
		for _, src := range c.Sources {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", src.Name, src.Kind, src.Files, src.Bytes, formatCounts(src.Counts))
		}
		tw.Flush()
	}
	return ew.err
}

// formatAge is an age for people: days from two days on, else hours and
// minutes.
func formatAge(d time.Duration) string {
	switch {
	case d < 0:
		return "in the future"
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.Truncate(time.Minute).String()
}

// writeQueryResult renders a store query's answer for people: the records
// as indented JSON, ids one per line, statements as a table, then the KEV
// entry and EPSS score.
func writeQueryResult(w io.Writer, res *store.QueryResult) error {
	ew := &errWriter{w: w}
	q := res.Query
	if !res.Found {
		switch {
		case q.Advisory != "":
			fmt.Fprintf(ew, "advisory %s: not found\n", q.Advisory)
		case q.Package != "":
			fmt.Fprintf(ew, "package %s/%s: no advisories\n", q.Ecosystem, q.Package)
			if res.EcosystemHasData != nil && !*res.EcosystemHasData {
				fmt.Fprintf(ew, "note: the store has no advisory data for ecosystem %q at all (NO_ADVISORY_DATA)\n", q.Ecosystem)
			}
		case q.Vuln != "":
			fmt.Fprintf(ew, "vulnerability %s: no VEX statements\n", q.Vuln)
		default:
			fmt.Fprintf(ew, "product %s: no VEX statements\n", q.Product)
		}
	}
	for i, a := range res.Advisories {
		if i > 0 {
			fmt.Fprintln(ew)
		}
		fmt.Fprintf(ew, "# %s (channel %s, source %s)\n", a.ID, a.Channel, a.Source)
		var buf bytes.Buffer
		if err := json.Indent(&buf, a.Record, "", "  "); err != nil {
			return fmt.Errorf("advisory %s: %w", a.ID, err)
		}
		buf.WriteByte('\n')
		buf.WriteTo(ew)
	}
	for _, id := range res.IDs {
		fmt.Fprintln(ew, id)
	}
	if len(res.Statements) > 0 {
		tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VULNERABILITY\tSTATUS\tJUSTIFICATION\tPRODUCTS\tISSUER\tSOURCE\tDOCUMENT")
		for _, st := range res.Statements {
			just := cmp.Or(string(st.Justification), "-")
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.19s…\n", st.Vulnerability, st.Status, just,
				productList(st.Products), st.Issuer, st.Channel+"/"+st.Source, st.DocumentDigest)
		}
		tw.Flush()
	}
	if res.KEV != nil {
		fmt.Fprintf(ew, "KEV: %s listed since %s (%s/%s)\n", res.KEV.CVE, res.KEV.DateAdded, res.KEV.Channel, res.KEV.Source)
	}
	if res.EPSS != nil {
		fmt.Fprintf(ew, "EPSS: %s %.5f (percentile %.5f) (%s/%s)\n", res.EPSS.CVE, res.EPSS.EPSS, res.EPSS.Percentile, res.EPSS.Channel, res.EPSS.Source)
	}
	return ew.err
}

// productList shows up to three products of a statement.
func productList(ps []vex.Product) string {
	if len(ps) == 0 {
		return "-"
	}
	var names []string
	for i, p := range ps {
		if i == 3 {
			names = append(names, fmt.Sprintf("(+%d)", len(ps)-3))
			break
		}
		names = append(names, cmp.Or(p.PURL, p.ID, p.Name, p.CPE))
	}
	return strings.Join(names, ", ")
}
