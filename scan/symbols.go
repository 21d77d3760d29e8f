package scan

import (
	"bufio"
	"bytes"
	"cmp"
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// goSymbols is the set of functions a Go binary holds, named as
// govulncheck names them: (package path, symbol) with symbol "F" for a
// function and "T.M" for a method of T or *T. It counts functions that
// were inlined everywhere, as govulncheck does. It is read-only once built
// and safe for concurrent use.
type goSymbols struct {
	// syms holds, sorted, the xxHash64 hashes of the keys "pkg sym" of
	// every function name. Only hashes are kept: a binary's 30,000 names
	// or so are read in a few milliseconds when little memory is touched.
	// Two keys of one hash (about 1 in 10^10 for a big binary) can only
	// make a symbol look present, never absent: evidence errs towards
	// "affected".
	syms []uint64
	// pkgs holds the packages with at least one function.
	pkgs map[string]struct{}
	// modules holds, sorted, the modules (build-info paths, "stdlib")
	// with at least one linked package.
	modules []string
}

// pclntab magic numbers (runtime/symtab.go, debug/gosym).
const (
	pclnGo12  = 0xfffffffb // Go 1.2–1.15: no function name table
	pclnGo116 = 0xfffffffa
	pclnGo118 = 0xfffffff0
	pclnGo120 = 0xfffffff1
)

// maxOldPCLN caps the pre-Go-1.16 line table, which debug/gosym needs in
// memory whole.
const maxOldPCLN = 256 << 20

// errNoPCLN says no Go line table was found in the binary.
var errNoPCLN = errors.New("no Go line table (pclntab) found")

// readGoSymbols reads the function names of the Go binary r (ELF, Mach-O
// or PE, stripped or not) from its line table. mainPath is the main
// package's path (build info), which stands for "main" in symbol names;
// modules are the binary's module paths (build info: main module and
// dependencies), to which packages are attributed.
//
// Since Go 1.16 the line table has a function name table (funcnametab)
// which the linker fills with the name of every function and of every
// function inlined into one (cmd/link's walkFuncs): exactly the names
// govulncheck collects from the function table and each function's inline
// tree. It is read as a stream of NUL-terminated names, never whole.
// Older tables are read with debug/gosym (functions only, no inlining).
func readGoSymbols(r io.ReaderAt, mainPath string, modules []string) (*goSymbols, error) {
	tab, err := findPCLN(r)
	if err != nil {
		return nil, err
	}
	g := &goSymbols{pkgs: map[string]struct{}{}}
	var names io.Reader
	if tab.magic == pclnGo12 {
		old, err := oldNames(tab)
		if err != nil {
			return nil, err
		}
		names = old
	} else {
		names = io.NewSectionReader(tab.r, tab.funcnameOff, tab.funcnameLen)
		// names average 40 bytes or so
		g.syms = make([]uint64, 0, tab.funcnameLen/32)
	}
	if err := g.build(names, mainPath); err != nil {
		return nil, fmt.Errorf("reading function names: %w", err)
	}
	g.finish(modules)
	return g, nil
}

// pclnTab is a located line table: its header, and the table itself
// starting at offset 0 of r.
type pclnTab struct {
	r           *io.SectionReader
	magic       uint32
	order       binary.ByteOrder
	funcnameOff int64
	funcnameLen int64
}

// region is a part of the file that may hold the line table; named
// regions are where the linker puts it, the others are searched for its
// header.
type region struct {
	off, size int64
	named     bool
}

// findPCLN locates the line table: the section the linker names
// (.gopclntab, .data.rel.ro.gopclntab, __gopclntab), else the header's
// magic searched for in the read-only data (PE keeps no section for it;
// some ELF links fold it into .data.rel.ro), as govulncheck does.
func findPCLN(r io.ReaderAt) (*pclnTab, error) {
	var regions []region
	if f, err := elf.NewFile(r); err == nil {
		for _, name := range []string{".gopclntab", ".data.rel.ro.gopclntab"} {
			if s := f.Section(name); s != nil && s.Type != elf.SHT_NOBITS && s.Flags&elf.SHF_COMPRESSED == 0 {
				regions = append(regions, region{int64(s.Offset), int64(s.Size), true})
			}
		}
		for _, s := range f.Sections {
			if s.Type == elf.SHT_PROGBITS && s.Flags&elf.SHF_ALLOC != 0 && s.Flags&elf.SHF_EXECINSTR == 0 && s.Flags&elf.SHF_COMPRESSED == 0 {
				regions = append(regions, region{int64(s.Offset), int64(s.Size), false})
			}
		}
		if len(f.Sections) <= 1 { // section headers stripped too
			for _, p := range f.Progs {
				if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X == 0 {
					regions = append(regions, region{int64(p.Off), int64(p.Filesz), false})
				}
			}
		}
	} else if f, err := macho.NewFile(r); err == nil {
		if s := f.Section("__gopclntab"); s != nil {
			regions = append(regions, region{int64(s.Offset), int64(s.Size), true})
		}
		for _, s := range f.Sections {
			if s.Name != "__text" && s.Flags&0xff != 0x1 /* S_ZEROFILL */ && s.Offset != 0 {
				regions = append(regions, region{int64(s.Offset), int64(s.Size), false})
			}
		}
	} else if f, err := pe.NewFile(r); err == nil {
		secs := slices.Clone(f.Sections)
		// runtime.pclntab lives in .rdata (in .text for old toolchains).
		slices.SortStableFunc(secs, func(a, b *pe.Section) int { return cmp.Compare(peRank(a.Name), peRank(b.Name)) })
		for _, s := range secs {
			if s.Size > 0 {
				regions = append(regions, region{int64(s.Offset), int64(s.Size), false})
			}
		}
	} else {
		return nil, errors.New("not an ELF, Mach-O or PE file")
	}
	for _, rg := range regions {
		sr := io.NewSectionReader(r, rg.off, rg.size)
		if rg.named {
			if t, ok := parsePCLNHeader(sr, 0); ok {
				return t, nil
			}
		}
		if t, ok := searchPCLN(sr); ok {
			return t, nil
		}
	}
	return nil, errNoPCLN
}

func peRank(name string) int {
	switch name {
	case ".rdata":
		return 0
	case ".text":
		return 2
	}
	return 1
}

// searchPCLN looks for a valid line table header at every 4-byte aligned
// offset of sr, reading it in chunks.
func searchPCLN(sr *io.SectionReader) (*pclnTab, bool) {
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	for base := int64(0); base < sr.Size(); base += chunk {
		n, err := sr.ReadAt(buf, base)
		if n == 0 && err != nil {
			return nil, false
		}
		for i := 0; i+4 <= n; i += 4 {
			le, be := binary.LittleEndian.Uint32(buf[i:]), binary.BigEndian.Uint32(buf[i:])
			if !isPCLNMagic(le) && !isPCLNMagic(be) {
				continue
			}
			if t, ok := parsePCLNHeader(sr, base+int64(i)); ok {
				return t, true
			}
		}
	}
	return nil, false
}

func isPCLNMagic(m uint32) bool {
	return m == pclnGo12 || m == pclnGo116 || m == pclnGo118 || m == pclnGo120
}

// parsePCLNHeader reads and checks the header (runtime.pcHeader) at off
// in sr. Every offset must lie in order inside sr, and the name table
// must start with a name and end with a NUL: a stray magic number in
// read-only data does not pass.
func parsePCLNHeader(sr *io.SectionReader, off int64) (*pclnTab, bool) {
	var h [8 + 8*8]byte
	n, _ := sr.ReadAt(h[:], off)
	if n < 8 || h[4] != 0 || h[5] != 0 || (h[6] != 1 && h[6] != 2 && h[6] != 4) || (h[7] != 4 && h[7] != 8) {
		return nil, false
	}
	var order binary.ByteOrder = binary.LittleEndian
	magic := order.Uint32(h[:])
	if !isPCLNMagic(magic) {
		order = binary.BigEndian
		magic = order.Uint32(h[:])
	}
	ptr := int(h[7])
	size := sr.Size() - off
	t := &pclnTab{r: io.NewSectionReader(sr, off, size), magic: magic, order: order}
	if magic == pclnGo12 {
		// Go 1.2–1.15: nfunc follows; debug/gosym checks the rest.
		return t, size > int64(8+2*ptr)
	}
	words := 7 // nfunc, nfiles, funcname, cu, filetab, pctab, pcln
	if magic != pclnGo116 {
		words = 8 // textStart after nfiles
	}
	if n < 8+words*ptr {
		return nil, false
	}
	word := func(i int) uint64 {
		b := h[8+i*ptr:]
		if ptr == 4 {
			return uint64(order.Uint32(b))
		}
		return order.Uint64(b)
	}
	nfunc := word(0)
	first := 2
	if words == 8 {
		first = 3
	}
	offs := []uint64{word(first), word(first + 1), word(first + 2), word(first + 3), word(first + 4)}
	if nfunc == 0 || nfunc > 1<<26 || offs[0] < uint64(8+words*ptr) || offs[4] >= uint64(size) {
		return nil, false
	}
	if offs[1] <= offs[0] {
		return nil, false
	}
	for i := 2; i < len(offs); i++ {
		if offs[i] < offs[i-1] {
			return nil, false
		}
	}
	var edge [1]byte
	if _, err := t.r.ReadAt(edge[:], int64(offs[0])); err != nil || edge[0] == 0 || edge[0] < 0x20 {
		return nil, false
	}
	if _, err := t.r.ReadAt(edge[:], int64(offs[1])-1); err != nil || edge[0] != 0 {
		return nil, false
	}
	t.funcnameOff, t.funcnameLen = int64(offs[0]), int64(offs[1]-offs[0])
	return t, true
}

// build reads NUL-terminated names from r into g. A name longer than
// maxName (no real name is) is dropped.
func (g *goSymbols) build(r io.Reader, mainPath string) error {
	const maxName = 64 << 10
	br := bufio.NewReaderSize(r, 64<<10)
	var long, key []byte
	var lastPkg []byte
	for {
		line, err := br.ReadSlice(0)
		if err == bufio.ErrBufferFull {
			if len(long) < maxName {
				long = append(long, line...)
			}
			continue
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		if len(line) > 0 && line[len(line)-1] == 0 {
			line = line[:len(line)-1]
		}
		if len(line) > 0 && len(line) <= maxName {
			var ok bool
			if key, ok = appendKey(key[:0], line, mainPath); ok {
				sp := bytes.IndexByte(key, ' ')
				g.syms = append(g.syms, xxhash.Sum64(key))
				// Names come grouped by package: most repeat the last one.
				if !bytes.Equal(key[:sp], lastPkg) {
					lastPkg = append(lastPkg[:0], key[:sp]...)
					g.pkgs[string(lastPkg)] = struct{}{}
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	sortHashes(g.syms)
	g.syms = slices.Compact(g.syms)
	return nil
}

// sortHashes sorts hs in increasing order: a least-significant-byte radix
// sort, eight passes through a buffer of the same size, for the tens of
// thousands of hashes of a binary's names (a third of the time of reading
// them with a comparison sort). Short slices go to slices.Sort.
func sortHashes(hs []uint64) {
	if len(hs) < 1024 {
		slices.Sort(hs)
		return
	}
	src, dst := hs, make([]uint64, len(hs))
	for shift := 0; shift < 64; shift += 8 {
		var start [256]int
		for _, h := range src {
			start[byte(h>>shift)]++
		}
		pos := 0
		for i, n := range start {
			start[i] = pos
			pos += n
		}
		for _, h := range src {
			b := byte(h >> shift)
			dst[start[b]] = h
			start[b]++
		}
		src, dst = dst, src
	}
	// Eight passes: the sorted hashes are back in hs.
}

// oldNames reads a Go 1.2–1.15 line table with debug/gosym and returns
// its function names, NUL-terminated.
func oldNames(t *pclnTab) (_ io.Reader, err error) {
	defer func() {
		// debug/gosym trusts its input; a damaged table must not take the
		// scan down.
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged Go 1.2 line table: %v", r)
		}
	}()
	size := t.r.Size()
	if size > maxOldPCLN {
		return nil, fmt.Errorf("Go 1.2 line table of %d bytes exceeds the %d byte limit", size, maxOldPCLN)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(t.r, 0, size), data); err != nil {
		return nil, err
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, 0))
	if err != nil {
		return nil, fmt.Errorf("reading the Go 1.2 line table: %w", err)
	}
	var names bytes.Buffer
	for _, f := range tab.Funcs {
		names.WriteString(f.Name)
		names.WriteByte(0)
	}
	return &names, nil
}

// finish works out the linked modules.
func (g *goSymbols) finish(modules []string) {
	mods := map[string]bool{}
	for p := range g.pkgs {
		if m := moduleOf(p, modules); m != "" {
			mods[m] = true
		}
	}
	g.modules = slices.Sorted(mapsKeys(mods))
}

// has reports whether the binary holds symbol sym ("F", "T.M") of
// package pkg.
func (g *goSymbols) has(pkg, sym string) bool {
	h := xxhash.Sum64String(pkg + " " + sym)
	_, ok := slices.BinarySearch(g.syms, h)
	return ok
}

// hasPackage reports whether the binary holds any function of pkg.
func (g *goSymbols) hasPackage(pkg string) bool {
	_, ok := g.pkgs[pkg]
	return ok
}

// linksModule reports whether a package of module m is linked.
func (g *goSymbols) linksModule(m string) bool {
	_, ok := slices.BinarySearch(g.modules, m)
	return ok
}

// len returns the number of distinct symbols.
func (g *goSymbols) len() int { return len(g.syms) }

// moduleOf attributes a package path to a module: "stdlib" for a
// standard-library path (no dot in its first element, govulncheck's
// IsStdPackage), else the longest module path that is the package path or
// a prefix of it ending at a "/"; "" when none is.
func moduleOf(pkg string, modules []string) string {
	if pkg == "" {
		return ""
	}
	first, _, _ := strings.Cut(pkg, "/")
	if !strings.Contains(first, ".") {
		return "stdlib"
	}
	best := ""
	for _, m := range modules {
		if len(m) > len(best) && strings.HasPrefix(pkg, m) && (len(pkg) == len(m) || pkg[len(m)] == '/') {
			best = m
		}
	}
	return best
}

// splitFuncName splits a linker symbol name into package path and symbol
// the way govulncheck does (its parseName over debug/gosym's
// PackageName, ReceiverName and BaseName): the package is everything up to
// the first dot after the last slash, path-unescaped ("gopkg.in/yaml%2ev2"
// → "gopkg.in/yaml.v2"); a receiver "(*T)" or "T" between that dot and the
// last one gives "T.M". One difference: type arguments of generic
// instantiations ("F[go.shape.int]", "(*T[...]).M") are dropped, because
// vulnerability records name "F" and "T.M"; govulncheck's binary mode
// keeps them and so never matches a generic symbol. Compiler-generated
// names ("go:…", "type:…") and names without a package give ok false.
func splitFuncName(name string) (pkg, sym string, ok bool) {
	k, ok := appendKey(nil, []byte(name), "")
	if !ok {
		return "", "", false
	}
	pkg, sym, _ = strings.Cut(string(k), " ")
	return pkg, sym, true
}

// appendKey appends the key "pkg sym" of the function name to dst (see
// splitFuncName); mainPath, when set, stands for package main.
func appendKey(dst, name []byte, mainPath string) ([]byte, bool) {
	if i := bytes.IndexByte(name, '['); i >= 0 {
		if j := bytes.LastIndexByte(name, ']'); j > i {
			name = append(name[:i:i], name[j+1:]...)
		}
	}
	// "go.etcd.io/bbolt.Open" is a package's; "go.buildid" (Go 1.18 and
	// older) is not.
	if bytes.HasPrefix(name, []byte("go:")) || bytes.HasPrefix(name, []byte("type:")) || bytes.HasPrefix(name, []byte("type.")) ||
		(bytes.HasPrefix(name, []byte("go.")) && bytes.IndexByte(name, '/') < 0) {
		return dst, false
	}
	pathEnd := max(bytes.LastIndexByte(name, '/'), 0)
	dot := bytes.IndexByte(name[pathEnd:], '.')
	if dot < 0 || pathEnd+dot == 0 {
		return dst, false
	}
	pkg, rest := name[:pathEnd+dot], name[pathEnd+dot+1:]
	switch {
	case mainPath != "" && string(pkg) == "main":
		dst = append(dst, mainPath...)
	case bytes.IndexByte(pkg, '%') >= 0:
		u, err := url.PathUnescape(string(pkg))
		if err != nil {
			return dst, false
		}
		dst = append(dst, u...)
	default:
		dst = append(dst, pkg...)
	}
	dst = append(dst, ' ')
	if j := bytes.LastIndexByte(rest, '.'); j >= 0 {
		dst = append(dst, bytes.Trim(rest[:j], "(*)")...)
		dst = append(dst, '.')
		rest = rest[j+1:]
	}
	return append(dst, rest...), true
}

// symbolTables holds the symbol tables of one inventory's Go binaries, by
// path (each path is scanned once). A table is read in the background
// while the scan goes on (the rest of the inventory, the advisory lookups,
// the matching), and waited for where evidence is first needed: on two
// cores that hides most of the read. At most cap(sem) tables are read in
// the background at once, each holding its file open; when none is free
// the extractor reads the table itself, so a directory of many binaries
// holds no more files open than that.
type symbolTables struct {
	tabs map[string]*symbolTable
	sem  chan struct{}
}

// backgroundSymbolReads is how many tables one inventory reads in the
// background at once; 0 reads every table in its extractor.
var backgroundSymbolReads = 1

// newSymbolTables returns an empty set of tables.
func newSymbolTables() *symbolTables {
	return &symbolTables{tabs: map[string]*symbolTable{}, sem: make(chan struct{}, backgroundSymbolReads)}
}

// symbolTable is one binary's table, or why it could not be read, once
// done is closed.
type symbolTable struct {
	done chan struct{}
	syms *goSymbols
	err  error
	// onDisk says the table is read from a file on disk (under an image's
	// scratch root, or of a directory), not from a layer read in place.
	onDisk bool
}

// wait waits for the table to be read and returns it.
func (t *symbolTable) wait() (*goSymbols, error) {
	<-t.done
	return t.syms, t.err
}

// read reads the table of the binary in, whose build info is bi: in the
// background when a reader is free and in's file can be taken over (its
// closer passes to the reader, which closes it when done), else now.
func (st *symbolTables) read(in *input, bi *buildinfo.BuildInfo) {
	mods := make([]string, 0, len(bi.Deps)+1)
	if bi.Main.Path != "" {
		mods = append(mods, bi.Main.Path)
	}
	for _, d := range bi.Deps {
		mods = append(mods, d.Path)
	}
	t := &symbolTable{done: make(chan struct{}), onDisk: in.file != ""}
	st.tabs[in.path] = t
	r, mainPath := in.at, bi.Path
	if in.keep != nil {
		select {
		case st.sem <- struct{}{}:
			c := in.keep()
			go func() {
				defer func() { <-st.sem }()
				defer close(t.done)
				defer c.Close()
				t.syms, t.err = readGoSymbols(r, mainPath, mods)
			}()
			return
		default:
		}
	}
	t.syms, t.err = readGoSymbols(r, mainPath, mods)
	close(t.done)
}

// wait waits for every table to be read. Whoever removes or closes the
// files the tables are read from (the scratch directory of an image, a
// docker archive read in place) calls it first.
func (st *symbolTables) wait() {
	if st == nil {
		return
	}
	for _, t := range st.tabs {
		<-t.done
	}
}

// waitOnDisk waits for the tables read from files on disk: whoever
// removes the scratch directory of an image calls it first. Tables read
// from layers in place may go on being read (see Inventory).
func (st *symbolTables) waitOnDisk() {
	if st == nil {
		return
	}
	for _, t := range st.tabs {
		if t.onDisk {
			<-t.done
		}
	}
}

// of returns the table of the binary p was found in: nil when evidence
// was not asked for or p is not from a Go binary. The table may still be
// being read: wait for it.
func (st *symbolTables) of(p Package) (*symbolTable, bool) {
	if st == nil || baseEcosystem(p.Ecosystem) != "Go" || p.Location.Path == "" || p.Location.SBOMRef != "" {
		return nil, false
	}
	t, ok := st.tabs[p.Location.Path]
	return t, ok
}
