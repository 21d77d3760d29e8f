package enrich

import "github.com/ferry-dev/ferry/format"

// Kind is what an enrichment file holds.
type Kind string

// The kinds of enrichment files.
const (
	KindNone Kind = ""     // not an enrichment file ferry reads
	KindKEV  Kind = "kev"  // a CISA KEV catalog (ReadKEV)
	KindEPSS Kind = "epss" // EPSS scores, gzip-compressed or not (ReadEPSS)
)

// FileKind tells what an enrichment file holds by its media type, or, for
// a file without one, by its name: kev.json, epss.csv or epss.csv.gz. A
// file with another media type is KindNone whatever its name.
func FileKind(name, mediaType string) Kind {
	switch {
	case mediaType == format.MediaKEV, mediaType == "" && name == "kev.json":
		return KindKEV
	case mediaType == format.MediaEPSS, mediaType == "" && (name == "epss.csv" || name == "epss.csv.gz"):
		return KindEPSS
	}
	return KindNone
}

// KEVEntry is one entry of a CISA KEV catalog: the fields of the
// catalog's schema (known_exploited_vulnerabilities_schema.json) that
// ferry keeps. ReadKEV hands each entry on as compact JSON; decode it into
// a KEVEntry with encoding/json.
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
}
