package bundle

import (
	"errors"
	"testing"
)

// TestCheckMetadata: the check after signing, on the real bytes, refuses
// an entry over MaxMetadataSize and metadata over DefaultMetadataBudget
// in all — what TargetsLimit's lower bound may let through.
func TestCheckMetadata(t *testing.T) {
	small := []byte("{}")
	big := make([]byte, MaxMetadataSize-tarEntryOverhead)
	for _, tc := range []struct {
		name    string
		roots   [][]byte
		targets []byte
		ok      bool
	}{
		{"small", [][]byte{small}, small, true},
		{"targets at the limit", [][]byte{small}, make([]byte, MaxMetadataSize), true},
		{"targets over the limit", [][]byte{small}, make([]byte, MaxMetadataSize+1), false},
		{"a root over the limit", [][]byte{small, make([]byte, MaxMetadataSize+1)}, small, false},
		{"all within the budget", [][]byte{big, big, big}, big[:len(big)-2*tarEntryOverhead-2*len(small)], true},
		{"over the budget in all", [][]byte{big, big, big}, big, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkMetadata(tc.roots, small, small, tc.targets)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && !errors.Is(err, ErrMetadataTooLarge) {
				t.Fatalf("got %v, want ErrMetadataTooLarge", err)
			}
		})
	}
}
