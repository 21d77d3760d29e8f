package kit

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/ferry-dev/ferry/keys"
)

// localChecker is a source that carries local files and can check their
// content before anything is fetched (an optional ability of a Source,
// found by type assertion).
type localChecker interface {
	// checkLocal reads the local files the source would carry and
	// reports each that must not go into a kit; an error stops the check.
	checkLocal(ctx context.Context) (SpecErrors, error)
}

var (
	_ localChecker = (*FilesSource)(nil)
	_ localChecker = (*VEXSource)(nil)
	_ localChecker = (*IssuersSource)(nil)
)

// CheckLocal reads every local file that the sources of s would carry and
// reports, all together as SpecErrors, each one that must never go into a
// kit: a file holding a private key (SPEC_PRIVATE_KEY_GIVEN, see
// keys.Detector), a files source outside the directory of kit.yaml
// (SPEC_OUTSIDE_SPEC_DIR, also checked by ParseSpec). It opens no network
// connection and reads no remote source; its cost is one read of the local
// files. A files source of more files than a kit can list fails with
// bundle.ErrMetadataTooLarge before they are all read. ferry mirror --check runs it, and Build runs it before it fetches
// anything. (Public keys under trust: are checked by ParseSpec already.)
func (s *Spec) CheckLocal(ctx context.Context) error {
	var errs SpecErrors
	for _, src := range s.Sources {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c, ok := src.(localChecker); ok {
			more, err := c.checkLocal(ctx)
			if err != nil {
				return fmt.Errorf("source %s: %w", src.Name(), err)
			}
			errs = append(errs, more...)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// findPrivateKey reads the regular file p through a keys.Detector.
func findPrivateKey(p string) (*keys.Found, error) {
	rc, err := openRegular(p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	found, err := keys.FindPrivateKey(rc)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return found, nil
}

// privateKeyIn returns the private key held in data, or nil.
func privateKeyIn(data []byte) *keys.Found {
	found, _ := keys.FindPrivateKey(bytes.NewReader(data))
	return found
}

// privateKeyMsg is the message of SPEC_PRIVATE_KEY_GIVEN for a file.
func privateKeyMsg(file string, found *keys.Found) string {
	return fmt.Sprintf("%s holds a private key (%s): a kit is copied to many places and never carries one; carry the public key, or leave the file out", file, found)
}

// checkLocal implements localChecker for the local documents of a VEX
// source (a URL is fetched at build time and not checked here).
func (s *VEXSource) checkLocal(ctx context.Context) (SpecErrors, error) {
	var paths []string
	switch {
	case s.location.Dir != "":
		err := filepath.WalkDir(s.location.Dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.Type().IsRegular() && strings.HasSuffix(p, ".json") {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return SpecErrors{s.specErr(SpecSourceNotFound, "%v", err)}, nil
		}
	case s.location.File != "":
		paths = append(paths, s.location.File)
	}
	var errs SpecErrors
	for _, p := range paths {
		found, err := findPrivateKey(p)
		if err != nil {
			errs = append(errs, s.specErr(SpecSourceNotFound, "%v", err))
		} else if found != nil {
			errs = append(errs, s.specErr(SpecPrivateKeyGiven, "%s", privateKeyMsg(p, found)))
		}
	}
	return errs, nil
}

func (s *VEXSource) specErr(code SpecCode, format string, args ...any) *SpecError {
	return &SpecError{File: s.file, Line: s.line, Field: s.name, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// checkLocal implements localChecker.
func (s *IssuersSource) checkLocal(ctx context.Context) (SpecErrors, error) {
	found, err := findPrivateKey(s.File)
	switch {
	case err != nil:
		return SpecErrors{s.specErr(SpecSourceNotFound, "%s: %v", s.AsWritten, unwrapPathErr(err))}, nil
	case found != nil:
		return SpecErrors{s.specErr(SpecPrivateKeyGiven, "%s", privateKeyMsg(s.AsWritten, found))}, nil
	}
	return nil, nil
}

func (s *IssuersSource) specErr(code SpecCode, format string, args ...any) *SpecError {
	return &SpecError{File: s.file, Line: s.line, Field: s.name, Code: code, Msg: fmt.Sprintf(format, args...)}
}
