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
