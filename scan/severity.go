package scan

import (
	"strings"

	"github.com/ossf/osv-schema/bindings/go/osvschema"
	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// rank orders ratings for comparison; UNKNOWN ranks lowest for sorting.
func rank(r string) int {
	switch r {
	case RatingCritical:
		return 5
	case RatingHigh:
		return 4
	case RatingMedium:
		return 3
	case RatingLow:
		return 2
	case RatingNone:
		return 1
	}
	return 0
}

// ParseRating parses a --fail-on threshold ("high", "CRITICAL", …).
// ok is false for an unknown word.
func ParseRating(s string) (string, bool) {
	r := strings.ToUpper(strings.TrimSpace(s))
	switch r {
	case RatingCritical, RatingHigh, RatingMedium, RatingLow, RatingNone:
		return r, true
	case "MODERATE":
		return RatingMedium, true
	}
	return "", false
}

// AtLeast reports whether a finding's rating meets threshold. UNKNOWN
// meets every threshold: a finding without a severity fails closed.
func AtLeast(rating, threshold string) bool {
	if rating == RatingUnknown || rating == "" {
		return true
	}
	return rank(rating) >= rank(threshold)
}

// recordSeverity computes a record's severity for one affected entry:
// a CVSS v4, v3.1/v3.0 or v2 vector (in that order of preference, the
// affected entry's own severity before the record's) gives base score and
// rating; else a word the record states (Ubuntu severity,
// database_specific.severity as GHSA and others write it).
func recordSeverity(v *osvschema.Vulnerability, a *osvschema.Affected) Severity {
	lists := [][]*osvschema.Severity{a.GetSeverity(), v.GetSeverity()}
	for _, want := range []osvschema.Severity_Type{osvschema.Severity_CVSS_V4, osvschema.Severity_CVSS_V3, osvschema.Severity_CVSS_V2} {
		for _, l := range lists {
			for _, s := range l {
				if s.GetType() != want {
					continue
				}
				if sev, ok := cvssSeverity(s.GetType(), s.GetScore()); ok {
					sev.Source = v.GetId()
					return sev
				}
			}
		}
	}
	for _, l := range lists {
		for _, s := range l {
			if s.GetType() == osvschema.Severity_Ubuntu {
				if r, ok := ratingWord(s.GetScore()); ok {
					return Severity{Rating: r, Source: v.GetId()}
				}
			}
		}
	}
	if w := stringField(v.GetDatabaseSpecific().GetFields()["severity"]); w != "" {
		if r, ok := ratingWord(w); ok {
			return Severity{Rating: r, Source: v.GetId()}
		}
	}
	if w := stringField(a.GetDatabaseSpecific().GetFields()["severity"]); w != "" {
		if r, ok := ratingWord(w); ok {
			return Severity{Rating: r, Source: v.GetId()}
		}
	}
	return Severity{Rating: RatingUnknown}
}

func cvssSeverity(t osvschema.Severity_Type, vector string) (Severity, bool) {
	var score float64
	switch t {
	case osvschema.Severity_CVSS_V4:
		c, err := gocvss40.ParseVector(vector)
		if err != nil {
			return Severity{}, false
		}
		score = c.Score()
	case osvschema.Severity_CVSS_V3:
		if strings.HasPrefix(vector, "CVSS:3.0/") {
			c, err := gocvss30.ParseVector(vector)
			if err != nil {
				return Severity{}, false
			}
			score = c.BaseScore()
		} else {
			c, err := gocvss31.ParseVector(vector)
			if err != nil {
				return Severity{}, false
			}
			score = c.BaseScore()
		}
	case osvschema.Severity_CVSS_V2:
		c, err := gocvss20.ParseVector(vector)
		if err != nil {
			return Severity{}, false
		}
		score = c.BaseScore()
		// CVSS v2 has no official rating; NVD's bands are the usual ones.
		r := RatingLow
		switch {
		case score >= 7:
			r = RatingHigh
		case score >= 4:
			r = RatingMedium
		}
		return Severity{Rating: r, Score: score, Vector: vector}, true
	default:
		return Severity{}, false
	}
	r, err := gocvss31.Rating(score)
	if err != nil {
		return Severity{}, false
	}
	return Severity{Rating: strings.ToUpper(r), Score: score, Vector: vector}, true
}

// ratingWord maps a severity word to a rating.
func ratingWord(w string) (string, bool) {
	switch strings.ToUpper(strings.TrimSpace(w)) {
	case "CRITICAL":
		return RatingCritical, true
	case "HIGH", "IMPORTANT":
		return RatingHigh, true
	case "MEDIUM", "MODERATE":
		return RatingMedium, true
	case "LOW", "NEGLIGIBLE", "UNIMPORTANT":
		return RatingLow, true
	}
	return "", false
}

// higher returns the more severe of a and b (a on ties).
func higher(a, b Severity) Severity {
	if rank(b.Rating) > rank(a.Rating) || (rank(b.Rating) == rank(a.Rating) && b.Score > a.Score) {
		return b
	}
	return a
}
