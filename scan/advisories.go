package scan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/ferry-dev/ferry/internal/parallel"
	"github.com/ferry-dev/ferry/osv"
	"github.com/ossf/osv-schema/bindings/go/osvschema"
)

// Advisories is what matching reads: the OSV records that name a package,
// and the ecosystems that have any advisory data at all (for the
// fail-closed NO_ADVISORY_DATA check). Implementations must be safe for
// concurrent use; returned records are shared and must not be modified.
type Advisories interface {
	// ForPackage returns the records with an affected entry for (ecosystem,
	// name). ecosystem is an OSV ecosystem string, possibly with a release
	// suffix ("Debian:12"); implementations return the records indexed
	// under exactly that string; the matcher asks for the bare ecosystem
	// too.
	ForPackage(ecosystem, name string) ([]*osvschema.Vulnerability, error)
	// Ecosystems returns every ecosystem string with at least one record.
	Ecosystems() ([]string, error)
}

// Matchable is an optional ability of an Advisories: its ForPackage may
// hand out records of which only what matching reads is decoded (id,
// withdrawn, affected: osv.ParseMatchable), and Whole returns the whole
// record of one of them (or the record itself when it is whole). The
// matcher asks for it when a record matched, before it makes a finding.
// Whole must be safe for concurrent use.
type Matchable interface {
	Whole(v *osvschema.Vulnerability) (*osvschema.Vulnerability, error)
}

// KEV is an optional ability of an Advisories: membership of a CVE in the
// CISA Known Exploited Vulnerabilities catalog.
type KEV interface {
	KEV(cve string) (bool, error)
}

// EPSS is an optional ability of an Advisories: the EPSS score and
// percentile of a CVE; ok is false when the CVE has no score.
type EPSS interface {
	EPSS(cve string) (score, percentile float64, ok bool, err error)
}

// Memory is an in-memory Advisories built from OSV records. It is safe for
// concurrent reads once built; Add is not safe concurrently with reads.
type Memory struct {
	index map[pkgKey][]*memRecord
	ecos  map[string]bool
	kev   map[string]bool
	epss  map[string][2]float64
	n     int
}

type pkgKey struct{ eco, name string }

// memRecord is a record, parsed when first needed: LoadOSV only skims the
// ids and packages, so that loading a whole database costs little more than
// reading it, and full parsing and validation (osv.Parse) happen for the
// records a scan actually looks at.
type memRecord struct {
	raw  []byte
	name string // file (and line) for errors
	once sync.Once
	v    *osvschema.Vulnerability
	err  error
}

func (r *memRecord) get() (*osvschema.Vulnerability, error) {
	r.once.Do(func() {
		if r.v != nil {
			return
		}
		r.v, r.err = osv.Parse(r.raw)
		if r.err != nil {
			r.err = fmt.Errorf("%s: %w", r.name, r.err)
		}
		r.raw = nil
	})
	return r.v, r.err
}

var (
	_ Advisories = (*Memory)(nil)
	_ KEV        = (*Memory)(nil)
	_ EPSS       = (*Memory)(nil)
)

// NewMemory returns an index of records. Records without affected packages
// are kept out of the index (they cannot match).
func NewMemory(records ...*osvschema.Vulnerability) *Memory {
	m := &Memory{index: map[pkgKey][]*memRecord{}, ecos: map[string]bool{}}
	for _, r := range records {
		m.Add(r)
	}
	return m
}

// Add indexes one record under every (ecosystem, name) it affects.
func (m *Memory) Add(v *osvschema.Vulnerability) {
	var pkgs [][2]string
	for _, a := range v.GetAffected() {
		pkgs = append(pkgs, [2]string{a.GetPackage().GetEcosystem(), a.GetPackage().GetName()})
	}
	m.add(&memRecord{v: v}, pkgs)
}

func (m *Memory) add(r *memRecord, pkgs [][2]string) {
	m.n++
	seen := map[pkgKey]bool{}
	for _, p := range pkgs {
		if p[0] == "" || p[1] == "" {
			continue
		}
		k := pkgKey{p[0], normalizeName(p[0], p[1])}
		m.ecos[p[0]] = true
		if seen[k] {
			continue
		}
		seen[k] = true
		m.index[k] = append(m.index[k], r)
	}
}

// skim reads what the index needs from a record's JSON.
type skim struct {
	ID       string `json:"id"`
	Affected []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
}

type skimPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
}

// skimRecord finds a record's affected packages without decoding the whole
// record: it decodes only the objects that follow a "package" key. Keys
// elsewhere that happen to be called "package" only add index entries, which
// matching filters out (it reads the fully parsed record); a record with
// \u escapes, which could spell a key differently, is decoded in full.
// Records are checked for being JSON objects with an id; full validation
// happens on first lookup.
func skimRecord(raw []byte) (skim, error) {
	var sk skim
	if bytes.Contains(raw, []byte(`\u`)) {
		err := json.Unmarshal(raw, &sk)
		return sk, err
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return sk, ErrNotJSONObject
	}
	if i := bytes.Index(raw, []byte(`"id"`)); i >= 0 {
		var id string
		if j := valueStart(raw, i+4); j >= 0 && json.NewDecoder(bytes.NewReader(raw[j:])).Decode(&id) == nil {
			sk.ID = id
		}
	}
	key := []byte(`"package"`)
	for off := 0; ; {
		i := bytes.Index(raw[off:], key)
		if i < 0 {
			break
		}
		i += off
		off = i + len(key)
		if i > 0 && raw[i-1] == '\\' {
			continue
		}
		j := valueStart(raw, off)
		if j < 0 || raw[j] != '{' {
			continue
		}
		var p skimPackage
		if err := json.NewDecoder(bytes.NewReader(raw[j:])).Decode(&p); err != nil {
			continue
		}
		sk.Affected = append(sk.Affected, struct {
			Package struct {
				Ecosystem string `json:"ecosystem"`
				Name      string `json:"name"`
			} `json:"package"`
		}{Package: p})
	}
	return sk, nil
}

// valueStart returns the index of the value after a key ending at i
// (whitespace, a colon, whitespace), or -1.
func valueStart(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	if i >= len(raw) || raw[i] != ':' {
		return -1
	}
	i++
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	if i >= len(raw) {
		return -1
	}
	return i
}

func (m *Memory) addSkimmed(raw []byte, name string, sk skim) error {
	if sk.ID == "" {
		return fmt.Errorf("%s: OSV record without id", name)
	}
	pkgs := make([][2]string, 0, len(sk.Affected))
	for _, a := range sk.Affected {
		pkgs = append(pkgs, [2]string{a.Package.Ecosystem, a.Package.Name})
	}
	m.add(&memRecord{raw: raw, name: name}, pkgs)
	return nil
}

// SetKEV records the CVEs of the KEV catalog.
func (m *Memory) SetKEV(cves []string) {
	m.kev = map[string]bool{}
	for _, c := range cves {
		m.kev[c] = true
	}
}

// SetEPSS records the EPSS score and percentile of a CVE.
func (m *Memory) SetEPSS(cve string, score, percentile float64) {
	if m.epss == nil {
		m.epss = map[string][2]float64{}
	}
	m.epss[cve] = [2]float64{score, percentile}
}

// Len returns the number of records added.
func (m *Memory) Len() int { return m.n }

// ForPackage implements Advisories.
// It returns the first record that does not parse or validate.
func (m *Memory) ForPackage(ecosystem, name string) ([]*osvschema.Vulnerability, error) {
	rs := m.index[pkgKey{ecosystem, normalizeName(ecosystem, name)}]
	out := make([]*osvschema.Vulnerability, 0, len(rs))
	for _, r := range rs {
		v, err := r.get()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Ecosystems implements Advisories.
func (m *Memory) Ecosystems() ([]string, error) {
	out := make([]string, 0, len(m.ecos))
	for e := range m.ecos {
		out = append(out, e)
	}
	slices.Sort(out)
	return out, nil
}

// KEV implements KEV; without a catalog it reports false.
func (m *Memory) KEV(cve string) (bool, error) { return m.kev[cve], nil }

// EPSS implements EPSS.
func (m *Memory) EPSS(cve string) (float64, float64, bool, error) {
	s, ok := m.epss[cve]
	return s[0], s[1], ok, nil
}

// LoadOSV reads OSV records from path: a directory (every *.json file,
// recursively, and every *.jsonl file one record per line) or a single
// .json/.jsonl file. Loading skims each record for its id and packages;
// a record is parsed and validated (osv.Parse) when a scan first looks it
// up, and an invalid one then fails the scan with its file name.
func LoadOSV(ctx context.Context, path string) (*Memory, error) {
	m := NewMemory()
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var files []string
	if st.IsDir() {
		err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".jsonl")) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	} else {
		files = []string{path}
	}
	slices.Sort(files)
	return loadOSVFiles(ctx, m, files, func(_ context.Context, name string) (*os.File, error) { return os.Open(name) })
}

// openFunc opens a file for LoadOSV; ctx is the context of the reader
// that opens it.
type openFunc func(ctx context.Context, name string) (*os.File, error)

// osvRecord is one record read and skimmed by LoadOSV.
type osvRecord struct {
	raw  []byte
	name string // file, or file:line
	sk   skim
}

// loadOSVFiles reads and skims files on several goroutines (the skim is
// JSON decoding, which dominates) and indexes the records in file order,
// so the result is the same whatever the scheduling. The first bad file
// stops the reading: no file is opened after it fails.
func loadOSVFiles(ctx context.Context, m *Memory, files []string, open openFunc) (*Memory, error) {
	loaded, err := parallel.Map(ctx, min(runtime.GOMAXPROCS(0), 8), files, func(ctx context.Context, f string) ([]osvRecord, error) {
		if strings.HasSuffix(f, ".jsonl") {
			return readJSONL(ctx, f, open)
		}
		raw, err := readRecord(ctx, f, open)
		var sk skim
		if err == nil {
			sk, err = skimRecord(raw)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not an OSV record: %w", f, err)
		}
		return []osvRecord{{raw, f, sk}}, nil
	})
	if err != nil {
		return nil, err
	}
	for _, recs := range loaded {
		for _, r := range recs {
			if err := m.addSkimmed(r.raw, r.name, r.sk); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// maxRecord caps one OSV record (a line of a .jsonl file or a .json file).
const maxRecord = 32 << 20

func readRecord(ctx context.Context, name string, open openFunc) ([]byte, error) {
	f, err := open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRecord {
		return nil, fmt.Errorf("OSV record larger than %d bytes", maxRecord)
	}
	return b, nil
}

// readJSONL reads and skims every record of a .jsonl file, one a line.
func readJSONL(ctx context.Context, name string, open openFunc) ([]osvRecord, error) {
	f, err := open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []osvRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxRecord)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		at := fmt.Sprintf("%s:%d", name, line)
		raw := bytes.Clone(sc.Bytes())
		sk, err := skimRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: not an OSV record: %w", at, err)
		}
		out = append(out, osvRecord{raw, at, sk})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: after line %d: %w", name, line, err)
	}
	return out, nil
}

// normalizeName applies the ecosystem's own name equivalence: PyPI names
// per PEP 503; other ecosystems compare names exactly.
func normalizeName(ecosystem, name string) string {
	if baseEcosystem(ecosystem) == "PyPI" {
		name = strings.ToLower(name)
		return strings.NewReplacer("_", "-", ".", "-").Replace(name)
	}
	return name
}

// baseEcosystem strips a release suffix: "Debian:12" -> "Debian".
func baseEcosystem(e string) string {
	b, _, _ := strings.Cut(e, ":")
	return b
}
