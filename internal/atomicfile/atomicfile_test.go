package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFromCommitsOrLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	big := bytes.Repeat([]byte("x"), writeBehind+123)
	if err := WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if !bytes.Equal(got, big) || fi.Mode().Perm() != 0o600 {
		t.Fatalf("content or mode wrong: %d bytes, %v", len(got), fi.Mode())
	}
	boom := errors.New("boom")
	err := WriteFrom(path, 0o644, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	got, _ = os.ReadFile(path)
	entries, _ := os.ReadDir(dir)
	if !bytes.Equal(got, big) || len(entries) != 1 {
		t.Errorf("failed write changed the old file or left %d entries", len(entries))
	}
}

// TestCopyGoesThroughWrite checks that io.Copy into a File counts every
// byte for write-behind: a File that let io.Copy take *os.File's ReadFrom
// would write them past Write, and the final fsync would find them all
// dirty.
func TestCopyGoesThroughWrite(t *testing.T) {
	f, err := Create(filepath.Join(t.TempDir(), "out"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	n := int64(writeBehind + 1)
	// A reader without WriteTo, so that io.Copy asks the destination.
	src := struct{ io.Reader }{io.LimitReader(zeros{}, n)}
	if got, err := io.Copy(f, src); err != nil || got != n {
		t.Fatalf("io.Copy = %d, %v", got, err)
	}
	if f.written != n || f.flushed == 0 {
		t.Errorf("write-behind saw %d of %d bytes (flushed %d): io.Copy bypassed Write", f.written, n, f.flushed)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
