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

// errAfter yields data, then fails with err instead of io.EOF.
type errAfter struct {
	data []byte
	err  error
}

func (r *errAfter) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestStanzasReportsReadErrors: a package database (dpkg status, apk
// installed) that fails to read part-way fails its extractor — reported
// as not evaluated — instead of passing for a database that ends there.
func TestStanzasReportsReadErrors(t *testing.T) {
	errIO := errors.New("input/output error")
	for _, data := range []string{"", "Package: a\nVersion: 1\n\n", "Package: a\nVersion: 1\n\n\n"} {
		n := 0
		err := stanzas(&errAfter{data: []byte(data), err: errIO}, dpkgKeys[:], func([]string) { n++ })
		if !errors.Is(err, errIO) {
			t.Errorf("%q then a read error: got %v after %d stanzas, want the read error", data, err, n)
		}
	}
}
