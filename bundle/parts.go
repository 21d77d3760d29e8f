package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// A kit may be written in parts for removable media: NAME.001, NAME.002 …,
// the kit's byte stream cut at fixed sizes (a part may end anywhere, in a
// tar header or a zstd block), and beside them NAME.parts.json, the part
// index: a DSSE envelope, signed by the kit's targets keys, whose payload
// lists every part's size and sha256 and the kit's targets sha256
// (docs/kit-format.md, "Parts").

// PartIndexSchema names the JSON schema of the part index payload.
const PartIndexSchema = "ferry.dev/kit-parts/v1"

// PartIndexPayloadType is the DSSE payload type of a part index.
const PartIndexPayloadType = "application/vnd.ferry.kit-parts.v1+json"

// PartIndexSuffix is appended to the kit's file name to name its part index.
const PartIndexSuffix = ".parts.json"

// MaxParts is the most parts a kit may be cut into: part names have three
// digits.
const MaxParts = 999

// maxPartIndexSize caps what is read of a part index: the root chain it
// carries and MaxParts entries fit well below it.
const maxPartIndexSize = 16 << 20

// Part is one part of a kit as the part index lists it.
type Part struct {
	Number int    `json:"number"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// PartIndex is the payload of a kit's part index.
type PartIndex struct {
	Schema string `json:"schema"`
	// Kit is the file name the kit was written as (the parts are Kit.001 …).
	Kit           string `json:"kit"`
	Name          string `json:"name"`
	Channel       string `json:"channel"`
	Version       int64  `json:"version"`
	TargetsSHA256 string `json:"targetsSha256"`
	// Size and SHA256 are those of the whole stream, the parts in order.
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	PartSize int64  `json:"partSize"`
	Parts    []Part `json:"parts"`
	// Roots is the kit's root chain, oldest first, so that one part can be
	// checked against a site's older pinned root after a key rotation.
	Roots [][]byte `json:"roots"`
}

// PartEnvelope is a signed part index: a DSSE envelope whose signatures'
// key ids are TUF key ids of the targets role.
type PartEnvelope struct {
	PayloadType string          `json:"payloadType"`
	Payload     []byte          `json:"payload"`
	Signatures  []PartSignature `json:"signatures"`
}

// PartSignature is one signature of a PartEnvelope.
type PartSignature struct {
	KeyID string `json:"keyid"`
	Sig   []byte `json:"sig"`
}

// PAE is the DSSE pre-authentication encoding of the envelope's payload:
// the bytes its signatures sign.
func (e *PartEnvelope) PAE() []byte { return dsse.PAE(e.PayloadType, e.Payload) }

// PartName is the file name of part n (1-based) of a kit written as kit:
// kit.001, kit.002 ….
func PartName(kit string, n int) string { return fmt.Sprintf("%s.%03d", kit, n) }

var partSuffix = regexp.MustCompile(`\.([0-9]{3})$`)

// SplitPartPath splits the path of a part into the kit's path and the
// part's number. ok is false for a name that is not NAME.NNN.
func SplitPartPath(path string) (kit string, n int, ok bool) {
	m := partSuffix.FindStringSubmatchIndex(path)
	if m == nil {
		return "", 0, false
	}
	n, err := strconv.Atoi(path[m[2]:m[3]])
	if err != nil || n < 1 {
		return "", 0, false
	}
	return path[:m[0]], n, true
}

// IsPart reports whether path names a part of a kit written in parts: it
// ends in .NNN and the part index lies beside it.
func IsPart(path string) bool {
	kit, _, ok := SplitPartPath(path)
	if !ok {
		return false
	}
	_, err := os.Stat(kit + PartIndexSuffix)
	return err == nil
}

// ParseSize parses a part size: a number of bytes, optionally with a unit
// KiB, MiB, GiB, TiB (powers of 1024), kB, MB, GB, TB (powers of 1000) or
// B; a fraction is allowed with a unit (4.7GB).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
		"kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	}
	m, ok := mult[unit]
	if !ok || num == "" {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (700MiB, 4GiB, 4.7GB)", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || math.IsInf(f*m, 0) || f*m > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes with an optional unit (700MiB, 4GiB, 4.7GB)", s)
	}
	n := int64(f * m)
	if n < 1 {
		return 0, fmt.Errorf("size %q: less than one byte", s)
	}
	return n, nil
}

// PartWriter cuts a stream into parts of a fixed size, hashing each part
// and the whole. It creates a part only when a byte is written to it, so a
// stream whose length is a multiple of the size has no empty last part.
// It is not safe for concurrent use.
type PartWriter struct {
	size   int64
	create func(n int) (io.WriteCloser, error)

	cur   io.WriteCloser
	left  int64
	h     hash.Hash
	whole hash.Hash
	total int64
	parts []Part
	err   error
}

// NewPartWriter returns a PartWriter that cuts parts of size bytes and
// calls create for part n (1-based) when it starts it.
func NewPartWriter(size int64, create func(n int) (io.WriteCloser, error)) *PartWriter {
	return &PartWriter{size: size, create: create, whole: sha256.New()}
}

// Write writes p across as many parts as it takes.
func (w *PartWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if w.cur == nil {
			if len(w.parts) >= MaxParts {
				w.err = fmt.Errorf("more than %d parts of %d bytes: choose a larger part size", MaxParts, w.size)
				return written, w.err
			}
			f, err := w.create(len(w.parts) + 1)
			if err != nil {
				w.err = err
				return written, err
			}
			w.cur, w.left, w.h = f, w.size, sha256.New()
			w.parts = append(w.parts, Part{Number: len(w.parts) + 1})
		}
		chunk := p[:min(int64(len(p)), w.left)]
		n, err := w.cur.Write(chunk)
		w.h.Write(chunk[:n])
		w.whole.Write(chunk[:n])
		w.total += int64(n)
		w.left -= int64(n)
		written += n
		p = p[n:]
		if err != nil {
			w.err = err
			return written, err
		}
		if w.left == 0 {
			if err := w.finishPart(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (w *PartWriter) finishPart() error {
	last := &w.parts[len(w.parts)-1]
	last.Size = w.size - w.left
	last.SHA256 = hex.EncodeToString(w.h.Sum(nil))
	err := w.cur.Close()
	w.cur = nil
	if err != nil {
		w.err = err
	}
	return err
}

// Close finishes the last part. It does not close the parts already
// finished again.
func (w *PartWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.cur != nil {
		return w.finishPart()
	}
	return nil
}

// Parts lists the parts written, after Close.
func (w *PartWriter) Parts() []Part { return slices.Clone(w.parts) }

// Size is the number of bytes written.
func (w *PartWriter) Size() int64 { return w.total }

// SHA256 is the hex sha256 of everything written.
func (w *PartWriter) SHA256() string { return hex.EncodeToString(w.whole.Sum(nil)) }

// SignPartIndex encodes idx and signs it with signers, which must be the
// targets keys of the kit's last root. The same index and ed25519 keys give
// the same bytes.
func SignPartIndex(idx *PartIndex, signers []signature.Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, errors.New("no signing key given")
	}
	payload, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	env := PartEnvelope{PayloadType: PartIndexPayloadType, Payload: payload}
	pae := env.PAE()
	for _, s := range signers {
		pub, err := s.PublicKey()
		if err != nil {
			return nil, err
		}
		k, err := metadata.KeyFromPublicKey(pub)
		if err != nil {
			return nil, err
		}
		id, err := k.ID()
		if err != nil {
			return nil, err
		}
		sig, err := s.SignMessage(bytes.NewReader(pae))
		if err != nil {
			return nil, fmt.Errorf("signing the part index: %w", err)
		}
		env.Signatures = append(env.Signatures, PartSignature{KeyID: id, Sig: sig})
	}
	slices.SortFunc(env.Signatures, func(a, b PartSignature) int { return strings.Compare(a.KeyID, b.KeyID) })
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// ParsePartIndex decodes a part index without checking its signatures:
// nothing in it is trusted until verify.PartIndex says so. A document that
// is not a part index is a *Error with code KIT_MALFORMED naming entry.
func ParsePartIndex(entry string, data []byte) (*PartEnvelope, *PartIndex, error) {
	if len(data) > maxPartIndexSize {
		return nil, nil, Errorf(CodeTooLarge, entry, "part index of %d bytes, more than %d", len(data), maxPartIndexSize)
	}
	var env PartEnvelope
	if err := strictJSON(data, &env); err != nil {
		return nil, nil, Errorf(CodeMalformed, entry, "not a part index: %v", err)
	}
	if env.PayloadType != PartIndexPayloadType {
		return nil, nil, Errorf(CodeMalformed, entry, "payload type %q, want %q", env.PayloadType, PartIndexPayloadType)
	}
	var idx PartIndex
	if err := strictJSON(env.Payload, &idx); err != nil {
		return nil, nil, Errorf(CodeMalformed, entry, "part index payload: %v", err)
	}
	if err := idx.check(); err != nil {
		return nil, nil, Errorf(CodeMalformed, entry, "%v", err)
	}
	return &env, &idx, nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON document")
	}
	return nil
}

func (idx *PartIndex) check() error {
	if idx.Schema != PartIndexSchema {
		return fmt.Errorf("schema %q, want %q", idx.Schema, PartIndexSchema)
	}
	if len(idx.Parts) == 0 || len(idx.Parts) > MaxParts {
		return fmt.Errorf("%d parts: want 1 to %d", len(idx.Parts), MaxParts)
	}
	var total int64
	for i, p := range idx.Parts {
		if p.Number != i+1 {
			return fmt.Errorf("part %d is listed as number %d", i+1, p.Number)
		}
		if p.Size <= 0 || p.Size > idx.PartSize || (i < len(idx.Parts)-1 && p.Size != idx.PartSize) {
			return fmt.Errorf("part %d: size %d with part size %d", p.Number, p.Size, idx.PartSize)
		}
		if !isSHA256(p.SHA256) {
			return fmt.Errorf("part %d: sha256 %q is not 64 lower-case hex digits", p.Number, p.SHA256)
		}
		total += p.Size
	}
	if total != idx.Size {
		return fmt.Errorf("parts add up to %d bytes, the index says %d", total, idx.Size)
	}
	if !isSHA256(idx.SHA256) || !isSHA256(idx.TargetsSHA256) {
		return errors.New("kit sha256 or targets sha256 is not 64 lower-case hex digits")
	}
	if idx.Channel == "" || idx.Version < 1 {
		return errors.New("no channel or version")
	}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// PartSet is a kit on disk in parts: Kit.001 … and Kit.parts.json.
type PartSet struct {
	// Kit is the kit's path without the part suffix.
	Kit string
	// Index is the part index, once read and verified by the caller.
	Index *PartIndex
}

// IndexPath is the path of the part index.
func (s *PartSet) IndexPath() string { return s.Kit + PartIndexSuffix }

// PartPath is the path of part n.
func (s *PartSet) PartPath(n int) string { return PartName(s.Kit, n) }

// PartEntry is how failures name part n: its file name.
func (s *PartSet) PartEntry(n int) string { return filepath.Base(s.PartPath(n)) }

// Check stats every part and returns a failure for each one that is
// missing (KIT_PART_MISSING) or has another size than the index says
// (KIT_PART_INVALID). It reads no content.
func (s *PartSet) Check() []*Error {
	var errs []*Error
	for _, p := range s.Index.Parts {
		fi, err := os.Stat(s.PartPath(p.Number))
		switch {
		case errors.Is(err, os.ErrNotExist):
			errs = append(errs, Errorf(CodePartMissing, s.PartEntry(p.Number), "part %d of %d is missing (expected sha256 %s, %d bytes)", p.Number, len(s.Index.Parts), p.SHA256, p.Size))
		case err != nil:
			errs = append(errs, Errorf(CodePartMissing, s.PartEntry(p.Number), "part %d of %d cannot be read: %v", p.Number, len(s.Index.Parts), err))
		case !fi.Mode().IsRegular():
			errs = append(errs, Errorf(CodePartInvalid, s.PartEntry(p.Number), "part %d is not a regular file", p.Number))
		case fi.Size() != p.Size:
			errs = append(errs, Errorf(CodePartInvalid, s.PartEntry(p.Number), "part %d has %d bytes, the signed index says %d (truncated or cut at another size?)", p.Number, fi.Size(), p.Size))
		}
	}
	return errs
}

// CheckPart reads part n alone and returns a KIT_PART_MISSING or
// KIT_PART_INVALID failure if it is not the part the index lists, or nil.
func (s *PartSet) CheckPart(n int) *Error {
	f, err := os.Open(s.PartPath(n))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Errorf(CodePartMissing, s.PartEntry(n), "part %d of %d is missing", n, len(s.Index.Parts))
		}
		return Errorf(CodePartMissing, s.PartEntry(n), "part %d cannot be read: %v", n, err)
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return Errorf(CodePartInvalid, s.PartEntry(n), "part %d cannot be read: %v", n, err)
	}
	return s.judge(n, size, hex.EncodeToString(h.Sum(nil)))
}

// judge compares what part n held with the index.
func (s *PartSet) judge(n int, size int64, sum string) *Error {
	p := s.Index.Parts[n-1]
	if size != p.Size {
		return Errorf(CodePartInvalid, s.PartEntry(n), "part %d has %d bytes, the signed index says %d (truncated or cut at another size?); sha256 %s, expected %s", n, size, p.Size, sum, p.SHA256)
	}
	if sum == p.SHA256 {
		return nil
	}
	hint := "corrupt, or a part of another kit: send it again"
	for _, o := range s.Index.Parts {
		if o.SHA256 == sum {
			hint = fmt.Sprintf("it holds the bytes of part %d: parts swapped or misnamed?", o.Number)
		}
	}
	return Errorf(CodePartInvalid, s.PartEntry(n), "part %d: sha256 %s, expected %s (%s)", n, sum, p.SHA256, hint)
}

// Reader returns the parts in order as one stream, without a reassembled
// copy. Every part must have the size the index lists: at its end a part
// that does not stops the stream with a *Error (KIT_PART_INVALID, or
// KIT_PART_MISSING when it cannot be opened), which Failures also returns.
// With hash, each part is also hashed as it is read and one that is not
// the part the index lists stops the stream at its end. Without, the
// stream costs no more than one file; a caller that verifies what it reads
// (the kit's own signed digests) calls Failures when that fails, to name
// the parts to send again. Memory is one open file and a hash.
func (s *PartSet) Reader(hash bool) *PartReader { return &PartReader{set: s, hash: hash} }

// PartReader reads a PartSet as one stream (PartSet.Reader).
type PartReader struct {
	mu   sync.Mutex // Close may come from another goroutine (a signal)
	set  *PartSet
	hash bool
	n    int // the part open (1-based), 0 before the first
	f    *os.File
	h    hash.Hash
	got  int64
	err  error
	done []bool // parts read to their end and judged
}

// Read reads the next bytes of the kit.
func (r *PartReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	if r.done == nil {
		r.done = make([]bool, len(r.set.Index.Parts))
	}
	for {
		if r.f == nil {
			if r.n == len(r.set.Index.Parts) {
				return 0, io.EOF
			}
			r.n++
			f, err := os.Open(r.set.PartPath(r.n))
			if err != nil {
				r.err = Errorf(CodePartMissing, r.set.PartEntry(r.n), "part %d of %d cannot be opened: %v", r.n, len(r.set.Index.Parts), err)
				return 0, r.err
			}
			r.f, r.h, r.got = f, nil, 0
			if r.hash {
				r.h = sha256.New()
			}
		}
		// Read one byte beyond the part's size, to see a part that is
		// too long, but hand out no more than the size.
		q := p
		if want := r.set.Index.Parts[r.n-1].Size - r.got; int64(len(q)) > want {
			q = q[:want]
		}
		n, err := r.f.Read(q)
		if r.h != nil {
			r.h.Write(q[:n])
		}
		r.got += int64(n)
		if err == nil && n > 0 {
			return n, nil
		}
		if err != nil && err != io.EOF {
			r.err = Errorf(CodePartInvalid, r.set.PartEntry(r.n), "part %d: %v", r.n, err)
			return n, r.err
		}
		if err == nil && len(q) > 0 {
			continue
		}
		// End of the part's bytes (len(p) == 0 when the size is reached,
		// or EOF): is there more, and is it the part the index lists?
		extra, _ := io.CopyN(io.Discard, r.f, 1<<20)
		size := r.set.Index.Parts[r.n-1].Size
		var e *Error
		switch {
		case extra > 0:
			e = Errorf(CodePartInvalid, r.set.PartEntry(r.n), "part %d is longer than the %d bytes the signed index says", r.n, size)
		case r.got != size:
			e = Errorf(CodePartInvalid, r.set.PartEntry(r.n), "part %d has %d bytes, the signed index says %d (truncated?)", r.n, r.got, size)
		case r.h != nil:
			e = r.set.judge(r.n, r.got, hex.EncodeToString(r.h.Sum(nil)))
		}
		if e != nil {
			r.err = e
			return n, e
		}
		r.done[r.n-1] = r.h != nil
		r.f.Close()
		r.f = nil
		if n > 0 {
			return n, nil
		}
	}
}

// Failures checks, after the stream stopped (at its end or early), every
// part that was not hashed to its end alone, and returns the failures of all
// parts in order: the one that stopped the stream and every other missing
// or corrupt part, so that each can be sent again.
func (r *PartReader) Failures() []*Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []*Error
	for i := range r.set.Index.Parts {
		n := i + 1
		if r.done != nil && r.done[i] {
			continue
		}
		var e *Error
		if n == r.n && errors.As(r.err, &e) && e.Entry == r.set.PartEntry(n) {
			errs = append(errs, e)
			continue
		}
		if e := r.set.CheckPart(n); e != nil {
			errs = append(errs, e)
		}
	}
	return errs
}

// Close closes the part that is open; a later Read fails. It is safe to
// call from another goroutine than Read's.
func (r *PartReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = os.ErrClosed
	}
	if r.f != nil {
		err := r.f.Close()
		r.f = nil
		return err
	}
	return nil
}
