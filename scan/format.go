package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/ferry-dev/ferry/internal/parallel"
)

// Formats scan can write.
var Formats = []string{"table", "json", "sarif", "cyclonedx", "openvex"}

// Write renders r in format (one of Formats). Same report, same bytes.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case "table", "":
		return writeTable(w, r)
	case "json":
		return writeJSON(w, r)
	case "sarif":
		return writeJSON(w, sarifLog(r))
	case "openvex":
		d, err := openVEX(r)
		if err != nil {
			return err
		}
		return writeJSON(w, d)
	case "cyclonedx":
		return writeCycloneDX(w, r)
	}
	return fmt.Errorf("unknown format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// writeJSON writes v as a json.Encoder with SetEscapeHTML(false) and
// SetIndent("", "  ") does, byte for byte. The Encoder's indenting runs
// its scanner over every byte and grows its output buffer by doubling: on
// a report of an image (a megabyte of JSON) that was a quarter of the
// scan's CPU time. Here the value is encoded compact, which encoding/json
// writes without any white space outside strings (it compacts what
// MarshalJSON methods return), and a jsonIndenter indents that in one
// pass through a fixed buffer. Nothing is written when encoding fails.
func writeJSON(w io.Writer, v any) error {
	if r, ok := v.(*Report); ok {
		return writeReportJSON(w, r)
	}
	enc := json.NewEncoder(indenter{w})
	enc.SetEscapeHTML(false)
	return enc.Encode(v) // the Encoder hands its whole output to one Write, once the value is encoded
}

// indenter indents each Write, one whole JSON value, onto w.
type indenter struct{ w io.Writer }

func (i indenter) Write(p []byte) (int, error) {
	if err := indentJSON(i.w, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// reportTail is how a report whose last three fields are nil ends,
// compact: writeReportJSON writes them itself.
const reportTail = `,"findings":null,"not_evaluated":null,"packages":null}` + "\n"

// writeReportJSON is writeJSON of a report: the same bytes, but its long
// lists (findings, not-evaluated entries, packages) are encoded an element
// at a time. encoding/json holds a value's whole encoding in one buffer
// that it grows by doubling; for an image's report (a megabyte) touching
// the fresh memory of that growth cost more than the encoding itself. The
// pieces are kept until every one is encoded, so that nothing is written
// when encoding fails.
func writeReportJSON(w io.Writer, r *Report) error {
	var enc pieceEncoder
	head := *r
	head.Findings, head.NotEvaluated, head.Packages = nil, nil, nil
	b, err := enc.encode(&head)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if !bytes.HasSuffix(b, []byte(reportTail)) {
		return fmt.Errorf("encoding the report: unexpected end %q", b[max(0, len(b)-len(reportTail)):])
	}
	pieces := [][]byte{b[:len(b)-len(reportTail)]}
	if pieces, err = appendList(pieces, "findings", r.Findings); err != nil {
		return err
	}
	if pieces, err = appendList(pieces, "not_evaluated", r.NotEvaluated); err != nil {
		return err
	}
	if pieces, err = appendList(pieces, "packages", r.Packages); err != nil {
		return err
	}
	pieces = append(pieces, []byte("}\n"))
	ind := newJSONIndenter(w)
	for _, p := range pieces {
		if err := ind.write(p); err != nil {
			return err
		}
	}
	return ind.flush()
}

// appendList appends the pieces of `,"key":` and the compact encoding of
// xs as encoding/json writes a slice field: null for nil, [] when empty.
// Long lists are encoded in runs on every CPU, each run into one buffer.
func appendList[T any](pieces [][]byte, key string, xs []T) ([][]byte, error) {
	pieces = append(pieces, []byte(`,"`+key+`":`))
	switch {
	case xs == nil:
		return append(pieces, []byte("null")), nil
	case len(xs) == 0:
		return append(pieces, []byte("[]")), nil
	}
	runs := max(1, min(runtime.GOMAXPROCS(0), len(xs)/parallelEncodeMin))
	bounds := make([][2]int, runs)
	for i := range bounds {
		bounds[i] = [2]int{i * len(xs) / runs, (i + 1) * len(xs) / runs}
	}
	bufs, err := parallel.Map(context.Background(), runs, bounds, func(_ context.Context, r [2]int) ([]byte, error) {
		w := &appendWriter{}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for i := r[0]; i < r[1]; i++ {
			if i > r[0] {
				w.b = append(w.b, ',')
			}
			if err := enc.Encode(&xs[i]); err != nil {
				return nil, err
			}
			w.b = w.b[:len(w.b)-1] // the Encoder's newline
			if i == r[0] {
				// Room for the run, guessed from its first element:
				// memory fresh from the system is touched only where
				// written, whereas growing by doubling clears and copies
				// every step (a third of the encoding's time).
				w.b = append(make([]byte, 0, 2*(len(w.b)+1)*(r[1]-r[0])+4<<10), w.b...)
			}
		}
		return w.b, nil
	})
	if err != nil {
		return nil, err
	}
	pieces = append(pieces, []byte("["))
	for i, b := range bufs {
		if i > 0 {
			pieces = append(pieces, []byte(","))
		}
		pieces = append(pieces, b)
	}
	return append(pieces, []byte("]")), nil
}

// appendWriter appends what is written to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// parallelEncodeMin is the number of list elements per extra encoding
// goroutine.
const parallelEncodeMin = 64

// pieceEncoder encodes values compact, as writeJSON's Encoder does, each
// into a slice of its own (encoding/json reuses its buffer between them).
type pieceEncoder struct {
	enc  *json.Encoder
	last []byte
}

func (p *pieceEncoder) Write(b []byte) (int, error) {
	p.last = bytes.Clone(bytes.TrimSuffix(b, []byte("\n")))
	return len(b), nil
}

// encode returns the compact encoding of v, without the Encoder's
// newline.
func (p *pieceEncoder) encode(v any) ([]byte, error) {
	if p.enc == nil {
		p.enc = json.NewEncoder(p)
		p.enc.SetEscapeHTML(false)
	}
	p.last = nil
	if err := p.enc.Encode(v); err != nil {
		return nil, err
	}
	return p.last, nil
}

// indentJSON writes src, compact JSON as encoding/json writes it (no white
// space outside strings, a newline after the value), indented as
// json.Indent(dst, src, "", "  ") does: a newline and two spaces per level
// after each opening bracket and comma and before each closing one, a
// space after each colon, empty objects and arrays kept as {} and [].
func indentJSON(w io.Writer, src []byte) error {
	ind := newJSONIndenter(w)
	if err := ind.write(src); err != nil {
		return err
	}
	return ind.flush()
}

// jsonIndenter is indentJSON over compact JSON handed over in pieces: a
// piece ends between tokens, never inside a string, and never between the
// brackets of an empty object or array.
type jsonIndenter struct {
	w     io.Writer
	out   []byte
	depth int
}

const indentFlushAt = 64 << 10

func newJSONIndenter(w io.Writer) *jsonIndenter {
	return &jsonIndenter{w: w, out: make([]byte, 0, indentFlushAt+4<<10)}
}

func (ind *jsonIndenter) write(src []byte) error {
	out, depth := ind.out, ind.depth
	newline := func() {
		out = append(out, '\n')
		for range depth {
			out = append(out, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '"':
			// The string, through its closing quote, as it is.
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j, len(src)-1)
			out = append(out, src[i:j+1]...)
			i = j
		case '{', '[':
			out = append(out, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				out = append(out, src[i+1])
				i++
				break
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			out = append(out, c)
		case ',':
			out = append(out, c)
			newline()
		case ':':
			out = append(out, c, ' ')
		default:
			out = append(out, c)
		}
		if len(out) >= indentFlushAt {
			if _, err := ind.w.Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
	}
	ind.out, ind.depth = out, depth
	return nil
}

// flush writes what is left.
func (ind *jsonIndenter) flush() error {
	_, err := ind.w.Write(ind.out)
	ind.out = ind.out[:0]
	return err
}

func writeTable(out io.Writer, r *Report) error {
	// Every write goes through sw, which keeps the first error.
	sw := &stickyWriter{w: out}
	var w io.Writer = sw
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Target:\t%s", r.Target.Ref)
	if r.Target.Digest != "" {
		fmt.Fprintf(tw, " (%s)", r.Target.Digest)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "Packages:\t%d\n", len(r.Packages))
	for _, e := range r.Ecosystems {
		fmt.Fprintf(tw, "  %s\t%d packages\t%s\n", e.Ecosystem, e.Packages, e.Status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if r.Summary.NothingEvaluated {
		fmt.Fprintf(w, "%s: no package of the target could be matched against advisories (%d not evaluated, see --format json); the absence of findings means nothing.\n", StatusNothingEvaluated, len(r.NotEvaluated))
	} else if len(r.Findings) == 0 && r.Summary.Unreadable > 0 {
		fmt.Fprintf(w, "No findings in what could be read: %d file(s) could not be read (%s, below).\n", r.Summary.Unreadable, StatusUnreadable)
	} else if len(r.Findings) == 0 {
		fmt.Fprintln(w, "No findings.")
	} else {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		vexCol := r.Summary.VEX != nil
		// The EVIDENCE column appears when some finding has evidence
		// (Options.Evidence): "-" where none is known.
		hasEvidence := slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Evidence != nil })
		evCol := func(f Finding) string {
			if !hasEvidence {
				return ""
			}
			if f.Evidence == nil {
				return "\t-"
			}
			return "\t" + f.Evidence.Level
		}
		head := "PACKAGE\tVERSION\tVULNERABILITY\tSEVERITY"
		if hasEvidence {
			head += "\tEVIDENCE"
		}
		if vexCol {
			head += "\tVEX"
		}
		fmt.Fprintln(tw, head+"\tFIXED\tALSO KNOWN AS\tWHERE")
		prev := PackageRef{}
		for _, f := range r.Findings {
			name, ver := f.Package.Name, f.Package.Version
			if f.Package == prev {
				name, ver = "", ""
			} else {
				name = f.Package.Ecosystem + "/" + name
			}
			prev = f.Package
			sev := f.Severity.Rating
			if f.Severity.Score > 0 {
				sev = fmt.Sprintf("%s %.1f", sev, f.Severity.Score)
			}
			if f.KEV {
				sev += " KEV"
			}
			fixed := f.Fixed
			if fixed == "" {
				fixed = "-"
			}
			var aka []string
			for _, id := range f.IDs {
				if id != f.ID {
					aka = append(aka, id)
				}
			}
			vc := ""
			if vexCol {
				vc = "\t" + vexCell(f.VEX)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s%s%s\t%s\t%s\t%s\n", name, ver, f.ID, sev, evCol(f), vc, fixed, strings.Join(aka, " "), where(f.Locations))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	s := r.Summary
	fmt.Fprintf(w, "\n%d findings: %d critical, %d high, %d medium, %d low, %d unknown severity; %d in KEV.\n",
		s.Findings, s.Critical, s.High, s.Medium, s.Low, s.Unknown, s.KEV)
	if v := s.VEX; v != nil {
		fmt.Fprintf(w, "VEX consensus: %d affected, %d under_investigation, %d conflict, %d unknown, %d fixed, %d not_affected (fixed and not_affected do not count for --fail-on).\n",
			v[VEXAffected], v[VEXUnderInvestigation], v[VEXConflict], v[VEXUnknown], v[VEXFixed], v[VEXNotAffected])
	}
	if len(r.NotEvaluated) > 0 {
		fmt.Fprintf(w, "%d package(s) or range(s) not evaluated (see --format json).\n", len(r.NotEvaluated))
	}
	for _, n := range r.NotEvaluated {
		if n.Unreadable {
			fmt.Fprintf(w, "%s: %s — the packages it lists were not scanned.\n", StatusUnreadable, unreadableText(n))
		}
	}
	for _, e := range s.NoAdvisoryData {
		fmt.Fprintf(w, "%s: %s — the target has %s packages but there is no advisory data for them; no findings there means nothing.\n", StatusNoAdvisoryData, e, e)
	}
	return sw.err
}

// stickyWriter passes writes to w until one fails and keeps that error,
// so a renderer can write freely and report the first failure once.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

// vexCell is a finding's VEX consensus in the table: the status (a
// conflict with its resolution), the justification, the deciding issuer.
func vexCell(v *VEX) string {
	if v == nil {
		return "-"
	}
	s := v.Status
	if v.Resolution != "" {
		s += ":" + v.Resolution
	}
	if v.Justification != "" {
		s += " " + v.Justification
	}
	if v.Issuer != "" {
		s += " (" + v.Tier + " " + v.Issuer + ")"
	}
	return s
}

func where(ls []Location) string {
	var out []string
	for _, l := range ls {
		s := l.Path
		if l.SBOMRef != "" {
			s = l.SBOMRef
		}
		if l.Layer != "" {
			h := strings.TrimPrefix(l.Layer, "sha256:")
			if len(h) > 12 {
				h = h[:12]
			}
			s = h + ":" + s
		}
		out = append(out, s)
	}
	if len(out) > 2 {
		return fmt.Sprintf("%s (+%d more)", strings.Join(out[:2], ", "), len(out)-2)
	}
	return strings.Join(out, ", ")
}

// ---- SARIF 2.1.0 ----

const sarifSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

type sarifMsg struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name,omitempty"`
	ShortDescription sarifMsg       `json:"shortDescription"`
	HelpURI          string         `json:"helpUri,omitempty"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
	} `json:"physicalLocation"`
	Properties map[string]any `json:"properties,omitempty"`
}

type sarifResult struct {
	RuleID       string             `json:"ruleId"`
	Level        string             `json:"level"`
	Message      sarifMsg           `json:"message"`
	Locations    []sarifLocation    `json:"locations"`
	Suppressions []sarifSuppression `json:"suppressions,omitempty"`
	Properties   map[string]any     `json:"properties,omitempty"`
}

// sarifSuppression marks a finding the VEX consensus says is not_affected
// or fixed (SARIF 2.1.0 §3.35).
type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification"`
}

func sarifLog(r *Report) any {
	var rules []sarifRule
	ruleSeen := map[string]bool{}
	results := []sarifResult{}
	for _, f := range r.Findings {
		if !ruleSeen[f.ID] {
			ruleSeen[f.ID] = true
			props := map[string]any{"tags": []string{"security", "vulnerability"}}
			if f.Severity.Score > 0 {
				props["security-severity"] = fmt.Sprintf("%.1f", f.Severity.Score)
			}
			rules = append(rules, sarifRule{ID: f.ID, Name: "Vulnerability", ShortDescription: sarifMsg{Text: cmpOr(f.Summary, f.ID)},
				HelpURI: "https://osv.dev/vulnerability/" + f.Advisories[0], Properties: props})
		}
		var locs []sarifLocation
		for _, l := range f.Locations {
			var sl sarifLocation
			sl.PhysicalLocation.ArtifactLocation.URI = sarifURI(l)
			if l.Layer != "" {
				sl.Properties = map[string]any{"layer": l.Layer}
			}
			locs = append(locs, sl)
		}
		fixed := "no fixed version is known"
		if f.Fixed != "" {
			fixed = "fixed in " + f.Fixed
		}
		res := sarifResult{
			RuleID: f.ID, Level: sarifLevel(f.Severity.Rating),
			Message:   sarifMsg{Text: fmt.Sprintf("%s %s (%s) is affected by %s (%s); %s.", f.Package.Name, f.Package.Version, f.Package.Ecosystem, f.ID, strings.Join(f.IDs, ", "), fixed)},
			Locations: locs,
			Properties: map[string]any{"ids": f.IDs, "advisories": f.Advisories, "severity": f.Severity.Rating, "package": f.Package,
				"fixed": f.Fixed, "matches": f.Matches, "kev": f.KEV},
		}
		if f.Evidence != nil {
			res.Properties["evidence"] = f.Evidence
		}
		if f.VEX != nil {
			res.Properties["vex"] = f.VEX
			res.Message.Text += " VEX consensus: " + vexCell(f.VEX) + "."
			if !f.Actionable() {
				res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted",
					Justification: fmt.Sprintf("VEX %s (%s), decided by %s (tier %s)", f.VEX.Status, cmpOr(f.VEX.Justification, f.VEX.ImpactStatement), f.VEX.Issuer, f.VEX.Tier)}}
			}
		}
		results = append(results, res)
	}
	driver := map[string]any{"name": "ferry", "informationUri": "https://github.com/ferry-dev/ferry", "rules": rules}
	if rules == nil {
		driver["rules"] = []sarifRule{}
	}
	if v := strings.TrimPrefix(r.Tool, "ferry "); v != r.Tool && v != "" {
		driver["semanticVersion"] = v
	}
	run := map[string]any{
		"tool":    map[string]any{"driver": driver},
		"results": results,
		"properties": map[string]any{
			"target": r.Target, "ecosystems": r.Ecosystems, "no_advisory_data": r.Summary.NoAdvisoryData,
			"nothing_evaluated": r.Summary.NothingEvaluated,
		},
	}
	if r.Summary.Unreadable > 0 {
		run["properties"].(map[string]any)["unreadable"] = r.Summary.Unreadable
	}
	if r.Time != nil {
		// The evaluation time (SARIF 2.1.0 §3.20.8): when the advisories
		// said what the results say.
		run["invocations"] = []any{map[string]any{"executionSuccessful": true, "endTimeUtc": r.Time.UTC().Format(time.RFC3339)}}
	}
	return map[string]any{"$schema": sarifSchema, "version": "2.1.0", "runs": []any{run}}
}

func sarifURI(l Location) string {
	if l.SBOMRef != "" {
		return "sbom:" + strings.ReplaceAll(l.SBOMRef, " ", "%20")
	}
	return strings.ReplaceAll(strings.TrimPrefix(l.Path, "/"), " ", "%20")
}

func sarifLevel(rating string) string {
	switch rating {
	case RatingCritical, RatingHigh:
		return "error"
	case RatingMedium:
		return "warning"
	case RatingLow, RatingNone:
		return "note"
	}
	return "warning"
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ---- OpenVEX ----

type vexDoc struct {
	Context    string         `json:"@context"`
	ID         string         `json:"@id"`
	Author     string         `json:"author"`
	Timestamp  string         `json:"timestamp"`
	Version    int            `json:"version"`
	Tooling    string         `json:"tooling,omitempty"`
	Statements []vexStatement `json:"statements"`
}

type vexStatement struct {
	Vulnerability   vexVuln      `json:"vulnerability"`
	Products        []vexProduct `json:"products"`
	Status          string       `json:"status"`
	StatusNotes     string       `json:"status_notes,omitempty"`
	Justification   string       `json:"justification,omitempty"`
	ImpactStatement string       `json:"impact_statement,omitempty"`
	ActionStatement string       `json:"action_statement,omitempty"`
}

type vexVuln struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
}

type vexProduct struct {
	ID            string         `json:"@id"`
	Subcomponents []vexComponent `json:"subcomponents,omitempty"`
}

type vexComponent struct {
	ID string `json:"@id"`
}

// reportTime is the report's time, or the Unix epoch when none was given
// (formats that require a timestamp get a fixed one, not the clock).
func reportTime(r *Report) string {
	if r.Time != nil {
		return r.Time.UTC().Format(time.RFC3339)
	}
	return time.Unix(0, 0).UTC().Format(time.RFC3339)
}

func productID(r *Report) string {
	if r.Target.Digest != "" {
		return r.Target.Digest
	}
	return r.Target.Ref
}

// reachNote says what is known of a finding's reach into its binary: the
// Go symbol evidence level and symbols (Options.Evidence), else that it
// was not analysed.
func reachNote(f Finding) string {
	ev := f.Evidence
	if ev == nil {
		return "reachability was not analysed"
	}
	s := "Go symbol evidence: " + ev.Level
	switch {
	case len(ev.Found) > 0:
		s += " (vulnerable symbols in the binary: " + strings.Join(ev.Found, ", ") + ")"
	case len(ev.Symbols) > 0:
		s += " (none of the vulnerable symbols " + strings.Join(ev.Symbols, ", ") + " is in the binary)"
	}
	return s
}

func componentID(p PackageRef) string {
	if p.PURL != "" {
		return p.PURL
	}
	return p.Ecosystem + "/" + p.Name + "@" + p.Version
}

func openVEX(r *Report) (vexDoc, error) {
	d := vexDoc{Context: "https://openvex.dev/ns/v0.2.0", Author: "ferry scan", Timestamp: reportTime(r), Version: 1, Tooling: r.Tool, Statements: []vexStatement{}}
	for _, f := range r.Findings {
		st := vexStatement{
			Vulnerability: vexVuln{Name: f.ID},
			Products:      []vexProduct{{ID: productID(r), Subcomponents: []vexComponent{{ID: componentID(f.Package)}}}},
			Status:        "affected",
			StatusNotes:   fmt.Sprintf("%s %s is within an affected range of %s; %s", f.Package.Name, f.Package.Version, strings.Join(f.Advisories, ", "), reachNote(f)),
		}
		for _, id := range f.IDs {
			if id != f.ID {
				st.Vulnerability.Aliases = append(st.Vulnerability.Aliases, id)
			}
		}
		if f.Fixed != "" {
			st.ActionStatement = "Update " + f.Package.Name + " to " + f.Fixed + " or later."
		} else {
			st.ActionStatement = "No fixed version is known: remove " + f.Package.Name + " or mitigate."
		}
		if v := f.VEX; v != nil {
			// The consensus decides the status; unknown keeps the scan's own
			// reading (the version is in an affected range).
			switch status := cmpOr(v.Resolution, v.Status); status {
			case VEXNotAffected, VEXFixed, VEXUnderInvestigation, VEXAffected:
				st.Status = status
			}
			st.StatusNotes += fmt.Sprintf("; VEX consensus (%s): %s", v.Algorithm, vexCell(v))
			switch st.Status {
			case VEXNotAffected:
				st.ActionStatement, st.Justification, st.ImpactStatement = "", v.Justification, v.ImpactStatement
			case VEXFixed, VEXUnderInvestigation:
				st.ActionStatement = ""
			}
		}
		d.Statements = append(d.Statements, st)
	}
	// The id names the content: same findings, same id.
	body, err := json.Marshal(d.Statements)
	if err != nil {
		return vexDoc{}, fmt.Errorf("openvex statements: %w", err)
	}
	sum := sha256.Sum256(append([]byte(productID(r)+"\n"), body...))
	d.ID = "https://openvex.dev/docs/ferry/scan-" + hex.EncodeToString(sum[:16])
	return d, nil
}

// ---- CycloneDX 1.6 VEX ----

func writeCycloneDX(w io.Writer, r *Report) error {
	bom := cdx.NewBOM()
	bom.SpecVersion = cdx.SpecVersion1_6
	body, err := json.Marshal(r.Findings)
	if err != nil {
		return fmt.Errorf("cyclonedx findings: %w", err)
	}
	sum := sha256.Sum256(append([]byte(productID(r)+"\n"), body...))
	u := hex.EncodeToString(sum[:16])
	bom.SerialNumber = "urn:uuid:" + u[0:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:32]
	bom.Metadata = &cdx.Metadata{
		Timestamp: reportTime(r),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "ferry", Version: strings.TrimPrefix(r.Tool, "ferry ")}}},
		Component: &cdx.Component{Type: cdx.ComponentTypeContainer, Name: r.Target.Ref, BOMRef: productID(r)},
	}
	if r.Target.Kind != KindStoreImage && r.Target.Kind != KindOCI && r.Target.Kind != KindDockerArchive {
		bom.Metadata.Component.Type = cdx.ComponentTypeApplication
	}
	var comps []cdx.Component
	seen := map[string]bool{}
	var vulns []cdx.Vulnerability
	for _, f := range r.Findings {
		ref := componentID(f.Package)
		if !seen[ref] {
			seen[ref] = true
			comps = append(comps, cdx.Component{Type: cdx.ComponentTypeLibrary, BOMRef: ref, Name: f.Package.Name, Version: f.Package.Version, PackageURL: f.Package.PURL})
		}
		v := cdx.Vulnerability{
			BOMRef:      f.ID + "/" + ref,
			ID:          f.ID,
			Description: f.Summary,
			Affects:     &[]cdx.Affects{{Ref: ref}},
			Analysis: &cdx.VulnerabilityAnalysis{State: cdx.IASExploitable,
				Detail: fmt.Sprintf("%s %s is within an affected range of %s; %s", f.Package.Name, f.Package.Version, strings.Join(f.Advisories, ", "), reachNote(f))},
		}
		if f.VEX != nil {
			cdxAnalysis(v.Analysis, f.VEX)
		}
		var refs []cdx.VulnerabilityReference
		for _, id := range f.IDs {
			if id != f.ID {
				refs = append(refs, cdx.VulnerabilityReference{ID: id, Source: &cdx.Source{Name: sourceName(id)}})
			}
		}
		if refs != nil {
			v.References = &refs
		}
		v.Source = &cdx.Source{Name: sourceName(f.ID)}
		if f.Severity.Rating != RatingUnknown {
			rt := cdx.VulnerabilityRating{Severity: cdx.Severity(strings.ToLower(f.Severity.Rating)), Vector: f.Severity.Vector}
			if f.Severity.Score > 0 {
				s := f.Severity.Score
				rt.Score = &s
			}
			switch {
			case strings.HasPrefix(f.Severity.Vector, "CVSS:4.0"):
				rt.Method = cdx.ScoringMethodCVSSv4
			case strings.HasPrefix(f.Severity.Vector, "CVSS:3.1"):
				rt.Method = cdx.ScoringMethodCVSSv31
			case strings.HasPrefix(f.Severity.Vector, "CVSS:3.0"):
				rt.Method = cdx.ScoringMethodCVSSv3
			case f.Severity.Vector != "":
				rt.Method = cdx.ScoringMethodCVSSv2
			}
			v.Ratings = &[]cdx.VulnerabilityRating{rt}
		}
		if f.Fixed != "" {
			v.Recommendation = "Update " + f.Package.Name + " to " + f.Fixed + " or later."
		}
		vulns = append(vulns, v)
	}
	if comps != nil {
		bom.Components = &comps
	}
	if vulns != nil {
		bom.Vulnerabilities = &vulns
	}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// cdxAnalysis sets a CycloneDX analysis from the VEX consensus: state,
// justification, and the deciding issuer in the detail.
func cdxAnalysis(a *cdx.VulnerabilityAnalysis, v *VEX) {
	switch cmpOr(v.Resolution, v.Status) {
	case VEXNotAffected:
		a.State = cdx.IASNotAffected
		switch v.Justification {
		case "component_not_present":
			a.Justification = cdx.IAJRequiresDependency
		case "vulnerable_code_not_present":
			a.Justification = cdx.IAJCodeNotPresent
		case "vulnerable_code_not_in_execute_path":
			a.Justification = cdx.IAJCodeNotReachable
		case "vulnerable_code_cannot_be_controlled_by_adversary":
			a.Justification = cdx.IAJRequiresEnvironment
		case "inline_mitigations_already_exist":
			a.Justification = cdx.IAJProtectedByMitigatingControl
		}
	case VEXFixed:
		a.State = cdx.IASResolved
	case VEXUnderInvestigation:
		a.State = cdx.IASInTriage
	case VEXAffected:
		a.State = cdx.IASExploitable
	}
	a.Detail += fmt.Sprintf("; VEX consensus (%s): %s", v.Algorithm, vexCell(v))
	if v.ImpactStatement != "" {
		a.Detail += "; " + v.ImpactStatement
	}
}

func sourceName(id string) string {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "CVE":
		return "NVD"
	case "GHSA":
		return "GitHub"
	case "GO":
		return "Go Vulnerability Database"
	}
	return prefix
}
