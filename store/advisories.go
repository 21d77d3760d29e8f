package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-dev/ferry/osv"
	"github.com/ferry-dev/ferry/verify"
)

// Names of the typed indexes (bucket names: part of the schema).
const (
	advisoriesIndex = "advisories"
	enrichIndex     = "enrich"
	vexIndex        = "vex"
	sourcesIndex    = "sources"
)

// MaxAdvisorySize caps one OSV record (one line of osv.jsonl) at import.
const MaxAdvisorySize = 64 << 20

// AdvisoriesIndexer indexes the OSV records of advisories/<source>/osv.jsonl
// (content type "advisories"; one compact record per line). Other files of
// the type are left alone. A channel's "advisories" index names, per
// source, the file that holds its records:
//
//	"f" source                 -> hex sha256 of its osv.jsonl (a blob)
//
// The records themselves are indexed once per file content, in the record
// index of that blob (store/advindex.go), which the import builds before
// its commit and which every kit carrying the same file shares:
//
//	"r" id                     -> offset and length of the record in the
//	                              blob (two uvarints)
//	"a" alias NUL id           -> "" (every alias of every record)
//	"p" ecosystem NUL name NUL id -> "" (name as PackageKey makes it)
//	"e" ecosystem              -> decimal number of records
//
// A record is stored once: in the verified blob the kit carried, which the
// index points into. The blob is immutable and kept as long as a kit of
// the store references it, and the record index is named by the blob's
// digest, so an index and the bytes it points to always agree.
//
// A record with withdrawn set is left out (the mirror leaves them out
// already). The record index reads the fields it indexes and checks their
// shape; the mirror validated every record against the OSV schema before
// the kit was signed, and Advisory.Vulnerability parses one fully.
type AdvisoriesIndexer struct{}

var _ Indexer = AdvisoriesIndexer{}

// Name implements Indexer.
func (AdvisoriesIndexer) Name() string { return advisoriesIndex }

// Accepts implements Indexer.
func (AdvisoriesIndexer) Accepts(t string) bool { return t == "advisories" }

// Index implements Indexer. It does not read the content: the record
// index of the file is built by the store (ensureRecordIndexes).
func (AdvisoriesIndexer) Index(_ context.Context, f verify.Target, _ io.Reader, w *IndexWriter) error {
	source, ok := advisoriesSource(f.Path)
	if !ok {
		return nil
	}
	if err := checkField("source name", source); err != nil {
		return err
	}
	if !isHexDigest(f.SHA256) {
		return fmt.Errorf("target digest %q is not a hex sha256", f.SHA256)
	}
	return w.Put(ikey('f', source), []byte(f.SHA256))
}

// advisoriesSource returns the source of an advisories/<source>/osv.jsonl
// path; ok is false for any other path.
func advisoriesSource(p string) (source string, ok bool) {
	source, name, ok := feedFile(p, "advisories")
	return source, ok && name == "osv.jsonl"
}

// recordEntries reads an osv.jsonl and returns the entries of its record
// index, sorted by key (store/advindex.go).
func recordEntries(ctx context.Context, r io.Reader, size int64) (entries, error) {
	w, ecosystems, err := recordPart(ctx, r, 0, size)
	if err != nil {
		return entries{}, err
	}
	if err := putEcosystems(w, ecosystems); err != nil {
		return entries{}, err
	}
	return w.sorted(), nil
}

// recordPart indexes the records of r, a part of an osv.jsonl that starts
// at offset base of the file, into a new writer (size bytes, a hint), and
// counts the records of each ecosystem.
func recordPart(ctx context.Context, r io.Reader, base, size int64) (*IndexWriter, map[string]int, error) {
	w := &IndexWriter{}
	// About one entry per 400 bytes of records: enough room that the
	// entries are not copied as they grow.
	w.refs = make([]entryRef, 0, min(size/400, 1<<26)+64)
	ecosystems := map[string]int{}
	err := forEachLine(r, MaxAdvisorySize, func(n int, off int64, rec []byte) error {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := indexRecord(rec, base+off, w, ecosystems); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		return nil
	})
	return w, ecosystems, err
}

// putEcosystems adds the record counts of the ecosystems.
func putEcosystems(w *IndexWriter, ecosystems map[string]int) error {
	for _, eco := range sortedKeys(ecosystems) {
		if err := w.Put(ikey('e', eco), []byte(strconv.Itoa(ecosystems[eco]))); err != nil {
			return err
		}
	}
	return nil
}

// forEachLine calls fn with every non-blank line of r (its number, the
// offset of its first non-blank byte and the line without surrounding
// white space; valid only during the call). A line longer than max fails.
func forEachLine(r io.Reader, max int, fn func(n int, off int64, line []byte) error) error {
	br := bufio.NewReaderSize(r, 256<<10)
	var off int64
	var long []byte
	for n := 1; ; {
		chunk, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if long = append(long, chunk...); len(long) > max {
				return fmt.Errorf("line %d: a record is larger than %d bytes", n, max)
			}
			continue
		}
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		if len(line) > max {
			return fmt.Errorf("line %d: a record is larger than %d bytes", n, max)
		}
		if rec := bytes.TrimSpace(line); len(rec) > 0 {
			lead := len(line) - len(bytes.TrimLeft(line, " \t\r\n"))
			if ferr := fn(n, off+int64(lead), rec); ferr != nil {
				return ferr
			}
		}
		off += int64(len(line))
		n++
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func indexRecord(rec []byte, off int64, w *IndexWriter, ecosystems map[string]int) error {
	return indexRecordAt(rec, binary.AppendUvarint(binary.AppendUvarint(nil, uint64(off)), uint64(len(rec))), w, ecosystems, 1)
}

// indexRecordAt puts the entries of the record rec, found at loc, and
// adds sign to the count of each of its ecosystems.
func indexRecordAt(rec, loc []byte, w *IndexWriter, ecosystems map[string]int, sign int) error {
	h, err := osv.ParseHead(rec)
	if err != nil {
		return fmt.Errorf("not an OSV record: %w", err)
	}
	if err := checkField("id", h.ID); err != nil {
		return err
	}
	if h.Withdrawn {
		return nil
	}
	if err := w.Put(ikey('r', h.ID), loc); err != nil {
		return fmt.Errorf("%s: %w", h.ID, err)
	}
	for _, a := range h.Aliases {
		if a == h.ID {
			continue
		}
		if err := checkField("alias", a); err != nil {
			return fmt.Errorf("%s: %w", h.ID, err)
		}
		if err := w.Put(ikey('a', a, h.ID), nil); err != nil {
			return fmt.Errorf("%s: %w", h.ID, err)
		}
	}
	seen := map[string]bool{}
	for _, p := range h.Packages {
		eco, pname := p[0], p[1]
		if pname == "" || eco == "" {
			continue // a purl-only or package-less entry (e.g. a git repository)
		}
		if err := checkField("ecosystem", eco); err != nil {
			return fmt.Errorf("%s: %w", h.ID, err)
		}
		name := PackageKey(eco, pname)
		if err := checkField("package name", name); err != nil {
			return fmt.Errorf("%s: %w", h.ID, err)
		}
		if err := w.Put(ikey('p', eco, name, h.ID), nil); err != nil {
			return fmt.Errorf("%s: %w", h.ID, err)
		}
		if !seen[eco] {
			seen[eco] = true
			ecosystems[eco] += sign
		}
	}
	return nil
}

// feedFile splits a kit path top/<source>/<name> (exactly three parts).
func feedFile(p, top string) (source, name string, ok bool) {
	rest, ok := strings.CutPrefix(p, top+"/")
	if !ok {
		return "", "", false
	}
	source, name, ok = strings.Cut(rest, "/")
	if !ok || source == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return source, name, true
}

// PackageKey is the form of a package name the advisory index keys on: the
// name as the advisory writes it, except for PyPI, whose names compare
// normalised (PEP 503: lower case, runs of '-', '_' and '.' as one '-').
// Lookups apply it too, so callers pass names as they found them.
func PackageKey(ecosystem, name string) string {
	base, _, _ := strings.Cut(ecosystem, ":")
	if base != "PyPI" {
		return name
	}
	var b strings.Builder
	sep := false
	for _, c := range strings.ToLower(name) {
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(c)
	}
	return b.String()
}

// Advisory is one OSV record of a channel's active kit.
type Advisory struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	// Source is the kit source that carried it (advisories/<source>/).
	Source string `json:"source"`
	// Record is the OSV record as the kit carried it (compact JSON). It
	// belongs to the caller.
	Record json.RawMessage `json:"record"`
}

// Vulnerability parses and validates the record (osv.Parse).
func (a *Advisory) Vulnerability() (*osv.Vulnerability, error) {
	v, err := osv.Parse(a.Record)
	if err != nil {
		return nil, fmt.Errorf("advisory %s (channel %s, source %s): %w", a.ID, a.Channel, a.Source, err)
	}
	return v, nil
}

// Ecosystem is an ecosystem with advisory data.
type Ecosystem struct {
	// Name is the OSV ecosystem as the records write it ("Go",
	// "Debian:12", "PyPI").
	Name string `json:"name"`
	// Records counts the records that affect a package of the ecosystem,
	// over every channel and source.
	Records int `json:"records"`
}

// Ecosystems lists the ecosystems that have advisory data, sorted by name.
// An ecosystem that is not listed has no data at all: a scanner reports
// its packages as not evaluated (NO_ADVISORY_DATA), never as clean.
func (r *Reader) Ecosystems() ([]Ecosystem, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, as := range r.adv {
		err := scanPrefix(as.b, []byte{'e'}, func(eco, v []byte) error {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return fmt.Errorf("channel %s: advisories of %s: ecosystem %q: bad count %q", as.channel, as.source, eco, v)
			}
			counts[string(eco)] += n
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := []Ecosystem{}
	for _, eco := range sortedKeys(counts) {
		out = append(out, Ecosystem{Name: eco, Records: counts[eco]})
	}
	return out, nil
}

// HasAdvisoryData reports whether any channel has advisory records for the
// ecosystem (compared exactly: "Debian:12" is not "Debian").
func (r *Reader) HasAdvisoryData(ecosystem string) (bool, error) {
	if err := r.check(); err != nil {
		return false, err
	}
	if checkField("ecosystem", ecosystem) != nil {
		return false, nil
	}
	k := ikey('e', ecosystem)
	for _, as := range r.adv {
		if as.b.Get(k) != nil {
			return true, nil
		}
	}
	return false, nil
}

// Advisory returns the records whose id is idOrAlias, or that list it
// among their aliases (one hop: the aliases of those records are not
// followed), sorted by id, channel, source. None found is an empty slice
// and no error.
func (r *Reader) Advisory(idOrAlias string) ([]Advisory, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if checkField("id", idOrAlias) != nil {
		return []Advisory{}, nil
	}
	var out []Advisory
	for _, as := range r.adv {
		ids := []string{}
		if _, _, _, ok, err := as.loc(idOrAlias); err != nil {
			return nil, fmt.Errorf("channel %s: advisories index: %s: %w", as.channel, idOrAlias, err)
		} else if ok {
			ids = append(ids, idOrAlias)
		}
		as.seekPrefix(iprefix('a', idOrAlias), func(rest []byte) { ids = append(ids, string(rest)) })
		var err error
		if out, err = r.appendRecords(out, &as, ids, true); err != nil {
			return nil, err
		}
	}
	if out == nil {
		return []Advisory{}, nil
	}
	return sortAdvisories(out), nil
}

// AdvisoryIDs returns the ids of the records that affect the package,
// sorted and without duplicates. The name is looked up as PackageKey makes
// it; the ecosystem is compared exactly.
func (r *Reader) AdvisoryIDs(ecosystem, name string) ([]string, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	out := []string{}
	for i := range r.adv {
		packageIDs(&r.adv[i], ecosystem, name, func(id string) { out = append(out, id) })
	}
	if len(r.adv) > 1 {
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out, nil
}

// AdvisoriesForPackage returns the records that affect the package, sorted
// by id, channel, source. A record carried by two channels or sources
// comes once from each. This is the scanner's lookup: one cursor seek per
// channel and source, and one per record.
func (r *Reader) AdvisoriesForPackage(ecosystem, name string) ([]Advisory, error) {
	return r.advisoriesForPackage(ecosystem, name, true)
}

// AdvisoriesForPackageInPlace is AdvisoriesForPackage without copying the
// records out of the store: each Record is the store's own bytes, mapped
// read-only (writing them faults), valid only until the View that made r
// returns. It is for a caller that parses the records at once.
func (r *Reader) AdvisoriesForPackageInPlace(ecosystem, name string) ([]Advisory, error) {
	return r.advisoriesForPackage(ecosystem, name, false)
}

func (r *Reader) advisoriesForPackage(ecosystem, name string, clone bool) ([]Advisory, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	out := []Advisory{}
	for i := range r.adv {
		as := &r.adv[i]
		var ids []string
		packageIDs(as, ecosystem, name, func(id string) { ids = append(ids, id) })
		var err error
		if out, err = r.appendRecords(out, as, ids, clone); err != nil {
			return nil, err
		}
	}
	if len(r.adv) > 1 {
		out = sortAdvisories(out)
	}
	return out, nil
}

// ForEachAdvisory calls fn for every record of every channel, by channel,
// source and then id. fn's error stops the walk and is returned.
func (r *Reader) ForEachAdvisory(fn func(Advisory) error) error {
	if err := r.check(); err != nil {
		return err
	}
	n := 0
	for _, as := range r.adv {
		err := as.forEachRecord(func(id, blob string, off, length uint64) error {
			if n++; n%1024 == 0 {
				if err := r.ctx.Err(); err != nil {
					return err
				}
			}
			rec, err := r.record(&as, id, blob, off, length, true)
			if err != nil {
				return err
			}
			return fn(Advisory{ID: id, Channel: as.channel, Source: as.source, Record: rec})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// record reads a record from the blob its index entry points into: a
// copy, or with clone false the mapped bytes themselves.
func (r *Reader) record(as *advSource, id, sha string, off, length uint64, clone bool) ([]byte, error) {
	if length > MaxAdvisorySize {
		return nil, fmt.Errorf("channel %s: advisories index: %s: a record of %d bytes", as.channel, id, length)
	}
	blob, err := r.blob(sha)
	if err != nil {
		return nil, fmt.Errorf("channel %s: advisory %s (source %s): %w", as.channel, id, as.source, err)
	}
	if off > uint64(len(blob)) || length > uint64(len(blob))-off {
		return nil, fmt.Errorf("channel %s: advisory %s (source %s): blob %s is shorter than the index says: the store is damaged (run ferry store check)", as.channel, id, as.source, sha)
	}
	rec := blob[off : off+length : off+length]
	if clone {
		rec = bytes.Clone(rec)
	}
	if len(rec) < 2 || rec[0] != '{' || rec[len(rec)-1] != '}' {
		return nil, fmt.Errorf("channel %s: advisory %s (source %s): blob %s holds no record at %d: the store is damaged (run ferry store check)", as.channel, id, as.source, sha, off)
	}
	return rec, nil
}

func packageIDs(as *advSource, ecosystem, name string, fn func(id string)) {
	name = PackageKey(ecosystem, name)
	if checkField("ecosystem", ecosystem) != nil || checkField("name", name) != nil {
		return
	}
	as.seekPrefix(iprefix('p', ecosystem, name), func(rest []byte) { fn(string(rest)) })
}

// appendRecords appends the records of ids of one source of one channel,
// copied unless clone is false (see record).
func (r *Reader) appendRecords(out []Advisory, as *advSource, ids []string, clone bool) ([]Advisory, error) {
	for _, id := range ids {
		blob, off, length, ok, err := as.loc(id)
		if err != nil {
			return nil, fmt.Errorf("channel %s: advisories index: %s: %w", as.channel, id, err)
		}
		if !ok {
			return nil, fmt.Errorf("channel %s: advisories of %s: %s is listed but has no record: the store is damaged (run ferry store check)", as.channel, as.source, id)
		}
		rec, err := r.record(as, id, blob, off, length, clone)
		if err != nil {
			return nil, err
		}
		out = append(out, Advisory{ID: id, Channel: as.channel, Source: as.source, Record: rec})
	}
	return out, nil
}

func sortAdvisories(as []Advisory) []Advisory {
	slices.SortFunc(as, func(a, b Advisory) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		if c := strings.Compare(a.Channel, b.Channel); c != 0 {
			return c
		}
		return strings.Compare(a.Source, b.Source)
	})
	return slices.CompactFunc(as, func(a, b Advisory) bool {
		return a.ID == b.ID && a.Channel == b.Channel && a.Source == b.Source
	})
}
