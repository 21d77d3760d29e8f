package osv

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ossf/osv-schema/bindings/go/osvschema"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// decodeFast decodes one OSV record into the schema's types without
// reflection. It accepts a subset of what protojson accepts — the records
// as OSV databases write them: snake_case field names, enum names as
// strings, no null outside database_specific and ecosystem_specific — and
// builds exactly the message protojson would build from the same bytes.
// For anything else (an unknown or camelCase field name, a null, a
// duplicate field, malformed JSON, a bad timestamp, nesting deeper than
// maxFastDepth) it returns ok == false and the caller falls back to
// protojson, which then accepts or explains the refusal: errors stay
// protojson's, byte for byte.
func decodeFast(b []byte) (v *osvschema.Vulnerability, ok bool) {
	// One copy of the input backs every unescaped string of the result
	// (substrings share it): a handful of allocations fewer per field.
	d := &decoder{b: b, s: string(b)}
	v = &osvschema.Vulnerability{}
	if !d.vulnerability(v) {
		return nil, false
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, false
	}
	return v, true
}

// maxFastDepth bounds the nesting of database_specific values the fast
// path follows; deeper records go to protojson and its recursion limit.
const maxFastDepth = 64

type decoder struct {
	b     []byte
	s     string // b as a string
	i     int
	depth int
	// matchable: of an affected entry and its ranges only what a matcher
	// reads is decoded (see ParseMatchable); the rest is skipped.
	matchable bool
}

// skip consumes one value of any kind without decoding it, checking its
// structure only (head.go's scanner).
func (d *decoder) skip() bool {
	s := &scanner{b: d.b, i: d.i}
	if err := s.skip(); err != nil {
		return false
	}
	d.i = s.i
	return true
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *decoder) consume(c byte) bool {
	if d.peek() != c {
		return false
	}
	d.i++
	return true
}

// object walks the members of an object; field is called with each key,
// positioned at its value, and returns false to abandon the fast path.
func (d *decoder) object(field func(key string) bool) bool {
	return d.members(false, field)
}

// members walks the fields of an object; with nulls, a null value is
// field's to take, else it stops the walk (protojson's rules for null vary
// by field).
func (d *decoder) members(nulls bool, field func(key string) bool) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') {
			return false
		}
		if !nulls && d.peek() == 'n' {
			return false
		}
		if !field(key) {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

// array walks the elements of an array.
func (d *decoder) array(elem func() bool) bool {
	if !d.consume('[') {
		return false
	}
	if d.consume(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return true
		default:
			return false
		}
	}
}

// str decodes a string as protojson's decoder does: valid UTF-8, no
// control characters, the escapes of JSON, surrogate pairs joined.
func (d *decoder) str() (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	d.i++
	start := d.i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.s[start:d.i]
			d.i++
			return s, true
		case c == '\\':
			return d.strSlow(start)
		case c < ' ':
			return "", false
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, n := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && n == 1 {
				return "", false
			}
			d.i += n
		}
	}
	return "", false
}

func (d *decoder) strSlow(start int) (string, bool) {
	out := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out), true
		case c < ' ':
			return "", false
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return "", false
			}
			switch e := d.b[d.i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := d.hex4(d.i + 2)
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					if d.i+12 > len(d.b) || d.b[d.i+6] != '\\' || d.b[d.i+7] != 'u' {
						return "", false
					}
					r2, ok := d.hex4(d.i + 8)
					if !ok {
						return "", false
					}
					r = utf16.DecodeRune(r, r2)
					if r == unicode.ReplacementChar {
						return "", false
					}
					d.i += 6
				}
				out = utf8.AppendRune(out, r)
				d.i += 4
			default:
				return "", false
			}
			d.i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			d.i++
		default:
			r, n := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && n == 1 {
				return "", false
			}
			out = append(out, d.b[d.i:d.i+n]...)
			d.i += n
		}
	}
	return "", false
}

func (d *decoder) hex4(at int) (rune, bool) {
	if at+4 > len(d.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(d.b[at:at+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

func (d *decoder) strings(dst *[]string) bool {
	return d.array(func() bool {
		s, ok := d.str()
		*dst = append(*dst, s)
		return ok
	})
}

// timestamp decodes a google.protobuf.Timestamp as protojson does.
func (d *decoder) timestamp() (*timestamppb.Timestamp, bool) {
	s, ok := d.str()
	if !ok {
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, false
	}
	secs := t.Unix()
	if secs < -62135596800 || secs > 253402300799 {
		return nil, false
	}
	i := strings.LastIndexByte(s, '.')
	j := strings.LastIndexAny(s, "Z-+")
	if i >= 0 && j >= i && j-i > len(".999999999") {
		return nil, false
	}
	return &timestamppb.Timestamp{Seconds: secs, Nanos: int32(t.Nanosecond())}, true
}

// enum decodes an enum given by name; numbers go to protojson.
func (d *decoder) enum(values map[string]int32) (int32, bool) {
	s, ok := d.str()
	if !ok {
		return 0, false
	}
	n, ok := values[s]
	return n, ok
}

// fields tracks which fields of one object were seen: protojson refuses a
// field given twice.
type fields uint32

func (f *fields) first(n uint) bool {
	if *f&(1<<n) != 0 {
		return false
	}
	*f |= 1 << n
	return true
}

func (d *decoder) vulnerability(v *osvschema.Vulnerability) bool {
	var seen fields
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "schema_version":
			v.SchemaVersion, ok = d.str()
			return seen.first(0) && ok
		case "id":
			v.Id, ok = d.str()
			return seen.first(1) && ok
		case "published":
			v.Published, ok = d.timestamp()
			return seen.first(2) && ok
		case "modified":
			v.Modified, ok = d.timestamp()
			return seen.first(3) && ok
		case "withdrawn":
			v.Withdrawn, ok = d.timestamp()
			return seen.first(4) && ok
		case "aliases":
			return seen.first(5) && d.strings(&v.Aliases)
		case "related":
			return seen.first(6) && d.strings(&v.Related)
		case "upstream":
			return seen.first(7) && d.strings(&v.Upstream)
		case "summary":
			v.Summary, ok = d.str()
			return seen.first(8) && ok
		case "details":
			v.Details, ok = d.str()
			return seen.first(9) && ok
		case "affected":
			return seen.first(10) && d.array(func() bool {
				a := &osvschema.Affected{}
				v.Affected = append(v.Affected, a)
				return d.affected(a)
			})
		case "references":
			return seen.first(11) && d.array(func() bool {
				r := &osvschema.Reference{}
				v.References = append(v.References, r)
				return d.reference(r)
			})
		case "database_specific":
			v.DatabaseSpecific, ok = d.structValue()
			return seen.first(12) && ok
		case "severity":
			return seen.first(13) && d.severities(&v.Severity)
		case "credits":
			return seen.first(14) && d.array(func() bool {
				c := &osvschema.Credit{}
				v.Credits = append(v.Credits, c)
				return d.credit(c)
			})
		}
		return false
	})
}

func (d *decoder) affected(a *osvschema.Affected) bool {
	var seen fields
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "package":
			a.Package = &osvschema.Package{}
			return seen.first(0) && d.pkg(a.Package)
		case "ranges":
			return seen.first(1) && d.array(func() bool {
				r := &osvschema.Range{}
				a.Ranges = append(a.Ranges, r)
				return d.rng(r)
			})
		case "versions":
			return seen.first(2) && d.strings(&a.Versions)
		case "ecosystem_specific":
			if d.matchable {
				a.EcosystemSpecific, ok = d.platforms()
			} else {
				a.EcosystemSpecific, ok = d.structValue()
			}
			return seen.first(3) && ok
		case "database_specific":
			if d.matchable {
				return seen.first(4) && d.skip()
			}
			a.DatabaseSpecific, ok = d.structValue()
			return seen.first(4) && ok
		case "severity":
			if d.matchable {
				return seen.first(5) && d.skip()
			}
			return seen.first(5) && d.severities(&a.Severity)
		}
		return false
	})
}

func (d *decoder) pkg(p *osvschema.Package) bool {
	var seen fields
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "name":
			p.Name, ok = d.str()
			return seen.first(0) && ok
		case "ecosystem":
			p.Ecosystem, ok = d.str()
			return seen.first(1) && ok
		case "purl":
			p.Purl, ok = d.str()
			return seen.first(2) && ok
		}
		return false
	})
}

func (d *decoder) rng(r *osvschema.Range) bool {
	var seen fields
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "type":
			var n int32
			n, ok = d.enum(osvschema.Range_Type_value)
			r.Type = osvschema.Range_Type(n)
			return seen.first(0) && ok
		case "repo":
			r.Repo, ok = d.str()
			return seen.first(1) && ok
		case "events":
			return seen.first(2) && d.array(func() bool {
				e := &osvschema.Event{}
				r.Events = append(r.Events, e)
				return d.event(e)
			})
		case "database_specific":
			if d.matchable {
				return seen.first(3) && d.skip()
			}
			r.DatabaseSpecific, ok = d.structValue()
			return seen.first(3) && ok
		}
		return false
	})
}

// platforms decodes an affected entry's ecosystem_specific keeping only
// what a matcher reads of it: the goos and goarch of each of the Go
// vulndb's imports (every other key of an import, and every key beside
// imports, skipped).
func (d *decoder) platforms() (*structpb.Struct, bool) {
	st := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	var seen fields
	// Values of struct fields may be null (protojson's NullValue): the
	// keys skipped may hold one, and goos and goarch keep theirs. An
	// imports that is not a list goes to Parse.
	ok := d.members(true, func(key string) bool {
		if key != "imports" {
			return d.skip()
		}
		var list []*structpb.Value
		ok := seen.first(0) && d.array(func() bool {
			imp := &structpb.Struct{Fields: map[string]*structpb.Value{}}
			list = append(list, structpb.NewStructValue(imp))
			var impSeen fields
			return d.members(true, func(key string) bool {
				var i uint
				switch key {
				case "goos":
					i = 0
				case "goarch":
					i = 1
				default:
					return d.skip()
				}
				v, ok := d.value()
				imp.Fields[key] = v
				return impSeen.first(i) && ok
			})
		})
		st.Fields["imports"] = structpb.NewListValue(&structpb.ListValue{Values: list})
		return ok
	})
	return st, ok
}

func (d *decoder) event(e *osvschema.Event) bool {
	var seen fields
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "introduced":
			e.Introduced, ok = d.str()
			return seen.first(0) && ok
		case "fixed":
			e.Fixed, ok = d.str()
			return seen.first(1) && ok
		case "limit":
			e.Limit, ok = d.str()
			return seen.first(2) && ok
		case "last_affected":
			e.LastAffected, ok = d.str()
			return seen.first(3) && ok
		}
		return false
	})
}

func (d *decoder) severities(dst *[]*osvschema.Severity) bool {
	return d.array(func() bool {
		s := &osvschema.Severity{}
		*dst = append(*dst, s)
		var seen fields
		return d.object(func(key string) bool {
			var ok bool
			switch key {
			case "type":
				var n int32
				n, ok = d.enum(osvschema.Severity_Type_value)
				s.Type = osvschema.Severity_Type(n)
				return seen.first(0) && ok
			case "score":
				s.Score, ok = d.str()
				return seen.first(1) && ok
			}
			return false
		})
	})
}

func (d *decoder) reference(r *osvschema.Reference) bool {
	var seen fields
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "type":
			var n int32
			n, ok = d.enum(osvschema.Reference_Type_value)
			r.Type = osvschema.Reference_Type(n)
			return seen.first(0) && ok
		case "url":
			r.Url, ok = d.str()
			return seen.first(1) && ok
		}
		return false
	})
}

func (d *decoder) credit(c *osvschema.Credit) bool {
	var seen fields
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "name":
			c.Name, ok = d.str()
			return seen.first(0) && ok
		case "contact":
			return seen.first(1) && d.strings(&c.Contact)
		case "type":
			var n int32
			n, ok = d.enum(osvschema.Credit_Type_value)
			c.Type = osvschema.Credit_Type(n)
			return seen.first(2) && ok
		}
		return false
	})
}

// structValue decodes a google.protobuf.Struct (a JSON object of any
// values).
func (d *decoder) structValue() (*structpb.Struct, bool) {
	if d.peek() != '{' || d.depth >= maxFastDepth {
		return nil, false
	}
	d.depth++
	defer func() { d.depth-- }()
	s := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	d.i++
	if d.consume('}') {
		return s, true
	}
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') {
			return nil, false
		}
		if _, dup := s.Fields[key]; dup {
			return nil, false
		}
		val, ok := d.value()
		if !ok {
			return nil, false
		}
		s.Fields[key] = val
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return s, true
		default:
			return nil, false
		}
	}
}

// value decodes a google.protobuf.Value: any JSON value.
func (d *decoder) value() (*structpb.Value, bool) {
	switch c := d.peek(); {
	case c == '{':
		s, ok := d.structValue()
		return structpb.NewStructValue(s), ok
	case c == '[':
		if d.depth >= maxFastDepth {
			return nil, false
		}
		d.depth++
		defer func() { d.depth-- }()
		l := &structpb.ListValue{}
		ok := d.array(func() bool {
			v, ok := d.value()
			l.Values = append(l.Values, v)
			return ok
		})
		return structpb.NewListValue(l), ok
	case c == '"':
		s, ok := d.str()
		return structpb.NewStringValue(s), ok
	case c == 't':
		return structpb.NewBoolValue(true), d.literal("true")
	case c == 'f':
		return structpb.NewBoolValue(false), d.literal("false")
	case c == 'n':
		return structpb.NewNullValue(), d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		f, ok := d.number()
		return structpb.NewNumberValue(f), ok
	}
	return nil, false
}

func (d *decoder) literal(lit string) bool {
	if !strings.HasPrefix(string(d.b[d.i:min(len(d.b), d.i+len(lit))]), lit) {
		return false
	}
	d.i += len(lit)
	// A literal must end where a token does (protojson refuses "truex").
	if d.i < len(d.b) && isIdentByte(d.b[d.i]) {
		return false
	}
	return true
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= utf8.RuneSelf
}

// number scans a JSON number (RFC 8259 grammar) and parses it as a
// float64, as protojson does for a Value.
func (d *decoder) number() (float64, bool) {
	start := d.i
	b := d.b
	i := d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return 0, false
		}
	}
	if i < len(b) && (isIdentByte(b[i]) || b[i] == '.' || b[i] == '-' || b[i] == '+') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b[start:i]), 64)
	if err != nil {
		return 0, false
	}
	d.i = i
	return f, true
}
