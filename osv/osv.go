package osv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ossf/osv-schema/bindings/go/osvschema"
	"golang.org/x/mod/semver"
	"google.golang.org/protobuf/encoding/protojson"
)

// Vulnerability is the schema's record type.
type Vulnerability = osvschema.Vulnerability

// InvalidError says why a record is not valid OSV. ID is "" when the record
// has none.
type InvalidError struct {
	ID      string
	Reasons []string
}

func (e *InvalidError) Error() string {
	id := e.ID
	if id == "" {
		id = "(no id)"
	}
	return fmt.Sprintf("invalid OSV record %s: %s", id, strings.Join(e.Reasons, "; "))
}

// ErrNotJSON is returned for bytes that are not one JSON object.
var ErrNotJSON = errors.New("not a JSON object")

// Parse decodes and validates one OSV record. Unknown fields are refused.
// It returns an *InvalidError for a record that parses but breaks the rules.
// The strings of the result may share one copy of data: whoever keeps one
// string of a record (an id in a map) should keep a strings.Clone of it.
func Parse(data []byte) (*Vulnerability, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, ErrNotJSON
	}
	v, err := decode(trimmed)
	if err != nil {
		return nil, err
	}
	if err := Validate(v); err != nil {
		return nil, err
	}
	return v, nil
}

// ParseMatchable decodes what matching a package against the record
// reads, as Parse decodes it: the id, withdrawn, and of each affected entry
// its package, ranges (without their database_specific), versions and, of
// its ecosystem_specific, the goos and goarch of each of imports (the Go
// vulndb's platforms). It skips everything else, checking only that it is
// well-formed JSON, and copies only the bytes of the fields it keeps. It
// does not validate the record (Validate needs the whole of it): use it
// only for records Parse accepted before, such as those of a verified kit,
// whose mirror validated every record before the kit was signed, and Parse
// the record again before using more of it. A record the fast decoder does
// not take is parsed whole, by Parse.
func ParseMatchable(data []byte) (*Vulnerability, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, ErrNotJSON
	}
	if v, ok := decodeMatchable(trimmed); ok {
		return v, nil
	}
	return Parse(data)
}

// errNotTaken stops decodeMatchable at what it does not take.
var errNotTaken = errors.New("not taken by the matchable decoder")

// decodeMatchable is ParseMatchable's fast path: the record's object walked
// without decoding (head.go's scanner), and each field kept decoded from a
// copy of its own bytes; ok is false for anything it does not take.
func decodeMatchable(b []byte) (*Vulnerability, bool) {
	v := &osvschema.Vulnerability{}
	var seen fields
	s := &scanner{b: b}
	err := s.object(func(key []byte) error {
		var i uint
		switch string(key) {
		case "id":
			i = 0
		case "withdrawn":
			i = 1
		case "affected":
			i = 2
		default:
			return s.skip()
		}
		s.ws()
		start := s.i
		if !seen.first(i) || s.peek() == 'n' {
			return errNotTaken
		}
		if err := s.skip(); err != nil {
			return err
		}
		d := &decoder{b: b[start:s.i], s: string(b[start:s.i]), matchable: true}
		var ok bool
		switch i {
		case 0:
			v.Id, ok = d.str()
		case 1:
			v.Withdrawn, ok = d.timestamp()
		case 2:
			ok = d.array(func() bool {
				a := &osvschema.Affected{}
				v.Affected = append(v.Affected, a)
				return d.affected(a)
			})
		}
		if !ok || d.i != len(d.b) {
			return errNotTaken
		}
		return nil
	})
	if err != nil {
		return nil, false
	}
	if s.ws(); s.i != len(b) {
		return nil, false
	}
	return v, true
}

// decode builds the record's message: the fast decoder for records as OSV
// databases write them, protojson (the reference) for everything else, so
// that what is accepted and every error are protojson's.
func decode(trimmed []byte) (*Vulnerability, error) {
	if v, ok := decodeFast(trimmed); ok {
		return v, nil
	}
	return decodeProto(trimmed)
}

func decodeProto(trimmed []byte) (*Vulnerability, error) {
	v := &Vulnerability{}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(trimmed, v); err != nil {
		id := peekID(trimmed)
		return nil, &InvalidError{ID: id, Reasons: []string{"does not match the OSV schema: " + cleanProtoErr(err)}}
	}
	return v, nil
}

func peekID(data []byte) string {
	var m struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(data, &m)
	return m.ID
}

func cleanProtoErr(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "proto: ")
	return strings.ReplaceAll(s, "\u00a0", " ")
}

// Validate checks the rules of the OSV schema that its shape alone does not
// enforce.
func Validate(v *Vulnerability) error {
	var r []string
	add := func(format string, args ...any) { r = append(r, fmt.Sprintf(format, args...)) }
	if v.GetId() == "" {
		add("id is missing")
	} else if strings.ContainsAny(v.GetId(), " /\\\n\t") {
		add("id %q contains spaces or slashes", v.GetId())
	}
	if sv := v.GetSchemaVersion(); sv != "" && !semver.IsValid("v"+sv) {
		add("schema_version %q is not a semantic version", sv)
	}
	if v.GetModified() == nil {
		add("modified is missing")
	}
	if v.GetWithdrawn() == nil && len(v.GetAffected()) == 0 && len(v.GetUpstream()) == 0 {
		add("affected is empty")
	}
	for i, a := range v.GetAffected() {
		where := fmt.Sprintf("affected[%d]", i)
		if p := a.GetPackage(); p != nil {
			if p.GetEcosystem() == "" && p.GetPurl() == "" {
				add("%s.package has no ecosystem", where)
			}
			if p.GetName() == "" && p.GetPurl() == "" {
				add("%s.package has no name", where)
			}
		}
		if len(a.GetRanges()) == 0 && len(a.GetVersions()) == 0 && a.GetPackage() != nil {
			add("%s has neither ranges nor versions", where)
		}
		for j, rg := range a.GetRanges() {
			validateRange(fmt.Sprintf("%s.ranges[%d]", where, j), rg, add)
		}
	}
	if len(r) > 0 {
		return &InvalidError{ID: v.GetId(), Reasons: r}
	}
	return nil
}

func validateRange(where string, rg *osvschema.Range, add func(string, ...any)) {
	switch rg.GetType() {
	case osvschema.Range_SEMVER, osvschema.Range_ECOSYSTEM:
	case osvschema.Range_GIT:
		if rg.GetRepo() == "" {
			add("%s is a GIT range without repo", where)
		}
	default:
		add("%s has no valid type", where)
	}
	if len(rg.GetEvents()) == 0 {
		add("%s has no events", where)
		return
	}
	introduced, fixed, last := 0, 0, 0
	prev := ""
	for k, e := range rg.GetEvents() {
		kinds, value := 0, ""
		for _, s := range []string{e.GetIntroduced(), e.GetFixed(), e.GetLastAffected(), e.GetLimit()} {
			if s != "" {
				kinds++
				value = s
			}
		}
		if kinds != 1 {
			add("%s.events[%d] must have exactly one of introduced, fixed, last_affected, limit", where, k)
			continue
		}
		switch {
		case e.GetIntroduced() != "":
			introduced++
		case e.GetFixed() != "":
			fixed++
		case e.GetLastAffected() != "":
			last++
		}
		if rg.GetType() != osvschema.Range_SEMVER {
			continue
		}
		if value == "0" && e.GetIntroduced() != "" {
			// "0" is the OSV minimum: before every version, pre-releases
			// such as Go's 0.0.0-… pseudo-versions included.
			prev = ""
			continue
		}
		sv := "v" + value
		if !semver.IsValid(sv) {
			add("%s.events[%d]: %q is not a semantic version", where, k, value)
			continue
		}
		if prev != "" && semver.Compare(prev, sv) > 0 {
			add("%s.events[%d]: %s comes after %s: SEMVER events must be in ascending order", where, k, value, strings.TrimPrefix(prev, "v"))
		}
		prev = sv
	}
	if introduced == 0 {
		add("%s has no introduced event", where)
	}
	if fixed > 0 && last > 0 {
		add("%s has both fixed and last_affected events", where)
	}
}

// Withdrawn reports whether v is withdrawn as of t.
func Withdrawn(v *Vulnerability, t time.Time) bool {
	w := v.GetWithdrawn()
	return w != nil && !w.AsTime().After(t)
}

// Packages returns the (ecosystem, name) pairs a record affects, in order,
// without duplicates.
func Packages(v *Vulnerability) [][2]string {
	var out [][2]string
	seen := map[[2]string]bool{}
	for _, a := range v.GetAffected() {
		p := a.GetPackage()
		if p == nil || p.GetName() == "" {
			continue
		}
		k := [2]string{p.GetEcosystem(), p.GetName()}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
