package enrich

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// MaxEPSSSize caps the decompressed size of an EPSS scores file (about
// 10 MiB today).
const MaxEPSSSize = 1 << 30

// ErrTooLarge is returned for an EPSS file that decompresses beyond its cap.
var ErrTooLarge = errors.New("decompressed data exceeds the cap: refused as a decompression bomb")

// cveRE is compiled on first use, not at start-up (every ferry process
// would pay for it).
var cveRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`) })

// IsCVE reports whether s is a well-formed CVE id.
func IsCVE(s string) bool { return cveRE().MatchString(s) }

// KEVCatalog is the header of a CISA KEV catalog.
type KEVCatalog struct {
	CatalogVersion string `json:"catalogVersion,omitempty"`
	DateReleased   string `json:"dateReleased,omitempty"`
	Count          int    `json:"count"`
}

// ReadKEV reads a CISA KEV catalog (known_exploited_vulnerabilities.json):
// a catalog version and entries each with a well-formed CVE id; a count
// field, when present, must match. fn, if not nil, gets each entry's CVE id
// and compact JSON (valid until fn returns).
func ReadKEV(r io.Reader, fn func(cve string, entry []byte) error) (*KEVCatalog, error) {
	var cat struct {
		CatalogVersion  string            `json:"catalogVersion"`
		DateReleased    string            `json:"dateReleased"`
		Count           *int              `json:"count"`
		Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
	}
	if err := json.NewDecoder(r).Decode(&cat); err != nil {
		return nil, fmt.Errorf("KEV catalog: %w", err)
	}
	if cat.CatalogVersion == "" {
		return nil, errors.New("KEV catalog: no catalogVersion")
	}
	if cat.Vulnerabilities == nil {
		return nil, errors.New("KEV catalog: no vulnerabilities list")
	}
	if cat.Count != nil && *cat.Count != len(cat.Vulnerabilities) {
		return nil, fmt.Errorf("KEV catalog: count says %d, the list has %d", *cat.Count, len(cat.Vulnerabilities))
	}
	var buf bytes.Buffer
	for i, raw := range cat.Vulnerabilities {
		var e struct {
			CveID string `json:"cveID"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("KEV catalog: vulnerabilities[%d]: %w", i, err)
		}
		if !IsCVE(e.CveID) {
			return nil, fmt.Errorf("KEV catalog: vulnerabilities[%d]: cveID %q is not a CVE id", i, e.CveID)
		}
		if fn == nil {
			continue
		}
		buf.Reset()
		if err := json.Compact(&buf, raw); err != nil {
			return nil, err
		}
		if err := fn(e.CveID, buf.Bytes()); err != nil {
			return nil, err
		}
	}
	return &KEVCatalog{CatalogVersion: cat.CatalogVersion, DateReleased: cat.DateReleased, Count: len(cat.Vulnerabilities)}, nil
}

// EPSSMeta is the header of an EPSS scores file.
type EPSSMeta struct {
	ModelVersion string `json:"modelVersion,omitempty"`
	ScoreDate    string `json:"scoreDate,omitempty"`
	Count        int    `json:"count"`
}

// ReadEPSS reads an EPSS scores CSV, gzip-compressed or not: the optional
// "#model_version:…,score_date:…" line, the header cve,epss,percentile, and
// rows of a CVE id and two numbers in [0, 1]. At most max decompressed
// bytes are read (ErrTooLarge beyond). fn, if not nil, gets every row.
func ReadEPSS(ctx context.Context, r io.Reader, max int64, fn func(cve string, epss, percentile float64) error) (*EPSSMeta, error) {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("EPSS: %w", err)
		}
		defer gz.Close()
		in = gz
	}
	lr := bufio.NewReader(&capped{r: in, left: max})
	meta := &EPSSMeta{}
	if b, _ := lr.Peek(1); len(b) == 1 && b[0] == '#' {
		line, err := lr.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("EPSS: %w", err)
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
		return nil, fmt.Errorf("EPSS: header: %w", err)
	}
	if head[0] != "cve" || head[1] != "epss" || head[2] != "percentile" {
		return nil, fmt.Errorf("EPSS: header %v, want cve,epss,percentile", head)
	}
	var x [2]float64
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("EPSS: %w", err)
		}
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if !IsCVE(rec[0]) {
			return nil, fmt.Errorf("EPSS: line %d: %q is not a CVE id", line, rec[0])
		}
		for i, s := range rec[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v < 0 || v > 1 {
				return nil, fmt.Errorf("EPSS: line %d (%s): %q is not a number in [0, 1]", line, rec[0], s)
			}
			x[i] = v
		}
		if fn != nil {
			if err := fn(rec[0], x[0], x[1]); err != nil {
				return nil, err
			}
		}
		meta.Count++
	}
	return meta, nil
}

// capped fails with ErrTooLarge instead of reading past left bytes.
type capped struct {
	r    io.Reader
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
