package kit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/keys"
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
	// AllowOutside is kit.yaml's allowOutside: Src may lie outside the
	// directory of kit.yaml (after symlinks are resolved).
	AllowOutside bool
	// specDir is the directory of kit.yaml.
	specDir string
	line    int
	file    string
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
		m, ok := p.mapping(item, field, "src", "dest", "name", "allowOutside")
		if !ok {
			continue
		}
		s := &FilesSource{name: field, line: item.Line, file: p.file, specDir: filepath.Dir(p.file)}
		if n, ok := m["allowOutside"]; ok {
			s.AllowOutside = p.boolean(n, field+".allowOutside")
		}
		if n, ok := m["name"]; ok {
			if name, ok := p.scalar(n, field+".name", SpecInvalidName); ok {
				if !nameRE().MatchString(name) {
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
			} else if err := s.checkInside(); err != nil {
				p.add(m["src"], field+".src", SpecOutsideSpecDir, "%v", err)
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

// checkInside refuses a Src that lies outside the directory of kit.yaml
// once symlinks are resolved, unless AllowOutside is set: a files source
// carries what was put beside kit.yaml for the purpose, not whatever a
// path (or a symlink on the way) happens to reach, such as /etc or the
// channel's own keys elsewhere.
func (s *FilesSource) checkInside() error {
	if s.AllowOutside {
		return nil
	}
	dir, err := realPath(s.specDir)
	if err != nil {
		return fmt.Errorf("resolving the directory of %s: %v", s.file, err)
	}
	src, err := realPath(s.Src)
	if err != nil {
		return fmt.Errorf("%s: %v", s.SrcAsWritten, unwrapPathErr(err))
	}
	if rel, err := filepath.Rel(dir, src); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("%s resolves to %s, outside %s (the directory of kit.yaml): a files source carries only what lies beside kit.yaml; set allowOutside: true on this entry to carry it knowingly",
			s.SrcAsWritten, src, dir)
	}
	return nil
}

// realPath is p made absolute with every symlink resolved.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// Fetch implements Source: it lists the files (in lexical order) and opens
// each lazily when the bundle writer asks for it. Each file is read through
// a private key Detector: a file that holds a private key fails the build
// with SPEC_PRIVATE_KEY_GIVEN (also when it changed after CheckLocal).
func (s *FilesSource) Fetch(ctx context.Context, env *Env) (*Fetched, error) {
	custom := s.custom()
	f := &Fetched{Provenance: Provenance{Name: s.name, Kind: s.Kind(), From: s.SrcAsWritten, Dest: s.Dest}}
	err := s.walk(ctx, custom, func(localPath, kitPath string, size int64) error {
		lp := localPath
		f.Files = append(f.Files, bundle.File{Path: kitPath, Custom: custom, Open: func() (io.ReadCloser, error) {
			rc, err := openRegular(lp)
			if err != nil {
				return nil, err
			}
			return &keyGuard{rc: rc, name: lp, s: s}, nil
		}})
		f.Provenance.Files++
		f.Provenance.Bytes += size
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// checkLocal implements localChecker: it reads every file the source
// would carry and reports each one that holds a private key. It counts the
// files against the kit's limit first, so that a directory too large for a
// kit is not read to the end.
func (s *FilesSource) checkLocal(ctx context.Context) (SpecErrors, error) {
	if err := s.walk(ctx, s.custom(), func(string, string, int64) error { return nil }); err != nil {
		return specErrorsOr(err)
	}
	var errs SpecErrors
	err := s.walk(ctx, nil, func(localPath, _ string, _ int64) error {
		found, err := findPrivateKey(localPath)
		if err != nil {
			return err
		}
		if found != nil {
			errs = append(errs, s.privateKeyErr(localPath, found))
		}
		return nil
	})
	if err != nil {
		more, err := specErrorsOr(err)
		return append(errs, more...), err
	}
	return errs, nil
}

// specErrorsOr returns a *SpecError as SpecErrors, any other error as is.
func specErrorsOr(err error) (SpecErrors, error) {
	var se *SpecError
	if errors.As(err, &se) {
		return SpecErrors{se}, nil
	}
	return nil, err
}

// custom is the custom object of the source's targets.
func (s *FilesSource) custom() json.RawMessage { return targetCustom("", s.name) }

func (s *FilesSource) privateKeyErr(localPath string, found *keys.Found) *SpecError {
	return s.err(SpecPrivateKeyGiven, "%s", privateKeyMsg(localPath, found)).(*SpecError)
}

// walk calls fn for every file of the source, in lexical order, with its
// local path, its path in the kit and its size. With a custom object (that
// of the kit's targets), it also adds up the size of targets.json, so that
// a directory of more files than a kit can list fails while it is listed,
// in bounded memory, rather than after.
func (s *FilesSource) walk(ctx context.Context, custom json.RawMessage, fn func(localPath, kitPath string, size int64) error) error {
	var limit *bundle.TargetsLimit
	if custom != nil {
		limit = new(bundle.TargetsLimit)
	}
	fi, err := os.Lstat(s.Src)
	if err != nil {
		return s.err(SpecSourceNotFound, "%s: %v", s.SrcAsWritten, unwrapPathErr(err))
	}
	if err := s.checkInside(); err != nil {
		return s.err(SpecOutsideSpecDir, "%v", err)
	}
	add := func(localPath, kitPath string, size int64) error {
		if limit != nil {
			if err := limit.Add(kitPath, custom, size); err != nil {
				return fmt.Errorf("%s: %w", s.SrcAsWritten, err)
			}
		}
		return fn(localPath, kitPath, size)
	}
	if fi.Mode().IsRegular() {
		dest := s.Dest
		if strings.HasSuffix(dest, "/") {
			dest = path.Join(dest, filepath.Base(s.Src))
		}
		return add(s.Src, dest, fi.Size())
	}
	if !fi.IsDir() {
		return s.err(SpecUnsupportedFile, "%s is a %s", s.SrcAsWritten, fileKind(fi.Mode()))
	}
	base := strings.TrimSuffix(s.Dest, "/")
	return filepath.WalkDir(s.Src, func(p string, d fs.DirEntry, err error) error {
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
		return add(p, kp, info.Size())
	})
}

// keyGuard reads a file of a files source through a private key Detector
// and fails at the end of a file that holds one.
type keyGuard struct {
	rc   io.ReadCloser
	d    keys.Detector
	name string
	s    *FilesSource
}

func (g *keyGuard) Read(p []byte) (int, error) {
	n, err := g.rc.Read(p)
	g.d.Write(p[:n])
	if err == io.EOF {
		if found := g.d.Found(); found != nil {
			return n, g.s.privateKeyErr(g.name, found)
		}
	}
	return n, err
}

func (g *keyGuard) Close() error { return g.rc.Close() }

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
