package keys

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
)

// Found describes private key material that a Detector met. It names where
// the key is, never what it holds.
type Found struct {
	// Kind is the PEM type ("PRIVATE KEY", "OPENSSH PRIVATE KEY", …) or,
	// for a file that is one DER key, "DER PKCS#8", "DER PKCS#1" or
	// "DER SEC 1".
	Kind string
	// Line is the 1-based line of the BEGIN line of a PEM block, 0 for DER.
	Line int
}

func (f *Found) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("a PEM %q block at line %d", f.Kind, f.Line)
	}
	return "a " + f.Kind + " private key"
}

// Detector finds private keys in a stream written to it, so that they are
// refused before they are copied anywhere (a kit, a store). It recognises:
//
//   - a PEM block whose type contains "PRIVATE KEY" ("PRIVATE KEY",
//     "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY",
//     "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK", …) anywhere in the
//     stream, also inside a JSON string or after other text: a BEGIN line
//     followed later by the matching END line;
//   - a stream of at most MaxDERKey bytes that is, as a whole, a DER
//     private key (PKCS#8, encrypted PKCS#8, PKCS#1 RSA, SEC 1 EC).
//
// A private key that is compressed, base64-encoded as a whole or hidden in
// an archive is not found: the Detector guards against accidents, not
// against someone who means to smuggle a key.
//
// Write never fails; call Found after the last byte. A Detector is not
// safe for concurrent use. Its memory is bounded (MaxDERKey plus a few
// hundred bytes) whatever the length of the stream.
type Detector struct {
	buf     []byte // scratch: carry + the chunk being searched
	carry   []byte // the end of the previous chunk (a marker may straddle)
	off     int64  // stream offset of carry[0]
	line    int    // line of carry[0] (1-based)
	done    int64  // stream offset up to which BEGIN markers were taken
	doneEnd int64  // stream offset up to which END markers were taken
	open    []openBlock
	found   *Found
	head    []byte // the first MaxDERKey+1 bytes, for DER
	total   int64
}

type openBlock struct {
	typ  string
	line int
}

// MaxDERKey is the size up to which a whole stream is tried as a DER
// private key. An RSA 8192 PKCS#1 key is about 4.7 kB.
const MaxDERKey = 16 << 10

const (
	maxPEMType = 64 // longest PEM type considered
	// carryLen covers "-----BEGIN " + type + "-----".
	carryLen    = len("-----BEGIN ") + maxPEMType + len("-----")
	maxOpenPEMs = 16
)

var (
	pemBegin = []byte("-----BEGIN ")
	pemEnd   = []byte("-----END ")
	pemDash  = []byte("-----")
)

// Write implements io.Writer.
func (d *Detector) Write(p []byte) (int, error) {
	if d.line == 0 {
		d.line = 1
	}
	d.total += int64(len(p))
	if len(d.head) <= MaxDERKey {
		d.head = append(d.head, p[:min(len(p), MaxDERKey+1-len(d.head))]...)
	}
	if d.found != nil {
		return len(p), nil
	}
	d.buf = append(append(d.buf[:0], d.carry...), p...)
	d.scan(d.buf)
	// Keep the tail for a marker cut by the chunk boundary.
	keep := min(len(d.buf), carryLen)
	cut := len(d.buf) - keep
	d.line += bytes.Count(d.buf[:cut], []byte{'\n'})
	d.off += int64(cut)
	d.carry = append(d.carry[:0], d.buf[cut:]...)
	return len(p), nil
}

// scan looks for BEGIN and END markers in data, which starts at stream
// offset d.off; markers before d.done (seen in the previous chunk) are
// skipped.
func (d *Detector) scan(data []byte) {
	for i := 0; i < len(data); {
		j := bytes.Index(data[i:], pemDash)
		if j < 0 {
			return
		}
		at := i + j
		abs := d.off + int64(at)
		rest := data[at:]
		var begin bool
		var typStart int
		switch {
		case bytes.HasPrefix(rest, pemBegin):
			begin, typStart = true, len(pemBegin)
		case bytes.HasPrefix(rest, pemEnd):
			typStart = len(pemEnd)
		default:
			if len(rest) < len(pemBegin) {
				return // maybe a marker cut by the boundary: next chunk
			}
			i = at + 1
			continue
		}
		k := bytes.Index(rest[typStart:min(len(rest), typStart+maxPEMType+len(pemDash))], pemDash)
		if k < 0 {
			if len(rest) < typStart+maxPEMType+len(pemDash) {
				return // the marker may end in the next chunk
			}
			i = at + 1
			continue
		}
		typ := string(rest[typStart : typStart+k])
		markerLen := typStart + k + len(pemDash)
		if !validPEMType(typ) {
			i = at + 1
			continue
		}
		if begin && abs >= d.done {
			d.done = abs + 1
			if bytes.Contains([]byte(typ), []byte("PRIVATE KEY")) && len(d.open) < maxOpenPEMs {
				d.open = append(d.open, openBlock{typ: typ, line: d.line + bytes.Count(data[:at], []byte{'\n'})})
			}
		}
		if !begin && abs >= d.doneEnd {
			d.doneEnd = abs + 1
			for _, o := range d.open {
				if o.typ == typ {
					d.found = &Found{Kind: typ, Line: o.line}
					return
				}
			}
		}
		i = at + markerLen
	}
}

// validPEMType reports whether s can be a PEM label (RFC 7468: printable
// ASCII but '-', single spaces between words).
func validPEMType(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 && c != ' ' || c > 0x7e || c == '-' {
			return false
		}
	}
	return true
}

// Found returns the private key found in what was written, or nil. Call
// it after the last Write.
func (d *Detector) Found() *Found {
	if d.found != nil {
		return d.found
	}
	if d.total <= MaxDERKey {
		if kind := derPrivateKey(d.head); kind != "" {
			return &Found{Kind: kind}
		}
	}
	return nil
}

// derPrivateKey returns the kind of DER private key b is, or "".
func derPrivateKey(b []byte) string {
	if len(b) < 2 || b[0] != 0x30 {
		return ""
	}
	if _, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		return "DER PKCS#8"
	}
	if _, err := x509.ParsePKCS1PrivateKey(b); err == nil {
		return "DER PKCS#1"
	}
	if _, err := x509.ParseECPrivateKey(b); err == nil {
		return "DER SEC 1"
	}
	// EncryptedPrivateKeyInfo (RFC 5958): SEQUENCE { AlgorithmIdentifier,
	// OCTET STRING }, the algorithm PBES2 or a PKCS#12 PBE scheme.
	var epki struct {
		Algo struct {
			OID    asn1.ObjectIdentifier
			Params asn1.RawValue `asn1:"optional"`
		}
		Data []byte
	}
	if rest, err := asn1.Unmarshal(b, &epki); err == nil && len(rest) == 0 {
		pbes2 := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
		pkcs12PBE := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1}
		if epki.Algo.OID.Equal(pbes2) || hasPrefix(epki.Algo.OID, pkcs12PBE) {
			return "DER encrypted PKCS#8"
		}
	}
	return ""
}

func hasPrefix(oid, prefix asn1.ObjectIdentifier) bool {
	return len(oid) > len(prefix) && oid[:len(prefix)].Equal(prefix)
}

// FindPrivateKey reads r to the end and returns the private key it holds,
// or nil (see Detector).
func FindPrivateKey(r io.Reader) (*Found, error) {
	var d Detector
	if _, err := io.CopyBuffer(&d, r, make([]byte, 64<<10)); err != nil {
		return nil, err
	}
	return d.Found(), nil
}

var _ io.Writer = (*Detector)(nil)
