package scan

import (
	"errors"
	"testing"
)

// failAfter accepts n bytes, then fails every write.
type failAfter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

// TestWriteReportsWriteErrors checks that every format says when its
// output could not be written (a full disk, a closed pipe), wherever the
// write fails, instead of reporting success over a truncated report.
func TestWriteReportsWriteErrors(t *testing.T) {
	r := testReport(t)
	for _, format := range Formats {
		for _, n := range []int{0, 10, 200} {
			if err := Write(&failAfter{n: n}, r, format); !errors.Is(err, errDiskFull) {
				t.Errorf("%s, failing after %d bytes: got %v, want the write error", format, n, err)
			}
		}
	}
}
