package verify_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/trust"
	"github.com/ferry-dev/ferry/verify"
	"github.com/klauspost/compress/zstd"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// The mutation bar: run it in full with
//
//	go test -count=1 -run '^TestMutation$' -mutations 20000 -v ./verify/
var (
	mutations    = flag.Int("mutations", 300, "how many random mutations TestMutation tries (the bar is 20000)")
	mutationSeed = flag.Uint64("mutation-seed", 20261206, "seed of TestMutation's random generator")
)

// TestMutation applies random mutations to a kit that holds files,
// advisories and an image, signed 2-of-2 with a rotated root chain: byte
// flips in the zstd stream; flips in tar headers (checksum fixed or not)
// and data; size fields; truncation; dropped, duplicated, reordered,
// renamed, appended and edited entries; whitespace, signature and field
// edits inside the TUF metadata. Whenever verification says OK, the
// mutant's entries (names and contents, in order) must be byte-identical
// to the original's: a mutant may only be accepted if it changed nothing
// that a reader of the kit gets (zstd framing, tar header fields such as
// the mode). The generator is seeded: the same seed gives the same mutants.
func TestMutation(t *testing.T) {
	ch := mutationChannel(t)
	kit := fixtures.Kit(ch, fixtures.MixedFiles(), fixtures.KitOptions{})
	src := pinned(ch.Chain[0])
	wantOK(t, run(t, kit, src, at))
	m := newMutator(t, kit)

	rng := rand.New(rand.NewPCG(*mutationSeed, 0x6d757461))
	type tally struct{ tried, refused, accepted int }
	byOp := map[string]*tally{}
	var tried, refused, accepted, changed int
	start := time.Now()
	for i := 0; i < *mutations; i++ {
		op := m.ops[rng.IntN(len(m.ops))]
		var mutant []byte
		var desc string
		for range 100 { // a mutation that changes nothing is drawn again
			if mutant, desc = op.fn(rng); mutant != nil && !bytes.Equal(mutant, kit) {
				break
			}
		}
		if mutant == nil || bytes.Equal(mutant, kit) {
			continue
		}
		tried++
		tl := byOp[op.name]
		if tl == nil {
			tl = &tally{}
			byOp[op.name] = tl
		}
		tl.tried++
		rep, err := verify.Kit(context.Background(), bytes.NewReader(mutant), src, verify.Options{At: at})
		if err != nil {
			t.Fatalf("mutation %d (%s: %s): verify.Kit: %v", i, op.name, desc, err)
		}
		if !rep.OK {
			refused++
			tl.refused++
			continue
		}
		accepted++
		tl.accepted++
		if got, err := readEntries(mutant); err != nil || !slices.EqualFunc(got, m.entries, sameEntry) {
			changed++
			t.Errorf("mutation %d (%s: %s) changes the kit's entries and verifies OK (seed %d)", i, op.name, desc, *mutationSeed)
		} else if tl.accepted <= 2 {
			t.Logf("accepted, entries unchanged: mutation %d (%s: %s)", i, op.name, desc)
		}
	}
	elapsed := time.Since(start)
	t.Logf("%d mutations (seed %d) in %s: %d refused, %d accepted, of which %d with changed entries",
		tried, *mutationSeed, elapsed.Round(time.Millisecond), refused, accepted, changed)
	for _, op := range m.ops {
		if tl := byOp[op.name]; tl != nil {
			t.Logf("  %-34s %6d tried %6d refused %6d accepted", op.name, tl.tried, tl.refused, tl.accepted)
		}
	}
	if *mutations >= 300 && refused < tried*9/10 {
		t.Errorf("only %d of %d mutants refused: the mutations are too weak to mean anything", refused, tried)
	}
}

// mutationChannel is a channel whose root v2 follows v1 and whose
// targets, snapshot and timestamp are signed by two keys, threshold 2: no
// signature can go without the kit failing, and there is an order of
// signatures to break.
func mutationChannel(t *testing.T) *fixtures.Channel {
	t.Helper()
	ch := fixtures.NewChannelN("mutants", 2, 2, 2, 2)
	newRoot := []crypto.Signer{fixtures.Key("mutants/root/v2/0"), fixtures.Key("mutants/root/v2/1")}
	signers := []crypto.Signer{fixtures.Key("mutants/signer/v2/0"), fixtures.Key("mutants/signer/v2/1")}
	pub := func(ks []crypto.Signer) []crypto.PublicKey {
		var out []crypto.PublicKey
		for _, k := range ks {
			out = append(out, k.Public())
		}
		return out
	}
	next, err := trust.Rotate(ch.Root(), append(slices.Clone(ch.RootKeys), newRoot...), trust.Options{
		RootKeys: pub(newRoot), Threshold: 2, SigningKeys: pub(signers), SigningThreshold: 2, Created: fixtures.Created})
	if err != nil {
		t.Fatal(err)
	}
	ch.Chain = append(ch.Chain, next)
	ch.RootKeys, ch.Signers = newRoot, signers
	return ch
}

// entry is what a reader of a kit gets of one entry.
type entry struct {
	name string
	data []byte
}

func sameEntry(a, b entry) bool { return a.name == b.name && bytes.Equal(a.data, b.data) }

// readEntries decompresses a kit with klauspost zstd and reads it with
// archive/tar: every entry's name and content, in order.
func readEntries(kit []byte) ([]entry, error) {
	zr, err := zstd.NewReader(bytes.NewReader(kit))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out = append(out, entry{hdr.Name, data})
	}
}

// mutator makes mutants of one kit.
type mutator struct {
	t       *testing.T
	kit     []byte
	tar     []byte
	entries []entry
	tarEs   []fixtures.TarEntry
	// headers are the offsets of the tar header blocks (PAX extended
	// headers included); metaEntries the indexes of the tuf/ entries.
	headers     []int
	metaEntries []int
	ops         []mutation
}

type mutation struct {
	name string
	fn   func(rng *rand.Rand) ([]byte, string)
}

func newMutator(t *testing.T, kit []byte) *mutator {
	t.Helper()
	m := &mutator{t: t, kit: kit, tar: fixtures.DecompressTar(kit), tarEs: fixtures.Entries(kit)}
	var err error
	if m.entries, err = readEntries(kit); err != nil {
		t.Fatal(err)
	}
	for i, e := range m.tarEs {
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			m.metaEntries = append(m.metaEntries, i)
		}
	}
	// Header offsets: the next header starts at the block after the
	// previous entry's data; archive/tar reads exactly the blocks it needs.
	cr := &countReader{r: bytes.NewReader(m.tar)}
	tr := tar.NewReader(cr)
	for {
		start := (cr.n + 511) / 512 * 512
		if _, err := tr.Next(); err != nil {
			break
		}
		m.headers = append(m.headers, start)
		if real := cr.n - 512; real != start {
			m.headers = append(m.headers, real) // after a PAX header
		}
		io.Copy(io.Discard, tr)
	}
	m.ops = []mutation{
		{"zstd: flip a byte", m.zstdFlip},
		{"zstd: truncate", m.zstdTruncate},
		{"zstd: append bytes", m.zstdAppend},
		{"tar: flip a byte anywhere", m.tarFlip},
		{"tar: flip a header byte", func(r *rand.Rand) ([]byte, string) { return m.headerFlip(r, false) }},
		{"tar: flip a header byte, checksum fixed", func(r *rand.Rand) ([]byte, string) { return m.headerFlip(r, true) }},
		{"tar: change a size field", m.sizeField},
		{"tar: truncate", m.tarTruncate},
		{"tar: bytes after the trailer", m.tarAppend},
		{"entries: drop one", m.drop},
		{"entries: duplicate one", m.duplicate},
		{"entries: reorder", m.reorder},
		{"entries: rename one", m.rename},
		{"entries: add one", m.add},
		{"entries: edit content", m.editContent},
		{"metadata: whitespace byte replaced", m.wsReplace},
		{"metadata: whitespace inserted", m.wsInsert},
		{"metadata: whitespace deleted", m.wsDelete},
		{"metadata: re-encoded", m.reencode},
		{"metadata: trailing bytes", m.trailing},
		{"metadata: signature edit", m.sigEdit},
		{"metadata: field edit", m.fieldEdit},
	}
	return m
}

type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func (m *mutator) zstdFlip(r *rand.Rand) ([]byte, string) {
	off, mask := r.IntN(len(m.kit)), byte(1+r.IntN(255))
	return fixtures.FlipByte(m.kit, off, mask), fmt.Sprintf("offset %d ^ %#x", off, mask)
}

func (m *mutator) zstdTruncate(r *rand.Rand) ([]byte, string) {
	n := r.IntN(len(m.kit))
	return fixtures.Truncate(m.kit, n), fmt.Sprintf("at %d of %d", n, len(m.kit))
}

func (m *mutator) zstdAppend(r *rand.Rand) ([]byte, string) {
	extra := randBytes(r, 1+r.IntN(64))
	return append(bytes.Clone(m.kit), extra...), fmt.Sprintf("%d bytes", len(extra))
}

func (m *mutator) tarFlip(r *rand.Rand) ([]byte, string) {
	off, mask := r.IntN(len(m.tar)), byte(1+r.IntN(255))
	data := bytes.Clone(m.tar)
	data[off] ^= mask
	return fixtures.CompressTar(data), fmt.Sprintf("tar offset %d ^ %#x", off, mask)
}

func (m *mutator) headerFlip(r *rand.Rand, fix bool) ([]byte, string) {
	h := m.headers[r.IntN(len(m.headers))]
	off, mask := h+r.IntN(512), byte(1+r.IntN(255))
	data := bytes.Clone(m.tar)
	data[off] ^= mask
	if fix {
		fixChecksum(data[h : h+512])
	}
	return fixtures.CompressTar(data), fmt.Sprintf("header at %d, byte %d ^ %#x", h, off-h, mask)
}

func (m *mutator) sizeField(r *rand.Rand) ([]byte, string) {
	h := m.headers[r.IntN(len(m.headers))]
	data := bytes.Clone(m.tar)
	field := data[h+124 : h+136]
	old := parseOctal(field)
	var size int64
	switch r.IntN(3) {
	case 0:
		size = max(0, old+int64(r.IntN(1025))-512)
	case 1:
		size = old + 512*int64(1+r.IntN(4))
	default:
		size = r.Int64N(1 << 33)
	}
	copy(field, fmt.Sprintf("%011o\x00", size))
	fixChecksum(data[h : h+512])
	return fixtures.CompressTar(data), fmt.Sprintf("header at %d: size %d -> %d", h, old, size)
}

func (m *mutator) tarTruncate(r *rand.Rand) ([]byte, string) {
	n := r.IntN(len(m.tar))
	return fixtures.CompressTar(m.tar[:n]), fmt.Sprintf("tar cut at %d of %d", n, len(m.tar))
}

func (m *mutator) tarAppend(r *rand.Rand) ([]byte, string) {
	extra := randBytes(r, 1+r.IntN(1024))
	if r.IntN(2) == 0 {
		// A whole tar entry after the trailer.
		var b bytes.Buffer
		fixtures.WriteTar(&b, []fixtures.TarEntry{fixtures.Reg("zz-after-trailer", extra)})
		extra = b.Bytes()
	}
	return fixtures.CompressTar(append(bytes.Clone(m.tar), extra...)), fmt.Sprintf("%d bytes", len(extra))
}

// pack returns the kit of entries es, or nil when es are the kit's own
// entries: re-packing alone is not a mutation.
func (m *mutator) pack(es []fixtures.TarEntry) (kit []byte) {
	// archive/tar will not write every header (a name ending in "/"):
	// such a mutation is drawn again; raw header flips reach those.
	defer func() {
		if recover() != nil {
			kit = nil
		}
	}()
	if slices.EqualFunc(es, m.tarEs, func(a, b fixtures.TarEntry) bool {
		return a.Name == b.Name && a.Typeflag == b.Typeflag && a.Size == b.Size && bytes.Equal(a.Content, b.Content)
	}) {
		return nil
	}
	return fixtures.Pack(es)
}

// entriesCopy returns the kit's tar entries, contents copied.
func (m *mutator) entriesCopy() []fixtures.TarEntry {
	es := slices.Clone(m.tarEs)
	for i := range es {
		es[i].Content = bytes.Clone(es[i].Content)
	}
	return es
}

func (m *mutator) drop(r *rand.Rand) ([]byte, string) {
	es := m.entriesCopy()
	i := r.IntN(len(es))
	name := es[i].Name
	return m.pack(slices.Delete(es, i, i+1)), name
}

func (m *mutator) duplicate(r *rand.Rand) ([]byte, string) {
	es := m.entriesCopy()
	i, j := r.IntN(len(es)), r.IntN(len(es)+1)
	return m.pack(slices.Insert(es, j, es[i])), fmt.Sprintf("%s at %d", es[i].Name, j)
}

func (m *mutator) reorder(r *rand.Rand) ([]byte, string) {
	es := m.entriesCopy()
	i, j := r.IntN(len(es)), r.IntN(len(es))
	if r.IntN(2) == 0 {
		es[i], es[j] = es[j], es[i]
		return m.pack(es), fmt.Sprintf("swap %s and %s", es[j].Name, es[i].Name)
	}
	e := es[i]
	es = slices.Insert(slices.Delete(es, i, i+1), min(j, len(es)-1), e)
	return m.pack(es), fmt.Sprintf("move %s to %d", e.Name, j)
}

func (m *mutator) rename(r *rand.Rand) ([]byte, string) {
	es := m.entriesCopy()
	i := r.IntN(len(es))
	old := es[i].Name
	var name string
	switch r.IntN(7) {
	case 0:
		b := []byte(old)
		b[r.IntN(len(b))] ^= byte(1 << r.IntN(7))
		name = string(b)
	case 1:
		name = old + []string{"~", ".bak", "/", " ", "\x00"}[r.IntN(5)]
	case 2:
		name = []string{"./", "/", "a/../", "tuf/"}[r.IntN(4)] + old
	case 3:
		name = strings.ToUpper(old)
	case 4:
		name = es[r.IntN(len(es))].Name
	case 5:
		name = bundle.RootPath(int64(1 + r.IntN(4)))
	default:
		name = old[:r.IntN(len(old))]
	}
	es[i].Name = name
	return m.pack(es), fmt.Sprintf("%q -> %q", old, name)
}

func (m *mutator) add(r *rand.Rand) ([]byte, string) {
	es := m.entriesCopy()
	names := []string{"zz-extra", "docs/extra.md", "images/blobs/sha256/extra", "tuf/extra.json", bundle.RootPath(3), "kit.json.sig", "advisories/demo/osv.jsonl.1"}
	e := fixtures.Reg(names[r.IntN(len(names))], randBytes(r, r.IntN(600)))
	j := r.IntN(len(es) + 1)
	return m.pack(slices.Insert(es, j, e)), fmt.Sprintf("%s (%d bytes) at %d", e.Name, len(e.Content), j)
}

func (m *mutator) editContent(r *rand.Rand) ([]byte, string) {
	es := m.entriesCopy()
	i := r.IntN(len(es))
	c := es[i].Content
	var what string
	switch {
	case len(c) > 0 && r.IntN(3) == 0:
		n := r.IntN(len(c))
		es[i].Content, what = c[:n], fmt.Sprintf("cut at %d", n)
	case len(c) > 0 && r.IntN(2) == 0:
		off := r.IntN(len(c))
		c[off] ^= byte(1 + r.IntN(255))
		what = fmt.Sprintf("flip at %d", off)
	default:
		es[i].Content, what = append(c, randBytes(r, 1+r.IntN(16))...), "append"
	}
	return m.pack(es), es[i].Name + ": " + what
}

// metaEdit returns the kit with the content of a random TUF entry replaced
// by edit's: timestamp.json and the roots, which nothing else hashes, are
// picked twice as often as the others.
func (m *mutator) metaEdit(r *rand.Rand, edit func(name string, b []byte) ([]byte, string)) ([]byte, string) {
	es := m.entriesCopy()
	var pick []int
	for _, i := range m.metaEntries {
		pick = append(pick, i)
		if es[i].Name != bundle.SnapshotPath && es[i].Name != bundle.TargetsPath {
			pick = append(pick, i)
		}
	}
	i := pick[r.IntN(len(pick))]
	var what string
	es[i].Content, what = edit(es[i].Name, es[i].Content)
	return m.pack(es), es[i].Name + ": " + what
}

var whitespace = []byte{' ', '\t', '\n', '\r'}

func (m *mutator) wsReplace(r *rand.Rand) ([]byte, string) {
	return m.metaEdit(r, func(_ string, b []byte) ([]byte, string) {
		var at []int
		for i, c := range b {
			if bytes.IndexByte(whitespace, c) >= 0 {
				at = append(at, i)
			}
		}
		i := at[r.IntN(len(at))]
		c := whitespace[r.IntN(len(whitespace))]
		old := b[i]
		b[i] = c
		return b, fmt.Sprintf("byte %d %q -> %q", i, old, c)
	})
}

func (m *mutator) wsInsert(r *rand.Rand) ([]byte, string) {
	return m.metaEdit(r, func(_ string, b []byte) ([]byte, string) {
		i := r.IntN(len(b) + 1)
		if r.IntN(2) == 0 { // next to a structural character, where JSON allows it
			var at []int
			for j, c := range b {
				if bytes.IndexByte([]byte("{}[],:"), c) >= 0 {
					at = append(at, j+r.IntN(2))
				}
			}
			i = at[r.IntN(len(at))]
		}
		c := whitespace[r.IntN(len(whitespace))]
		return slices.Insert(b, i, c), fmt.Sprintf("%q at %d", c, i)
	})
}

func (m *mutator) wsDelete(r *rand.Rand) ([]byte, string) {
	return m.metaEdit(r, func(_ string, b []byte) ([]byte, string) {
		var at []int
		for i, c := range b {
			if bytes.IndexByte(whitespace, c) >= 0 {
				at = append(at, i)
			}
		}
		i := at[r.IntN(len(at))]
		return slices.Delete(b, i, i+1), fmt.Sprintf("%q at %d", b[i], i)
	})
}

func (m *mutator) reencode(r *rand.Rand) ([]byte, string) {
	return m.metaEdit(r, func(_ string, b []byte) ([]byte, string) {
		var out bytes.Buffer
		switch r.IntN(3) {
		case 0:
			json.Compact(&out, b)
			return out.Bytes(), "compact"
		case 1:
			json.Indent(&out, bytes.TrimSpace(b), "", "  ")
			return append(out.Bytes(), '\n'), "two-space indent"
		}
		var v any
		json.Unmarshal(b, &v)
		e := json.NewEncoder(&out)
		e.SetEscapeHTML(false)
		e.SetIndent("", "\t")
		e.Encode(v)
		return out.Bytes(), "generic re-encoding"
	})
}

func (m *mutator) trailing(r *rand.Rand) ([]byte, string) {
	return m.metaEdit(r, func(_ string, b []byte) ([]byte, string) {
		switch r.IntN(4) {
		case 0:
			return bytes.TrimSuffix(b, []byte("\n")), "final newline dropped"
		case 1:
			return append(b, "\n"...), "second final newline"
		case 2:
			return append(b, "{}"...), "a second JSON value"
		}
		return append(b, randBytes(r, 1+r.IntN(8))...), "random bytes"
	})
}

// sigEdit edits the signatures of a metadata entry, keeping the rest.
func (m *mutator) sigEdit(r *rand.Rand) ([]byte, string) {
	return m.metaEdit(r, func(name string, b []byte) ([]byte, string) {
		kind := r.IntN(9)
		if kind == 8 { // textual: upper-case hex of one signature
			i := bytes.Index(b, []byte(`"sig": "`)) + len(`"sig": "`)
			j := i + bytes.IndexByte(b[i:], '"')
			copy(b[i:j], bytes.ToUpper(b[i:j]))
			return b, "signature hex in upper case"
		}
		var what string
		edit := func(sigs *[]metadata.Signature, env, signed *map[string]any) {
			s := *sigs
			k := r.IntN(len(s))
			switch kind {
			case 0:
				*sigs, what = slices.Delete(s, k, k+1), "signature dropped"
			case 1:
				*sigs, what = slices.Insert(s, r.IntN(len(s)+1), s[k]), "signature duplicated"
			case 2:
				slices.Reverse(s)
				what = "signatures reversed"
			case 3:
				s[k].Signature = bytes.Clone(s[k].Signature)
				s[k].Signature[r.IntN(len(s[k].Signature))] ^= byte(1 << r.IntN(8))
				what = "signature bit flipped"
			case 4:
				id := []byte(s[k].KeyID)
				id[r.IntN(len(id))] ^= 1
				s[k].KeyID, what = string(id), "key id changed"
			case 5:
				*sigs = append(s, metadata.Signature{KeyID: strings.Repeat("ab", 32), Signature: randBytes(r, 64)})
				slices.SortFunc(*sigs, func(a, b metadata.Signature) int { return strings.Compare(a.KeyID, b.KeyID) })
				what = "signature by an unknown key id added"
			case 6:
				s[k].UnrecognizedFields = map[string]any{"method": "ed25519"}
				what = "unknown field in a signature"
			default:
				*env = map[string]any{"x-note": "unsigned"}
				what = "unknown field in the envelope"
			}
		}
		return editMeta(name, b, edit), what
	})
}

// fieldEdit changes the signed part: the signatures no longer match.
func (m *mutator) fieldEdit(r *rand.Rand) ([]byte, string) {
	return m.metaEdit(r, func(name string, b []byte) ([]byte, string) {
		if r.IntN(2) == 0 {
			i := bytes.Index(b, []byte(`"version": `)) + len(`"version": `)
			b[i]++
			return b, "version digit changed"
		}
		i := bytes.Index(b, []byte(`"expires": "`)) + len(`"expires": "`) + 3
		b[i] = '9'
		return b, "expiry year changed"
	})
}

// editMeta parses b as the metadata that name holds and applies edit to
// its signatures, envelope fields and signed part.
func editMeta(name string, b []byte, edit func(sigs *[]metadata.Signature, env, signed *map[string]any)) []byte {
	switch {
	case name == bundle.TimestampPath:
		return fixtures.EditMetadata(b, func(m *metadata.Metadata[metadata.TimestampType]) {
			edit(&m.Signatures, &m.UnrecognizedFields, &m.Signed.UnrecognizedFields)
		})
	case name == bundle.SnapshotPath:
		return fixtures.EditMetadata(b, func(m *metadata.Metadata[metadata.SnapshotType]) {
			edit(&m.Signatures, &m.UnrecognizedFields, &m.Signed.UnrecognizedFields)
		})
	case name == bundle.TargetsPath:
		return fixtures.EditMetadata(b, func(m *metadata.Metadata[metadata.TargetsType]) {
			edit(&m.Signatures, &m.UnrecognizedFields, &m.Signed.UnrecognizedFields)
		})
	}
	return fixtures.EditMetadata(b, func(m *metadata.Metadata[metadata.RootType]) {
		edit(&m.Signatures, &m.UnrecognizedFields, &m.Signed.UnrecognizedFields)
	})
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fixChecksum recomputes a tar header block's checksum.
func fixChecksum(h []byte) {
	copy(h[148:156], "        ")
	var sum int64
	for _, c := range h {
		sum += int64(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

func parseOctal(b []byte) int64 {
	var n int64
	for _, c := range b {
		if c < '0' || c > '7' {
			break
		}
		n = n*8 + int64(c-'0')
	}
	return n
}
