package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/verify"
)

// Quarantine moves the kit file at kitPath into dir (created if needed)
// and writes the verification report beside it as <name>.report.json, so
// that a kit that failed cannot be imported by mistake and can be looked
// at later. A name already taken in dir gets a numeric suffix. It returns
// the kit's new path.
//
// When kitPath is a symbolic link, the file it resolves to is the kit: that
// file is moved (under the link's name), and the link, which would dangle,
// is removed. Moving only the link would leave the bad kit where it was,
// importable by its real name.
func Quarantine(kitPath, dir string, rep *verify.Report) (string, error) {
	li, err := os.Lstat(kitPath)
	if err != nil {
		return "", fmt.Errorf("quarantine: %w", err)
	}
	isLink := li.Mode()&os.ModeSymlink != 0
	real := kitPath
	if isLink {
		if real, err = filepath.EvalSymlinks(kitPath); err != nil {
			return "", fmt.Errorf("quarantine: %w", err)
		}
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("quarantine: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("quarantine: %s is not a regular file; move it aside by hand", kitPath)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("quarantine: %w", err)
	}
	base := filepath.Base(kitPath)
	dest := filepath.Join(dir, base)
	for i := 1; ; i++ {
		_, err1 := os.Lstat(dest)
		_, err2 := os.Lstat(dest + ".report.json")
		if errors.Is(err1, os.ErrNotExist) && errors.Is(err2, os.ErrNotExist) {
			break
		}
		dest = filepath.Join(dir, base+"."+strconv.Itoa(i))
	}
	if err := moveFile(real, dest); err != nil {
		return "", fmt.Errorf("quarantine: moving %s: %w", real, err)
	}
	if isLink {
		if err := os.Remove(kitPath); err != nil {
			return dest, fmt.Errorf("quarantine: %s was moved, but its link %s stays: %w", real, kitPath, err)
		}
	}
	if rep != nil {
		err := atomicfile.WriteFrom(dest+".report.json", 0o644, func(w io.Writer) error { return rep.WriteJSON(w) })
		if err != nil {
			return dest, fmt.Errorf("quarantine: writing the report: %w", err)
		}
	}
	return dest, nil
}

// moveFile renames src to dest, copying (temp, fsync, rename) across
// file systems.
func moveFile(src, dest string) error {
	err := os.Rename(src, dest)
	if err == nil {
		return atomicfile.SyncDir(filepath.Dir(dest))
	}
	if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := atomicfile.WriteFrom(dest, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	}); err != nil {
		return err
	}
	return os.Remove(src)
}
