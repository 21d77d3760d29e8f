package scan

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"strings"
)

// inPlaceLayers gives random access to the uncompressed layer tars of an
// image where they lie as is in a file (a docker save archive stores
// them uncompressed): the extractors then read the files they want in
// place instead of a copy in the scratch directory, and the tar reader
// seeks over the rest. It returns nil, false for a layer that must be
// streamed (compressed, a link entry, or an archive it does not
// understand): the caller falls back to v1.Layer.Uncompressed.
type inPlaceLayers func(li int) (*io.SectionReader, bool)

// maxManifest caps manifest.json of a docker archive.
const maxManifest = 16 << 20

// dockerArchiveLayers indexes the docker archive open as f (one pass over
// its tar headers, seeking over the data) and returns layer i of its only
// image as the section of f that holds it. It returns nil when the
// archive is not one it can serve in place; go-containerregistry, which
// opened the image, reports what is wrong with it.
func dockerArchiveLayers(f *os.File, diffIDs int) inPlaceLayers {
	type entry struct{ off, size int64 }
	entries := map[string]entry{}
	links := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil
		}
		name := path.Clean(hdr.Name)
		if _, seen := entries[name]; seen || links[name] {
			continue // the first entry of a name is the one read
		}
		if hdr.Typeflag != tar.TypeReg || isSparse(hdr) {
			links[name] = true
			continue
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil
		}
		entries[name] = entry{off, hdr.Size}
	}
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	m, ok := entries["manifest.json"]
	if !ok || m.size > maxManifest || m.off+m.size > st.Size() {
		return nil
	}
	var manifest []struct{ Layers []string }
	if err := json.NewDecoder(io.NewSectionReader(f, m.off, m.size)).Decode(&manifest); err != nil || len(manifest) != 1 {
		return nil
	}
	layers := manifest[0].Layers
	if len(layers) != diffIDs {
		return nil
	}
	return func(li int) (*io.SectionReader, bool) {
		if li < 0 || li >= len(layers) {
			return nil, false
		}
		e, ok := entries[path.Clean(layers[li])]
		if !ok || e.off+e.size > st.Size() {
			return nil, false
		}
		sr := io.NewSectionReader(f, e.off, e.size)
		head := make([]byte, 4)
		n, _ := sr.ReadAt(head, 0)
		if isCompressed(head[:n]) {
			return nil, false
		}
		return sr, true
	}
}

// isCompressed reports a gzip or zstd stream.
func isCompressed(head []byte) bool {
	return bytes.HasPrefix(head, []byte{0x1f, 0x8b}) || bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd})
}

// isSparse reports a sparse tar entry (old GNU or GNU PAX format): its
// data in the archive is not the file's bytes in order.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}
