package store

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/ferry-dev/ferry/verify"
)

// Media types of enrichment files, as the kit writes them into the custom
// object of their targets (package kit owns them; a test keeps the two in
// step).
const (
	MediaKEV  = "application/vnd.cisa.kev+json"
	MediaEPSS = "text/csv; profile=epss"
)

// MaxEPSSSize caps the decompressed size of an EPSS scores file (about
// 10 MiB today): a decompression bomb fails the import instead of filling
// memory.
const MaxEPSSSize = 1 << 30

// epssCap is MaxEPSSSize; tests lower it.
var epssCap int64 = MaxEPSSSize

var cveRE = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// EnrichIndexer indexes enrich/<source>/kev.json (the CISA KEV catalog) and
// enrich/<source>/epss.csv[.gz] (EPSS scores), content type "enrich".
// Entries of a channel's "enrich" index:
//
//	"k" cve NUL source   -> the catalog entry (compact JSON)
//	"s" cve NUL source   -> EPSS score and percentile (two big-endian float64)
//	"m" "kev"|"epss" NUL source -> the file's header (JSON: catalog version,
//	                        model version, score date)
type EnrichIndexer struct{}

var _ Indexer = EnrichIndexer{}

// Name implements Indexer.
func (EnrichIndexer) Name() string { return enrichIndex }

// Accepts implements Indexer.
func (EnrichIndexer) Accepts(t string) bool { return t == "enrich" }

// Index implements Indexer.
func (EnrichIndexer) Index(ctx context.Context, f verify.Target, r io.Reader, w *IndexWriter) error {
	source, name, ok := feedFile(f.Path, "enrich")
	if !ok {
		return nil
	}
	if err := checkField("source name", source); err != nil {
		return err
	}
	media := mediaType(f.Custom)
	switch {
	case media == MediaKEV || media == "" && name == "kev.json":
		return indexKEV(r, source, w)
	case media == MediaEPSS || media == "" && (name == "epss.csv" || name == "epss.csv.gz"):
		return indexEPSS(ctx, r, source, w)
	}
	return nil
}

// mediaType reads the media type of a target's custom object.
func mediaType(custom json.RawMessage) string {
	var c struct {
		MediaType string `json:"mediaType"`
	}
	if len(custom) > 0 {
		_ = json.Unmarshal(custom, &c)
	}
	return c.MediaType
}

// kevMeta is the header of a KEV catalog.
type kevMeta struct {
	CatalogVersion string `json:"catalogVersion,omitempty"`
	DateReleased   string `json:"dateReleased,omitempty"`
	Count          int    `json:"count"`
}

func indexKEV(r io.Reader, source string, w *IndexWriter) error {
	var cat struct {
		CatalogVersion  string            `json:"catalogVersion"`
		DateReleased    string            `json:"dateReleased"`
		Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
	}
	if err := json.NewDecoder(r).Decode(&cat); err != nil {
		return fmt.Errorf("KEV catalog: %w", err)
	}
	if cat.Vulnerabilities == nil {
		return errors.New("KEV catalog: no vulnerabilities list")
	}
	var buf bytes.Buffer
	for i, raw := range cat.Vulnerabilities {
		var e struct {
			CveID string `json:"cveID"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("KEV catalog: vulnerabilities[%d]: %w", i, err)
		}
		if !cveRE.MatchString(e.CveID) {
			return fmt.Errorf("KEV catalog: vulnerabilities[%d]: cveID %q is not a CVE id", i, e.CveID)
		}
		buf.Reset()
		if err := json.Compact(&buf, raw); err != nil {
			return err
		}
		if err := w.Put(ikey('k', e.CveID, source), buf.Bytes()); err != nil {
			return err
		}
	}
	meta, _ := json.Marshal(kevMeta{CatalogVersion: cat.CatalogVersion, DateReleased: cat.DateReleased, Count: len(cat.Vulnerabilities)})
	return w.Put(ikey('m', "kev", source), meta)
}

// epssMeta is the header of an EPSS scores file.
type epssMeta struct {
	ModelVersion string `json:"modelVersion,omitempty"`
	ScoreDate    string `json:"scoreDate,omitempty"`
	Count        int    `json:"count"`
}

func indexEPSS(ctx context.Context, r io.Reader, source string, w *IndexWriter) error {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("EPSS: %w", err)
		}
		defer gz.Close()
		in = gz
	}
	capped := &cappedReader{r: in, left: epssCap}
	lr := bufio.NewReader(capped)
	var meta epssMeta
	if b, _ := lr.Peek(1); len(b) == 1 && b[0] == '#' {
		line, err := lr.ReadString('\n')
		if err != nil {
			return fmt.Errorf("EPSS: %w", err)
		}
		for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "#")), ",") {
			k, v, _ := strings.Cut(kv, ":")
			switch k {
			case "model_version":
				meta.ModelVersion = v
			case "score_date":
				meta.ScoreDate = v
			}
		}
	}
	cr := csv.NewReader(lr)
	cr.FieldsPerRecord = 3
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("EPSS: header: %w", capped.explain(err))
	}
	if head[0] != "cve" || head[1] != "epss" || head[2] != "percentile" {
		return fmt.Errorf("EPSS: header %v, want cve,epss,percentile", head)
	}
	var v [16]byte
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("EPSS: %w", capped.explain(err))
		}
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !cveRE.MatchString(rec[0]) {
			return fmt.Errorf("EPSS: line %d: %q is not a CVE id", line, rec[0])
		}
		for i, s := range rec[1:] {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || x < 0 || x > 1 {
				return fmt.Errorf("EPSS: line %d (%s): %q is not a number in [0, 1]", line, rec[0], s)
			}
			binary.BigEndian.PutUint64(v[8*i:], math.Float64bits(x))
		}
		if err := w.Put(ikey('s', rec[0], source), v[:]); err != nil {
			return err
		}
		meta.Count++
	}
	data, _ := json.Marshal(meta)
	return w.Put(ikey('m', "epss", source), data)
}

// errTooLarge is returned by a cappedReader past its cap.
var errTooLarge = errors.New("decompressed data exceeds the cap")

// cappedReader fails with errTooLarge instead of reading past left bytes.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cappedReader) explain(err error) error {
	if errors.Is(err, errTooLarge) {
		return fmt.Errorf("more than %d bytes decompressed: refused as a decompression bomb", epssCap)
	}
	return err
}

// KEVEntry is a CISA Known Exploited Vulnerabilities catalog entry.
type KEVEntry struct {
	CVE                        string   `json:"cveID"`
	VendorProject              string   `json:"vendorProject,omitempty"`
	Product                    string   `json:"product,omitempty"`
	VulnerabilityName          string   `json:"vulnerabilityName,omitempty"`
	DateAdded                  string   `json:"dateAdded,omitempty"`
	ShortDescription           string   `json:"shortDescription,omitempty"`
	RequiredAction             string   `json:"requiredAction,omitempty"`
	DueDate                    string   `json:"dueDate,omitempty"`
	KnownRansomwareCampaignUse string   `json:"knownRansomwareCampaignUse,omitempty"`
	Notes                      string   `json:"notes,omitempty"`
	CWEs                       []string `json:"cwes,omitempty"`
	// CatalogVersion is the catalog's version; Channel and Source say
	// where the entry came from.
	CatalogVersion string `json:"catalogVersion,omitempty"`
	Channel        string `json:"channel"`
	Source         string `json:"source"`
}

// EPSSScore is a CVE's EPSS probability and percentile.
type EPSSScore struct {
	CVE          string  `json:"cve"`
	EPSS         float64 `json:"epss"`
	Percentile   float64 `json:"percentile"`
	ModelVersion string  `json:"modelVersion,omitempty"`
	ScoreDate    string  `json:"scoreDate,omitempty"`
	Channel      string  `json:"channel"`
	Source       string  `json:"source"`
}

// KEV returns the catalog entry of a CVE and whether the CVE is listed.
// When several channels or sources list it, the first by channel and
// source name answers.
func (r *Reader) KEV(cve string) (*KEVEntry, bool, error) {
	if err := r.check(); err != nil {
		return nil, false, err
	}
	if checkField("cve", cve) != nil {
		return nil, false, nil
	}
	for _, cb := range r.enrich {
		var e *KEVEntry
		err := scanPrefix(cb.b, iprefix('k', cve), func(source, v []byte) error {
			if e != nil {
				return nil
			}
			e = &KEVEntry{}
			if err := json.Unmarshal(v, e); err != nil {
				return fmt.Errorf("channel %s: enrich index: KEV %s: %w", cb.channel, cve, err)
			}
			e.Channel, e.Source = cb.channel, string(source)
			var m kevMeta
			if raw := cb.b.Get(ikey('m', "kev", e.Source)); raw != nil && json.Unmarshal(raw, &m) == nil {
				e.CatalogVersion = m.CatalogVersion
			}
			return nil
		})
		if err != nil {
			return nil, false, err
		}
		if e != nil {
			return e, true, nil
		}
	}
	return nil, false, nil
}

// EPSS returns a CVE's EPSS score and whether there is one. When several
// channels or sources score it, the first by channel and source name
// answers.
func (r *Reader) EPSS(cve string) (*EPSSScore, bool, error) {
	if err := r.check(); err != nil {
		return nil, false, err
	}
	if checkField("cve", cve) != nil {
		return nil, false, nil
	}
	for _, cb := range r.enrich {
		var s *EPSSScore
		err := scanPrefix(cb.b, iprefix('s', cve), func(source, v []byte) error {
			if s != nil {
				return nil
			}
			if len(v) != 16 {
				return fmt.Errorf("channel %s: enrich index: EPSS %s: value of %d bytes", cb.channel, cve, len(v))
			}
			s = &EPSSScore{CVE: cve, Channel: cb.channel, Source: string(source),
				EPSS:       math.Float64frombits(binary.BigEndian.Uint64(v)),
				Percentile: math.Float64frombits(binary.BigEndian.Uint64(v[8:]))}
			var m epssMeta
			if raw := cb.b.Get(ikey('m', "epss", s.Source)); raw != nil && json.Unmarshal(raw, &m) == nil {
				s.ModelVersion, s.ScoreDate = m.ModelVersion, m.ScoreDate
			}
			return nil
		})
		if err != nil {
			return nil, false, err
		}
		if s != nil {
			return s, true, nil
		}
	}
	return nil, false, nil
}
