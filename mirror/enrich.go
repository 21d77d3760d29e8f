package mirror

import (
	"context"
	"os"

	"github.com/ferry-dev/ferry/enrich"
)

// KEVStats describes a validated CISA KEV catalog.
type KEVStats struct {
	CatalogVersion string
	Entries        int
}

// ValidateKEV checks a CISA Known Exploited Vulnerabilities catalog
// (known_exploited_vulnerabilities.json) with enrich.ReadKEV. The file is
// carried as it is.
func ValidateKEV(path string) (*KEVStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cat, err := enrich.ReadKEV(f, nil)
	if err != nil {
		return nil, err
	}
	return &KEVStats{CatalogVersion: cat.CatalogVersion, Entries: cat.Count}, nil
}

// EPSSStats describes a validated EPSS scores file.
type EPSSStats struct {
	ModelVersion string
	ScoreDate    string
	Scores       int
}

// ValidateEPSS checks an EPSS scores CSV (gzip-compressed or not) with
// enrich.ReadEPSS. The file is carried as it is.
func ValidateEPSS(path string) (*EPSSStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	meta, err := enrich.ReadEPSS(context.Background(), f, enrich.MaxEPSSSize, nil)
	if err != nil {
		return nil, err
	}
	return &EPSSStats{ModelVersion: meta.ModelVersion, ScoreDate: meta.ScoreDate, Scores: meta.Count}, nil
}
