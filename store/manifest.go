package store

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// manifestPath is kit.json, the kit manifest (kit.ManifestPath).
const manifestPath = "kit.json"

// manifest is the part of kit.json the store keeps. Package kit owns the
// format (kit.Manifest), but it links the connected-side sources and with
// them net/http, which the offline store must not; so the store decodes
// the few fields it needs itself.
type manifest struct {
	Schema    string            `json:"schema"`
	Freshness map[string]string `json:"freshness"`
	Sources   []struct {
		Name      string `json:"name"`
		Kind      string `json:"kind"`
		From      string `json:"from"`
		Dest      string `json:"dest"`
		Digest    string `json:"digest"`
		FetchedAt string `json:"fetchedAt"`
	} `json:"sources"`
}

const manifestSchema = "ferry.dev/kit/v1"

func readManifest(r io.Reader) (*manifest, error) {
	var m manifest
	if err := json.NewDecoder(io.LimitReader(r, 16<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", manifestPath, err)
	}
	if m.Schema != manifestSchema {
		return nil, fmt.Errorf("%s: schema %q is not %q", manifestPath, m.Schema, manifestSchema)
	}
	return &m, nil
}

// parseBudget parses a freshness budget the way kit.ParseDuration does:
// "7d", "2w", or a Go duration such as "36h"; positive only.
func parseBudget(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	units := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	if u, ok := units[s[len(s)-1]]; ok {
		n, err := strconv.ParseInt(s[:len(s)-1], 10, 32)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("duration %q: want a positive whole number of days or weeks, like 30d or 2w", s)
		}
		return time.Duration(n) * u, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("duration %q: want e.g. 30d, 2w, 36h or 90m", s)
	}
	return d, nil
}
