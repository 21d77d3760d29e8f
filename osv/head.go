package osv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Head is the part of an OSV record an index needs: its id, aliases,
// whether it is withdrawn and the packages it affects.
type Head struct {
	ID        string
	Aliases   []string
	Withdrawn bool // a withdrawn field that is not null
	// Packages are the (ecosystem, name) of affected[].package, in order,
	// including empty ones.
	Packages [][2]string
}

// ErrMalformedJSON is returned (wrapped, with the byte offset) for bytes
// ParseHead cannot read.
var ErrMalformedJSON = errors.New("malformed JSON")

// ParseHead reads the fields of Head from one JSON object and skips
// everything else without decoding it: an import's hot path, several times
// faster than encoding/json. Keys match exactly (encoding/json would also
// match "ID"). It checks the structure it walks (balanced brackets,
// terminated strings, one object and nothing after it) but is no JSON
// validator and does not check the OSV schema: use it only for records
// that Parse accepted before, such as those of a verified kit, whose
// mirror validated every record before the kit was signed. It returns an
// error wrapping ErrMalformedJSON for bytes it cannot read.
func ParseHead(b []byte) (*Head, error) {
	h := &Head{}
	s := &scanner{b: b}
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "id":
			if s.peek() == 'n' {
				return s.skip()
			}
			id, err := s.str()
			h.ID = id
			return err
		case "aliases":
			h.Aliases = h.Aliases[:0]
			if s.peek() == 'n' {
				return s.skip()
			}
			return s.array(func() error {
				a, err := s.str()
				h.Aliases = append(h.Aliases, a)
				return err
			})
		case "withdrawn":
			h.Withdrawn = s.peek() != 'n'
			return s.skip()
		case "affected":
			h.Packages = h.Packages[:0]
			if s.peek() == 'n' {
				return s.skip()
			}
			return s.array(func() error {
				var p [2]string
				err := s.object(func(key []byte) error {
					if string(key) != "package" || s.peek() == 'n' {
						return s.skip()
					}
					return s.object(func(key []byte) error {
						var i int
						switch string(key) {
						case "ecosystem":
							i = 0
						case "name":
							i = 1
						default:
							return s.skip()
						}
						if s.peek() == 'n' {
							return s.skip()
						}
						v, err := s.str()
						p[i] = v
						return err
					})
				})
				h.Packages = append(h.Packages, p)
				return err
			})
		}
		return s.skip()
	})
	if err != nil {
		return nil, err
	}
	if s.ws(); s.i != len(s.b) {
		return nil, fmt.Errorf("%w: data after the record at byte %d", ErrMalformedJSON, s.i)
	}
	return h, nil
}

// scanner walks JSON bytes.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) fail(what string) error {
	if s.i >= len(s.b) {
		return fmt.Errorf("%w: unexpected end, want %s", ErrMalformedJSON, what)
	}
	return fmt.Errorf("%w: %q at byte %d, want %s", ErrMalformedJSON, s.b[s.i], s.i, what)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return s.fail(string(c))
	}
	s.i++
	return nil
}

// rawStr consumes a string and returns its bytes between the quotes and
// whether it holds an escape.
func (s *scanner) rawStr() ([]byte, bool, error) {
	if s.peek() != '"' {
		return nil, false, s.fail("a string")
	}
	start := s.i + 1
	for j := start; ; {
		k := bytes.IndexByte(s.b[j:], '"')
		if k < 0 {
			s.i = len(s.b)
			return nil, false, s.fail("the end of a string")
		}
		end := j + k
		bs := 0
		for p := end - 1; p >= start && s.b[p] == '\\'; p-- {
			bs++
		}
		if bs%2 == 0 {
			s.i = end + 1
			raw := s.b[start:end]
			return raw, bytes.IndexByte(raw, '\\') >= 0, nil
		}
		j = end + 1
	}
}

// str consumes a string and returns its value.
func (s *scanner) str() (string, error) {
	start := s.i
	raw, escaped, err := s.rawStr()
	if err != nil || !escaped {
		return string(raw), err
	}
	var v string
	if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformedJSON, err)
	}
	return v, nil
}

// object consumes an object, calling fn after each key: fn consumes the
// value. key is valid only during the call.
func (s *scanner) object(fn func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		raw, escaped, err := s.rawStr()
		if err != nil {
			return err
		}
		if escaped {
			var k string
			if err := json.Unmarshal(s.b[s.i-len(raw)-2:s.i], &k); err != nil {
				return fmt.Errorf("%w: %v", ErrMalformedJSON, err)
			}
			raw = []byte(k)
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(raw); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("',' or '}'")
		}
	}
}

// array consumes an array, calling fn for each element: fn consumes it.
func (s *scanner) array(fn func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.fail("',' or ']'")
		}
	}
}

// skip consumes one value of any kind.
func (s *scanner) skip() error {
	switch c := s.peek(); c {
	case '"':
		_, _, err := s.rawStr()
		return err
	case '{', '[':
		var stack []byte
		for s.i < len(s.b) {
			switch c := s.b[s.i]; c {
			case '"':
				if _, _, err := s.rawStr(); err != nil {
					return err
				}
				continue
			case '{', '[':
				stack = append(stack, c)
			case '}', ']':
				if len(stack) == 0 || stack[len(stack)-1] != c-2 { // '{'+2 == '}', '['+2 == ']'
					return s.fail("matching brackets")
				}
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return s.fail("the end of a value")
	case 0:
		return s.fail("a value")
	default:
		start := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n', ':', '"', '{', '[':
				if s.i == start {
					return s.fail("a value")
				}
				return nil
			}
			s.i++
		}
		return nil
	}
}
