package mirror

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

var cveRE = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// KEVStats describes a validated CISA KEV catalog.
type KEVStats struct {
	CatalogVersion string
	Entries        int
}

// ValidateKEV checks a CISA Known Exploited Vulnerabilities catalog
// (known_exploited_vulnerabilities.json): a catalog version, and entries
// each with a well-formed CVE id. The file is carried as it is.
func ValidateKEV(path string) (*KEVStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cat struct {
		CatalogVersion  string `json:"catalogVersion"`
		Count           *int   `json:"count"`
		Vulnerabilities []struct {
			CveID     string `json:"cveID"`
			DateAdded string `json:"dateAdded"`
		} `json:"vulnerabilities"`
	}
	if err := json.NewDecoder(io.LimitReader(f, DefaultMaxDownload)).Decode(&cat); err != nil {
		return nil, fmt.Errorf("KEV catalog: %w", err)
	}
	if cat.CatalogVersion == "" {
		return nil, errors.New("KEV catalog: no catalogVersion")
	}
	if cat.Vulnerabilities == nil {
		return nil, errors.New("KEV catalog: no vulnerabilities list")
	}
	for i, v := range cat.Vulnerabilities {
		if !cveRE.MatchString(v.CveID) {
			return nil, fmt.Errorf("KEV catalog: vulnerabilities[%d]: cveID %q is not a CVE id", i, v.CveID)
		}
	}
	if cat.Count != nil && *cat.Count != len(cat.Vulnerabilities) {
		return nil, fmt.Errorf("KEV catalog: count says %d, the list has %d", *cat.Count, len(cat.Vulnerabilities))
	}
	return &KEVStats{CatalogVersion: cat.CatalogVersion, Entries: len(cat.Vulnerabilities)}, nil
}

// EPSSStats describes a validated EPSS scores file.
type EPSSStats struct {
	ModelVersion string
	ScoreDate    string
	Scores       int
}

// ValidateEPSS checks an EPSS scores CSV (gzip-compressed or not): the
// optional "#model_version:…,score_date:…" line, the header
// cve,epss,percentile, and rows of a CVE id and two numbers in [0, 1].
func ValidateEPSS(path string) (*EPSSStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("EPSS: %w", err)
		}
		defer gz.Close()
		r = gz
	}
	lr := bufio.NewReader(io.LimitReader(r, 1<<30))
	st := &EPSSStats{}
	if b, _ := lr.Peek(1); len(b) == 1 && b[0] == '#' {
		line, err := lr.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("EPSS: %w", err)
		}
		for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "#")), ",") {
			k, v, _ := strings.Cut(kv, ":")
			switch k {
			case "model_version":
				st.ModelVersion = v
			case "score_date":
				st.ScoreDate = v
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
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("EPSS: %w", err)
		}
		if !cveRE.MatchString(rec[0]) {
			return nil, fmt.Errorf("EPSS: line %d: %q is not a CVE id", st.Scores+2, rec[0])
		}
		for _, s := range rec[1:] {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || x < 0 || x > 1 {
				return nil, fmt.Errorf("EPSS: line %d (%s): %q is not a number in [0, 1]", st.Scores+2, rec[0], s)
			}
		}
		st.Scores++
	}
	return st, nil
}
