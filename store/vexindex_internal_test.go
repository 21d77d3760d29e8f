package store

import (
	"slices"
	"testing"

	"github.com/ferry-dev/ferry/vex"
)

// TestProductKeysCanonicalPURL: a statement whose product is written
// pkg:golang/golang.org%2Fx%2Ftext is found by the canonical spelling
// (and its version-less base), and the other way round.
func TestProductKeysCanonicalPURL(t *testing.T) {
	for _, c := range []struct{ written, lookup string }{
		{"pkg:golang/golang.org%2Fx%2Ftext@v0.3.5", "pkg:golang/golang.org/x/text@v0.3.5"},
		{"pkg:golang/golang.org%2Fx%2Ftext@v0.3.5", "pkg:golang/golang.org/x/text"},
		{"pkg:golang/golang.org/x/text@v0.3.5", "pkg:golang/golang.org/x/text"},
	} {
		keys := productKeys([]vex.Product{{PURL: c.written}})
		if !slices.Contains(keys, c.lookup) {
			t.Errorf("product %s: keys %q lack %s", c.written, keys, c.lookup)
		}
	}
	// A query written with %2F is also looked up canonically.
	if got := canonPURL("pkg:golang/golang.org%2Fx%2Ftext@v0.3.5"); got != "pkg:golang/golang.org/x/text@v0.3.5" {
		t.Errorf("canonPURL = %q", got)
	}
}
