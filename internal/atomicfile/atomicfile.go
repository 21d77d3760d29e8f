// Package atomicfile writes files so that readers see the old content or the
// new, never half of it: temp file in the same directory, fsync, rename, fsync
// of the directory. It never opens a network connection.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File is a file being written atomically. Call Commit to publish it or
// Abort to drop it; Abort after Commit is a no-op, so `defer f.Abort()` is safe.
//
// File is an io.Writer and nothing more: it does not embed *os.File, whose
// promoted ReadFrom (taken by io.Copy) and WriteString would write past
// Write and its write-behind.
type File struct {
	f    *os.File
	path string
	perm os.FileMode
	done bool
	// written and flushed track write-behind: every writeBehind bytes the
	// kernel is asked to start writing, so Commit's fsync is short.
	written, flushed int64
}

// writeBehind is how many bytes are written before the kernel is asked to
// start writing them out (large kits and blobs otherwise pile up dirty
// pages and the final fsync stalls for seconds).
const writeBehind = 64 << 20

// Write writes p and, every writeBehind bytes, starts the write-back of
// what was written so far.
func (f *File) Write(p []byte) (int, error) {
	n, err := f.f.Write(p)
	f.written += int64(n)
	if f.written-f.flushed >= writeBehind {
		startWriteback(f.f, f.flushed, f.written-f.flushed)
		f.flushed = f.written
	}
	return n, err
}

// Create starts writing path. Nothing appears at path until Commit.
func Create(path string, perm os.FileMode) (*File, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &File{f: f, path: path, perm: perm}, nil
}

// Commit syncs the file, renames it into place and syncs the directory.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("%s: already committed or aborted", f.path)
	}
	f.done = true
	tmp := f.f.Name()
	err := f.f.Chmod(f.perm)
	if err == nil {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return SyncDir(filepath.Dir(f.path))
}

// Abort closes and removes the temp file.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.f.Close() // the file is dropped: its close error says nothing
	os.Remove(f.f.Name())
}

// WriteFile writes data to path atomically with mode perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFrom(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFrom writes what fill produces to path atomically.
func WriteFrom(path string, perm os.FileMode, fill func(io.Writer) error) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := fill(f); err != nil {
		return err
	}
	return f.Commit()
}

// SyncDir fsyncs a directory so that a rename in it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
