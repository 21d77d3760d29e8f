package kit

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ferry-dev/ferry/bundle"
	"go.yaml.in/yaml/v3"
)

// FilesSource puts local files or directories into the kit under Dest.
type FilesSource struct {
	name string
	// Src is the resolved local path; SrcAsWritten is how kit.yaml says it.
	Src, SrcAsWritten string
	// Dest is the path inside the kit: a folder when it ends in "/" or Src
	// is a directory, else the file's own path.
	Dest string
	line int
	file string
}

var _ Source = (*FilesSource)(nil)

// Kind implements Source.
func (s *FilesSource) Kind() string { return "files" }

// Name implements Source.
func (s *FilesSource) Name() string { return s.name }

func parseFilesSources(p *parser, key, v *yaml.Node) []Source {
	if v.Kind != yaml.SequenceNode {
		p.add(v, "files", SpecInvalidYAML, "files is a list of {src, dest}")
		return nil
	}
	var out []Source
	for i, item := range v.Content {
		field := fmt.Sprintf("files[%d]", i)
		m, ok := p.mapping(item, field, "src", "dest", "name")
		if !ok {
			continue
		}
		s := &FilesSource{name: field, line: item.Line, file: p.file}
		if n, ok := m["name"]; ok {
			if name, ok := p.scalar(n, field+".name", SpecInvalidName); ok {
				if !nameRE.MatchString(name) {
					p.add(n, field+".name", SpecInvalidName, "%q: use letters, digits, '.', '_' or '-'", name)
				}
				s.name = name
			}
		}
		src, okSrc := p.scalar(m["src"], field+".src", SpecMissingSrc)
		if m["src"] == nil {
			p.errs[len(p.errs)-1].Line = item.Line
		}
		dest, okDest := p.scalar(m["dest"], field+".dest", SpecMissingDest)
		if m["dest"] == nil {
			p.errs[len(p.errs)-1].Line = item.Line
		}
		if okSrc {
			s.SrcAsWritten, s.Src = src, p.path(src)
			if fi, err := os.Lstat(s.Src); err != nil {
				p.add(m["src"], field+".src", SpecSourceNotFound, "%s: %v", src, unwrapPathErr(err))
			} else if !fi.Mode().IsRegular() && !fi.IsDir() {
				p.add(m["src"], field+".src", SpecUnsupportedFile, "%s is a %s; only regular files and directories go into a kit", src, fileKind(fi.Mode()))
			}
		}
		if okDest {
			s.Dest = dest
			clean := strings.TrimSuffix(dest, "/")
			if why := bundle.CheckPath(clean); why != "" {
				p.add(m["dest"], field+".dest", SpecInvalidDest, "%q: %s (a relative path inside the kit, like docs/)", dest, why)
			} else if clean == "kit.json" || clean == "tuf" || strings.HasPrefix(clean, "tuf/") {
				p.add(m["dest"], field+".dest", SpecReservedPath, "%q is reserved for the kit's own metadata", dest)
			}
		}
		out = append(out, s)
	}
	return out
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// Fetch implements Source: it lists the files (in lexical order) and opens
// each lazily when the bundle writer asks for it.
func (s *FilesSource) Fetch(ctx context.Context, env *Env) (*Fetched, error) {
	fi, err := os.Lstat(s.Src)
	if err != nil {
		return nil, s.err(SpecSourceNotFound, "%s: %v", s.SrcAsWritten, unwrapPathErr(err))
	}
	custom := targetCustom("", s.name)
	f := &Fetched{Provenance: Provenance{Name: s.name, Kind: s.Kind(), From: s.SrcAsWritten, Dest: s.Dest}}
	addFile := func(localPath, kitPath string, size int64) {
		lp := localPath
		f.Files = append(f.Files, bundle.File{Path: kitPath, Custom: custom, Open: func() (io.ReadCloser, error) { return openRegular(lp) }})
		f.Provenance.Files++
		f.Provenance.Bytes += size
	}
	if fi.Mode().IsRegular() {
		dest := s.Dest
		if strings.HasSuffix(dest, "/") {
			dest = path.Join(dest, filepath.Base(s.Src))
		}
		addFile(s.Src, dest, fi.Size())
		return f, nil
	}
	if !fi.IsDir() {
		return nil, s.err(SpecUnsupportedFile, "%s is a %s", s.SrcAsWritten, fileKind(fi.Mode()))
	}
	base := strings.TrimSuffix(s.Dest, "/")
	err = filepath.WalkDir(s.Src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(s.Src, p)
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return s.err(SpecUnsupportedFile, "%s is a %s; only regular files go into a kit", filepath.Join(s.SrcAsWritten, rel), fileKind(d.Type()))
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		kp := path.Join(base, filepath.ToSlash(rel))
		if why := bundle.CheckPath(kp); why != "" {
			return s.err(SpecInvalidDest, "%s would be placed at %q: %s", filepath.Join(s.SrcAsWritten, rel), kp, why)
		}
		addFile(p, kp, info.Size())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (s *FilesSource) err(code SpecCode, format string, args ...any) error {
	return &SpecError{File: s.file, Line: s.line, Field: s.name, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// openRegular opens a file and refuses anything that is not a regular file
// at open time (a path swapped for a FIFO or device after listing).
func openRegular(p string) (io.ReadCloser, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is no longer a regular file", p)
	}
	return f, nil
}
