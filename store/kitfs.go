package store

import (
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/verify"
)

// kitFS is the verified files of a kit as a read-only fs.FS, by kit path:
// each read is of the staged (or stored) bytes that verified, capped at
// the target's length. Directories are implied by the paths. It is safe
// for concurrent use.
type kitFS struct {
	files map[string]verify.Target
	dirs  map[string][]fs.DirEntry
	open  opener
}

var (
	_ fs.FS        = (*kitFS)(nil)
	_ fs.ReadDirFS = (*kitFS)(nil)
)

func newKitFS(targets []verify.Target, open opener) *kitFS {
	k := &kitFS{files: map[string]verify.Target{}, dirs: map[string][]fs.DirEntry{".": nil}, open: open}
	seen := map[string]bool{}
	for _, t := range targets {
		if !fs.ValidPath(t.Path) || t.Path == "." {
			continue // the kit format refuses such paths; never reachable
		}
		k.files[t.Path] = t
		child, isDir := t.Path, false
		for {
			dir := path.Dir(child)
			key := dir + "\x00" + child
			if !seen[key] {
				seen[key] = true
				e := entry{name: path.Base(child), dir: isDir}
				if !isDir {
					e.size = t.Length
				}
				k.dirs[dir] = append(k.dirs[dir], e)
			}
			if dir == "." {
				break
			}
			child, isDir = dir, true
		}
	}
	for d := range k.dirs {
		slices.SortFunc(k.dirs[d], func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	}
	return k
}

// Open implements fs.FS.
func (k *kitFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if t, ok := k.files[name]; ok {
		f, err := k.open(t)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &kitFile{f: f, r: io.LimitReader(f, t.Length), info: entry{name: path.Base(name), size: t.Length}}, nil
	}
	if ents, ok := k.dirs[name]; ok {
		return &kitDir{info: entry{name: path.Base(name), dir: true}, ents: ents}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// ReadDir implements fs.ReadDirFS.
func (k *kitFS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, ok := k.dirs[name]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(ents), nil
}

// entry is a file or directory of a kitFS, as fs.DirEntry and fs.FileInfo.
type entry struct {
	name string
	size int64
	dir  bool
}

func (e entry) Name() string               { return e.name }
func (e entry) IsDir() bool                { return e.dir }
func (e entry) Type() fs.FileMode          { return e.Mode().Type() }
func (e entry) Info() (fs.FileInfo, error) { return e, nil }
func (e entry) Size() int64                { return e.size }
func (e entry) ModTime() time.Time         { return time.Time{} }
func (e entry) Sys() any                   { return nil }
func (e entry) Mode() fs.FileMode {
	if e.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

type kitFile struct {
	f    io.ReadCloser
	r    io.Reader
	info entry
}

func (f *kitFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *kitFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *kitFile) Close() error               { return f.f.Close() }

type kitDir struct {
	info entry
	ents []fs.DirEntry
	off  int
}

func (d *kitDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *kitDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: fs.ErrInvalid}
}
func (d *kitDir) Close() error { return nil }

func (d *kitDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.ents[d.off:]
	if n <= 0 {
		d.off = len(d.ents)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return slices.Clone(rest[:n]), nil
}
