package kit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/internal/atomicfile"
)

// PartsResult describes a kit built in parts.
type PartsResult struct {
	*BuildResult
	// Index is the signed part index's payload, IndexPath where it is.
	Index     *bundle.PartIndex
	IndexPath string
	// Paths are the parts' paths, in order.
	Paths []string
}

// BuildParts builds the kit as Build does and writes it in parts of
// partSize bytes, path.001, path.002 …, with the part index signed by
// opts.Signers at path.parts.json (docs/kit-format.md, "Parts"). The kit
// is streamed into the parts: nothing of its size is held in memory or
// written whole. The parts are temporary files until the kit is written
// and the index signed: a build that fails before leaves no part and no
// index behind (earlier files at those paths stay as they were). Then the
// parts are renamed into place and the index is written last; parts of an
// earlier, longer build at path are removed.
func BuildParts(ctx context.Context, path string, partSize int64, spec *Spec, opts BuildOptions) (*PartsResult, error) {
	if partSize < 1 {
		return nil, fmt.Errorf("part size %d: must be at least one byte", partSize)
	}
	var files []*atomicfile.File
	defer func() {
		for _, f := range files {
			f.Abort()
		}
	}()
	// Each part is a temporary file of the output directory until all are
	// written and the index is signed.
	pw := bundle.NewPartWriter(partSize, func(n int) (io.WriteCloser, error) {
		f, err := atomicfile.Create(bundle.PartName(path, n), 0o644)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		return nopCloser{f}, nil
	})
	res, err := Build(ctx, pw, spec, opts)
	if err != nil {
		return nil, err
	}
	if err := pw.Close(); err != nil {
		return nil, err
	}
	parts := pw.Parts()
	if len(parts) == 0 {
		return nil, errors.New("the kit is empty")
	}
	idx := &bundle.PartIndex{
		Schema: bundle.PartIndexSchema, Kit: filepath.Base(path),
		Name: res.Info.Name, Channel: res.Info.Channel, Version: res.Info.Version,
		TargetsSHA256: res.TargetsSHA256, Size: pw.Size(), SHA256: pw.SHA256(),
		PartSize: partSize, Parts: parts, Roots: opts.Roots,
	}
	signed, err := bundle.SignPartIndex(idx, opts.Signers)
	if err != nil {
		return nil, err
	}
	out := &PartsResult{BuildResult: res, Index: idx, IndexPath: path + bundle.PartIndexSuffix}
	// An index of an earlier build goes first: parts without an index are
	// refused as such, new parts under an old index would be named
	// corrupt one by one.
	if err := os.Remove(out.IndexPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for i, f := range files {
		name := bundle.PartName(path, i+1)
		if err := f.Commit(); err != nil {
			return nil, err
		}
		out.Paths = append(out.Paths, name)
	}
	files = nil
	// The index goes last: a reader that finds it finds every part.
	if err := atomicfile.WriteFile(out.IndexPath, signed, 0o644); err != nil {
		return nil, err
	}
	for n := len(parts) + 1; n <= bundle.MaxParts; n++ {
		stale := bundle.PartName(path, n)
		if err := os.Remove(stale); err != nil {
			break
		}
	}
	return out, nil
}

// nopCloser hides Close: the parts are committed or aborted together.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
