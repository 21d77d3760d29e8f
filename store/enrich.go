package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"io"
	"math"

	"github.com/ferry-dev/ferry/enrich"
	"github.com/ferry-dev/ferry/verify"
)

// MaxEPSSSize caps the decompressed size of an EPSS scores file: a
// decompression bomb fails the import instead of filling memory.
const MaxEPSSSize = enrich.MaxEPSSSize

// epssCap is MaxEPSSSize; tests lower it.
var epssCap int64 = MaxEPSSSize

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
	case media == format.MediaKEV || media == "" && name == "kev.json":
		return indexKEV(r, source, w)
	case media == format.MediaEPSS || media == "" && (name == "epss.csv" || name == "epss.csv.gz"):
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

func indexKEV(r io.Reader, source string, w *IndexWriter) error {
	cat, err := enrich.ReadKEV(r, func(cve string, entry []byte) error {
		return w.Put(ikey('k', cve, source), entry)
	})
	if err != nil {
		return err
	}
	meta, _ := json.Marshal(cat)
	return w.Put(ikey('m', "kev", source), meta)
}

func indexEPSS(ctx context.Context, r io.Reader, source string, w *IndexWriter) error {
	var v [16]byte
	meta, err := enrich.ReadEPSS(ctx, r, epssCap, func(cve string, epss, pct float64) error {
		binary.BigEndian.PutUint64(v[:8], math.Float64bits(epss))
		binary.BigEndian.PutUint64(v[8:], math.Float64bits(pct))
		return w.Put(ikey('s', cve, source), v[:])
	})
	if err != nil {
		if errors.Is(err, enrich.ErrTooLarge) {
			return fmt.Errorf("EPSS: more than %d bytes decompressed: %w", epssCap, err)
		}
		return err
	}
	data, _ := json.Marshal(meta)
	return w.Put(ikey('m', "epss", source), data)
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
			var m enrich.KEVCatalog
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
			var m enrich.EPSSMeta
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
