package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ferry-dev/ferry/bundle"
)

// ReportSchema names the JSON schema of Report; it changes only with a new
// version suffix.
const ReportSchema = "ferry.dev/verify-report/v1"

// Failure is one failed check.
type Failure struct {
	Code    bundle.Code `json:"code"`
	Entry   string      `json:"entry,omitempty"`
	Message string      `json:"message"`
}

// TypeCount is how many files and bytes of one content type a kit holds.
type TypeCount struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Report is the outcome of verifying a kit. Its JSON form is documented in
// docs/kit-format.md (schema ferry.dev/verify-report/v1).
type Report struct {
	Schema        string               `json:"schema"`
	OK            bool                 `json:"ok"`
	CheckedAt     time.Time            `json:"checkedAt"`
	Name          string               `json:"name,omitempty"`
	Channel       string               `json:"channel,omitempty"`
	Version       int64                `json:"version,omitempty"`
	Created       *time.Time           `json:"created,omitempty"`
	Expires       *time.Time           `json:"expires,omitempty"`
	Base          *bundle.Base         `json:"base,omitempty"`
	RootVersion   int64                `json:"rootVersion,omitempty"`
	TargetsSHA256 string               `json:"targetsSha256,omitempty"`
	SignerKeyIDs  []string             `json:"signerKeyIds,omitempty"`
	Counts        map[string]TypeCount `json:"counts"`
	SameAsTrusted bool                 `json:"sameAsTrusted,omitempty"`
	// Carried is what the carried trust check verified (TUF repositories
	// and VEX attestations the kit carries), when there was any.
	Carried *Carried `json:"carried,omitempty"`
	// Parts describes the parts the kit was read from, when it was
	// written in parts (parts.go).
	Parts *PartsInfo `json:"parts,omitempty"`
	// Delta describes a delta kit whose description verified: what it
	// needs and the full kit it stands for.
	Delta    *Delta    `json:"delta,omitempty"`
	Failures []Failure `json:"failures"`

	// Targets lists the verified content entries in kit order.
	Targets []Target `json:"-"`
	meta    Metadata
}

func newReport(at time.Time) *Report {
	return &Report{Schema: ReportSchema, CheckedAt: at.UTC(), Counts: map[string]TypeCount{}, Failures: []Failure{}}
}

func (r *Report) add(e *bundle.Error) {
	r.Failures = append(r.Failures, Failure{Code: e.Code, Entry: e.Entry, Message: e.Msg})
}

func (r *Report) setInfo(info bundle.Info) {
	r.Name, r.Channel, r.Version, r.Base = info.Name, info.Channel, info.Version, info.Base
	c, e := info.Created.UTC(), info.Expires.UTC()
	r.Created, r.Expires = &c, &e
}

func (r *Report) count(t Target) {
	c := r.Counts[t.Type]
	c.Files++
	c.Bytes += t.Length
	r.Counts[t.Type] = c
	r.Targets = append(r.Targets, t)
}

func (r *Report) finish() {
	r.OK = len(r.Failures) == 0
	if !r.OK {
		r.Targets = nil
	}
}

// Metadata returns the verified TUF metadata. It is meaningful only when OK.
func (r *Report) Metadata() Metadata { return r.meta }

// Codes returns the distinct failure codes, sorted.
func (r *Report) Codes() []bundle.Code {
	var cs []bundle.Code
	for _, f := range r.Failures {
		if !slices.Contains(cs, f.Code) {
			cs = append(cs, f.Code)
		}
	}
	slices.Sort(cs)
	return cs
}

// Err returns nil for a good kit, else an error naming the first failure
// and how many there are.
func (r *Report) Err() error {
	if r.OK {
		return nil
	}
	f := r.Failures[0]
	e := &bundle.Error{Code: f.Code, Entry: f.Entry, Msg: f.Message}
	if n := len(r.Failures); n > 1 {
		return fmt.Errorf("kit verification failed with %d failures, first: %w", n, e)
	}
	return fmt.Errorf("kit verification failed: %w", e)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a table for people.
func (r *Report) WriteText(w io.Writer, source string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	verdict := "VERIFIED"
	if !r.OK {
		verdict = "FAILED"
	} else if r.Parts != nil && r.Parts.Only > 0 {
		verdict = "PART VERIFIED (this part only)"
	}
	fmt.Fprintf(tw, "kit\t%s\n", source)
	fmt.Fprintf(tw, "result\t%s\n", verdict)
	if r.Channel != "" {
		fmt.Fprintf(tw, "name\t%s\n", r.Name)
		fmt.Fprintf(tw, "channel\t%s\n", r.Channel)
		fmt.Fprintf(tw, "version\t%d\n", r.Version)
	}
	if r.Created != nil && r.Expires != nil {
		fmt.Fprintf(tw, "created\t%s\n", r.Created.Format(time.RFC3339))
		fmt.Fprintf(tw, "expires\t%s (%s)\n", r.Expires.Format(time.RFC3339), until(r.CheckedAt, *r.Expires))
	}
	if r.Base != nil {
		// A delta kit is only importable onto exactly this base: say so.
		if r.Base.Have {
			fmt.Fprintf(tw, "delta of\ta have-list of channel %s (v%d)\n", r.Base.Channel, r.Base.Version)
		} else {
			fmt.Fprintf(tw, "delta of\t%s v%d (targets sha256 %s)\n", r.Base.Channel, r.Base.Version, r.Base.TargetsSHA256)
		}
		fmt.Fprintf(tw, "needs\t%s\n", Needs(*r.Base))
	}
	if r.Delta != nil {
		fmt.Fprintf(tw, "full kit\t%d files, %d carried, %d removed; targets sha256 %s\n", r.Delta.Files, r.Delta.Carried, len(r.Delta.Removed), r.Delta.TargetsSHA256)
		for _, p := range r.Delta.Patches {
			fmt.Fprintf(tw, "patched\t%s, on sha256:%s (%d bytes)\n", p.Path, p.Base.SHA256, p.Base.Length)
		}
	}
	if r.RootVersion > 0 {
		fmt.Fprintf(tw, "root version\t%d\n", r.RootVersion)
	}
	if len(r.SignerKeyIDs) > 0 {
		fmt.Fprintf(tw, "signed by\t%s\n", strings.Join(r.SignerKeyIDs, ", "))
	}
	if r.TargetsSHA256 != "" {
		fmt.Fprintf(tw, "targets sha256\t%s\n", r.TargetsSHA256)
	}
	if r.Carried != nil {
		for _, st := range r.Carried.TUF {
			fmt.Fprintf(tw, "carried TUF\t%s: verified at creation, %s\n", st.Repository, st)
		}
		for _, a := range r.Carried.Attestations {
			fmt.Fprintf(tw, "attestation\t%s: signs %s, signer %s\n", a.Path, a.Predicate, a.Signer)
		}
	}
	if p := r.Parts; p != nil {
		if p.Only > 0 {
			fmt.Fprintf(tw, "part\t%d of %d, checked alone against the signed index %s (content, expiry and rollback not checked)\n", p.Only, p.Count, p.Index)
		} else {
			fmt.Fprintf(tw, "parts\t%d of %d bytes, %d bytes in all; signed index %s\n", p.Count, p.PartSize, p.Size, p.Index)
		}
		fmt.Fprintf(tw, "index signed by\t%s\n", strings.Join(p.SignerKeyIDs, ", "))
	}
	fmt.Fprintf(tw, "checked at\t%s\n", r.CheckedAt.Format(time.RFC3339))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Counts) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTENT\tFILES\tBYTES")
		types := make([]string, 0, len(r.Counts))
		for t := range r.Counts {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", t, r.Counts[t].Files, r.Counts[t].Bytes)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tENTRY\tPROBLEM")
		for _, f := range r.Failures {
			e := f.Entry
			if e == "" {
				e = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Code, e, f.Message)
		}
		return tw.Flush()
	}
	return nil
}

func until(now, t time.Time) string {
	d := t.Sub(now)
	if d < 0 {
		return fmt.Sprintf("expired %s ago", roundDays(-d))
	}
	return fmt.Sprintf("in %s", roundDays(d))
}

func roundDays(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}
