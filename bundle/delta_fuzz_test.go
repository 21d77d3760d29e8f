package bundle_test

import (
	"encoding/json"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
)

// FuzzParseDelta: ParseDelta never panics, and what it accepts is
// consistent: the digest matches and the removed paths are safe and
// sorted.
func FuzzParseDelta(f *testing.F) {
	f.Add([]byte(`{"schema":"ferry.dev/delta/v1","base":{"channel":"a","version":1,"targetsSha256":"x"},` +
		`"targetsSha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","targets":"","removed":["a","b/c"],"carried":1,"files":2}`))
	f.Add([]byte(`{"schema":"ferry.dev/delta/v1","removed":["../x"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := bundle.ParseDelta(data)
		if err != nil {
			return
		}
		for i, p := range d.Removed {
			if bundle.CheckPath(p) != "" || (i > 0 && d.Removed[i-1] >= p) {
				t.Fatalf("accepted removed paths %q", d.Removed)
			}
		}
		again, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.ParseDelta(again); err != nil {
			t.Fatalf("re-encoded delta refused: %v", err)
		}
	})
}
