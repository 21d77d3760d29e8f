package scan

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestReadOSReleaseStaysInRoot checks that os-release is resolved inside
// the scanned root: a link that leaves it must not make the scan describe
// the host (or any file outside the target), and a file that is not a
// small regular file is passed over.
func TestReadOSReleaseStaysInRoot(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "os-release")
	if err := os.WriteFile(outside, []byte("ID=host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, root string)
		want  map[string]string
	}{
		{"plain file", func(t *testing.T, root string) {
			put(t, root, "etc/os-release", "ID=alpine\nVERSION_ID=\"3.18.4\"\n")
		}, map[string]string{"ID": "alpine", "VERSION_ID": "3.18.4"}},
		{"usr/lib fallback", func(t *testing.T, root string) {
			put(t, root, "usr/lib/os-release", "ID=debian\n")
		}, map[string]string{"ID": "debian"}},
		{"relative link inside the root", func(t *testing.T, root string) {
			put(t, root, "usr/lib/os-release", "ID=debian\n")
			link(t, "../usr/lib/os-release", filepath.Join(root, "etc/os-release"))
		}, map[string]string{"ID": "debian"}},
		{"absolute link to the host's file", func(t *testing.T, root string) {
			link(t, outside, filepath.Join(root, "etc/os-release"))
		}, map[string]string{}},
		{"absolute link, usr/lib in the root", func(t *testing.T, root string) {
			link(t, outside, filepath.Join(root, "etc/os-release"))
			put(t, root, "usr/lib/os-release", "ID=debian\n")
		}, map[string]string{"ID": "debian"}},
		{"relative link out of the root", func(t *testing.T, root string) {
			rel, err := filepath.Rel(filepath.Join(root, "etc"), outside)
			if err != nil {
				t.Fatal(err)
			}
			link(t, rel, filepath.Join(root, "etc/os-release"))
		}, map[string]string{}},
		{"directory link out of the root", func(t *testing.T, root string) {
			if err := os.MkdirAll(filepath.Join(root, "usr"), 0o755); err != nil {
				t.Fatal(err)
			}
			link(t, filepath.Dir(outside), filepath.Join(root, "usr/lib"))
		}, map[string]string{}},
		{"too large", func(t *testing.T, root string) {
			put(t, root, "etc/os-release", "ID=big\n"+strings.Repeat("#\n", maxOSRelease))
		}, map[string]string{}},
		{"a directory", func(t *testing.T, root string) {
			if err := os.MkdirAll(filepath.Join(root, "etc/os-release"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			c.setup(t, root)
			if diff := cmp.Diff(c.want, readOSRelease(root)); diff != "" {
				t.Errorf("readOSRelease (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDirWalkReportsUnreadable checks that what a directory scan cannot
// read is reported as not evaluated rather than skipped, and that an
// unreadable target fails the scan. The errors are handed to the walk
// callback directly: permission bits do not stop a test run as root.
func TestDirWalkReportsUnreadable(t *testing.T) {
	dir := t.TempDir()
	w := &dirWalk{ctx: context.Background(), dir: dir, exs: extractors(nil)}
	sub := filepath.Join(dir, "var", "lib", "dpkg")
	if err := w.visit(sub, fs.FileInfoToDirEntry(dirInfo{"dpkg"}), fs.ErrPermission); err != nil {
		t.Fatalf("an unreadable directory below the target stopped the walk: %v", err)
	}
	if len(w.notEval) != 1 || w.notEval[0].Location.Path != "var/lib/dpkg" || !strings.Contains(w.notEval[0].Reason, "permission denied") {
		t.Fatalf("not evaluated = %+v, want var/lib/dpkg with the permission error", w.notEval)
	}
	if err := w.visit(dir, nil, fs.ErrPermission); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("an unreadable target gave %v, want the permission error", err)
	}
}

type dirInfo struct{ name string }

func (d dirInfo) Name() string     { return d.name }
func (dirInfo) Size() int64        { return 0 }
func (dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o755 }
func (dirInfo) ModTime() time.Time { return time.Time{} }
func (dirInfo) IsDir() bool        { return true }
func (dirInfo) Sys() any           { return nil }

func put(t *testing.T, root, rel, body string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, at string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, at); err != nil {
		t.Fatal(err)
	}
}
