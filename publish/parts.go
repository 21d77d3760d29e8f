package publish

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ferry-dev/ferry/bundle"
)

// openKit opens the kit's bytes: the file, or the parts in order as one
// stream (no reassembled copy; the registry checks the layer's digest and
// every importer verifies the kit).
func openKit(k Kit) (io.ReadCloser, error) {
	if k.Parts == nil {
		return os.Open(k.Path)
	}
	if errs := k.Parts.Check(); len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", k.Path, errs[0])
	}
	return k.Parts.Reader(true), nil
}

// readPartIndex reads the part index beside the part at path. Its
// signature is not checked here: publish trusts no byte of a kit, and
// every importer verifies the kit.
func readPartIndex(path string) (*bundle.PartSet, error) {
	name, _, _ := bundle.SplitPartPath(path)
	set := &bundle.PartSet{Kit: name}
	data, err := os.ReadFile(set.IndexPath())
	if err != nil {
		return nil, err
	}
	if _, set.Index, err = bundle.ParsePartIndex(filepath.Base(set.IndexPath()), data); err != nil {
		return nil, err
	}
	return set, nil
}
