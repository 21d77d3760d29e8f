package htmlreport

import (
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/verify"
)

// StoreVersion is what a store holds of the kit's channel: the active
// kit's version and its content by type, for "what changed".
type StoreVersion struct {
	// Dir names the store.
	Dir string
	// Known is false when the store does not hold the channel.
	Known         bool
	Version       int64
	Created       time.Time
	TargetsSHA256 string
	// Types are the active kit's files and bytes by content type.
	Types map[string]verify.TypeCount
}

// VerifyInput is what a verification report shows.
type VerifyInput struct {
	// Kit names the kit file as the user gave it.
	Kit    string
	Report *verify.Report
	// Trust says where the trust came from: "root trust/root.json",
	// "store /srv/ferry".
	Trust string
	// Store, when set, adds what changed since the store's version.
	Store *StoreVersion
	// FerryVersion is the version of ferry that writes the report.
	FerryVersion string
}

// checkDef is one check the verifier makes, with the failure codes that
// say it failed. The list follows the order the verifier works in.
type checkDef struct {
	name  string
	codes []bundle.Code
	// carried marks the carried trust check: its failures are told apart
	// by entry (trust/…, vex/…/trust/…, vex/…/attestations/…).
	carried bool
}

var checkDefs = []checkDef{
	{name: "Archive is well formed, complete and within its size budget (no truncation, no decompression bomb)",
		codes: []bundle.Code{bundle.CodeMalformed, bundle.CodeTruncated, bundle.CodeTooLarge}},
	{name: "Channel is known and its root chain verifies from the pinned root",
		codes: []bundle.Code{bundle.CodeUnknownChannel}},
	{name: "TUF metadata signatures verify and meet the root's threshold",
		codes: []bundle.Code{bundle.CodeSignatureInvalid, bundle.CodeThresholdNotMet}},
	{name: "Not expired at the check time (freeze attack)",
		codes: []bundle.Code{bundle.CodeExpired}},
	{name: "Not older than the version the site trusts (rollback)",
		codes: []bundle.Code{bundle.CodeRollback}},
	{name: "A delta kit names the base the site holds",
		codes: []bundle.Code{bundle.CodeBaseMismatch}},
	{name: "Every archive entry is a regular file at a safe path (traversal, links, devices)",
		codes: []bundle.Code{bundle.CodeUnsafePath, bundle.CodeUnsafeEntryType}},
	{name: "Every file is listed in the signed targets exactly once, and every listed file is present (mix-and-match)",
		codes: []bundle.Code{bundle.CodeMissingTarget, bundle.CodeUnexpectedEntry, bundle.CodeDuplicateEntry}},
	{name: "Every file has the signed length and sha256 (tampering)",
		codes: []bundle.Code{bundle.CodeDigestMismatch, bundle.CodeSizeMismatch}},
	{name: "Carried trust re-verifies: TUF repositories and VEX attestations the kit carries",
		carried: true},
}

// carriedEntry tells whether a failure's entry belongs to the carried
// trust check.
func carriedEntry(entry string) bool {
	return strings.HasPrefix(entry, "trust/") ||
		(strings.HasPrefix(entry, "vex/") && (strings.Contains(entry, "/trust/") || strings.Contains(entry, "/attestations/")))
}

type checkRow struct {
	Name, Result, Class, Note string
	Codes                     []string
}

func checkRows(rep *verify.Report) []checkRow {
	rows := make([]checkRow, 0, len(checkDefs))
	for _, d := range checkDefs {
		var codes []string
		for _, c := range d.codes {
			codes = append(codes, string(c))
		}
		n := 0
		for _, f := range rep.Failures {
			if d.carried {
				if carriedEntry(f.Entry) {
					n++
				}
			} else if slices.Contains(d.codes, f.Code) && !carriedEntry(f.Entry) {
				n++
			}
		}
		r := checkRow{Name: d.name, Codes: codes}
		switch {
		case n > 0:
			r.Result, r.Class = "FAIL", "bad"
			r.Note = plural(n, "failure", "failures") + ", listed below"
		case rep.OK:
			r.Result, r.Class = "PASS", "ok"
		default:
			r.Result, r.Class = "NOT PROVEN", "warn"
			r.Note = "no failure reported, but the kit failed elsewhere and verification may have stopped before this check"
		}
		if d.carried {
			r.Codes = []string{"any code, on a trust/ or vex/…/trust|attestations/ entry"}
		}
		if d.codes != nil && d.codes[0] == bundle.CodeBaseMismatch && rep.OK && rep.Base == nil {
			r.Note = "not a delta kit"
		}
		rows = append(rows, r)
	}
	return rows
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strings.Join([]string{itoa(n), many}, " ")
}

type countRow struct {
	Type  string
	Files int
	Bytes int64
}

type tufRow struct{ Repository, Roots, Versions, State string }

type carriedView struct {
	TUF          []tufRow
	Attestations []verify.VerifiedAttestation
}

type changeRow struct {
	Type                 string
	StoreFiles, KitFiles int
	StoreBytes, KitBytes int64
	Change               string
}

type storeView struct {
	Dir, Channel, Created, TargetsSHA256 string
	Known, Same, Delta                   bool
	Version, KitVersion, DeltaBase       int64
	Rows                                 []changeRow
}

type verifyView struct {
	page
	Kit, Name, Channel, Created, Expires, CheckedAt, Trust string
	OK                                                     bool
	Version, RootVersion                                   int64
	Base                                                   *bundle.Base
	TargetsSHA256                                          string
	SignerKeyIDs                                           []string
	Codes                                                  []string
	Checks                                                 []checkRow
	Failures                                               []verify.Failure
	Counts                                                 []countRow
	Carried                                                *carriedView
	Store                                                  *storeView
}

// Verify writes the verification report of a kit as one HTML page: the
// verdict, what the kit is and who signed it, every check the verifier
// makes with its result, every failure with its entry, what the kit holds
// and, with in.Store, what changed since the store's version. The same
// input gives the same bytes.
func Verify(w io.Writer, in VerifyInput) error {
	rep := in.Report
	v := verifyView{
		page:          page{Title: "ferry verify: " + in.Kit, FerryVersion: in.FerryVersion, Source: "ferry verify " + in.Kit},
		Kit:           in.Kit,
		Name:          rep.Name,
		Channel:       rep.Channel,
		CheckedAt:     timeText(rep.CheckedAt),
		Trust:         in.Trust,
		OK:            rep.OK,
		Version:       rep.Version,
		RootVersion:   rep.RootVersion,
		Base:          rep.Base,
		TargetsSHA256: rep.TargetsSHA256,
		SignerKeyIDs:  rep.SignerKeyIDs,
		Checks:        checkRows(rep),
		Failures:      rep.Failures,
	}
	if rep.Created != nil {
		v.Created = timeText(*rep.Created)
	}
	if rep.Expires != nil {
		v.Expires = timeText(*rep.Expires)
	}
	for _, c := range rep.Codes() {
		v.Codes = append(v.Codes, string(c))
	}
	for _, t := range slices.Sorted(maps.Keys(rep.Counts)) {
		c := rep.Counts[t]
		v.Counts = append(v.Counts, countRow{Type: t, Files: c.Files, Bytes: c.Bytes})
	}
	if c := rep.Carried; c != nil && (len(c.TUF) > 0 || len(c.Attestations) > 0) {
		cv := &carriedView{Attestations: c.Attestations}
		for _, t := range c.TUF {
			roots := make([]string, len(t.Roots))
			for i, r := range t.Roots {
				roots[i] = itoa64(r)
			}
			cv.TUF = append(cv.TUF, tufRow{
				Repository: t.Repository,
				Roots:      strings.Join(roots, " → "),
				Versions:   itoa64(t.TimestampVersion) + " / " + itoa64(t.SnapshotVersion) + " / " + itoa64(t.TargetsVersion),
				State:      t.State,
			})
		}
		v.Carried = cv
	}
	if in.Store != nil {
		v.Store = storeChanges(in.Store, rep)
	}
	return render(w, "verify", v)
}

func storeChanges(s *StoreVersion, rep *verify.Report) *storeView {
	sv := &storeView{Dir: s.Dir, Channel: rep.Channel, Known: s.Known, Version: s.Version,
		KitVersion: rep.Version, Created: timeText(s.Created), TargetsSHA256: s.TargetsSHA256}
	if !s.Known {
		return sv
	}
	sv.Same = s.TargetsSHA256 != "" && s.TargetsSHA256 == rep.TargetsSHA256
	if rep.Base != nil {
		sv.Delta, sv.DeltaBase = true, rep.Base.Version
	}
	types := slices.Collect(maps.Keys(s.Types))
	for t := range rep.Counts {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	for _, t := range types {
		st, inStore := s.Types[t]
		kt, inKit := rep.Counts[t]
		r := changeRow{Type: t, StoreFiles: st.Files, StoreBytes: st.Bytes, KitFiles: kt.Files, KitBytes: kt.Bytes}
		switch {
		case !inStore:
			r.Change = "new in this kit"
		case !inKit && sv.Delta:
			r.Change = "not in the delta (unchanged)"
		case !inKit:
			r.Change = "no longer carried"
		case st == kt:
			r.Change = "same number of files and bytes"
		default:
			r.Change = signed(kt.Files-st.Files) + " files, " + signed64(kt.Bytes-st.Bytes) + " bytes"
		}
		sv.Rows = append(sv.Rows, r)
	}
	return sv
}
