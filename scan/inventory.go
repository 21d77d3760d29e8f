package scan

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// InventoryResult is the package inventory of a target.
type InventoryResult struct {
	Target       TargetInfo
	Packages     []Package
	NotEvaluated []NotEvaluated
	// symbols holds the symbol tables of the Go binaries, by
	// Location.Path, when Options.Evidence asked for them.
	symbols *symbolTables
}

// maxFile caps one file unpacked from an image for an extractor.
const maxFile = 2 << 30

// Inventory lists the packages of a target.
func Inventory(ctx context.Context, t Target, opts Options) (*InventoryResult, error) {
	t, err := ResolvePath(t)
	if err != nil {
		return nil, err
	}
	res := &InventoryResult{Target: TargetInfo{Ref: t.Ref, Kind: t.Kind}}
	if opts.Evidence && t.Kind != KindSBOM {
		res.symbols = newSymbolTables()
	}
	switch t.Kind {
	case KindSBOM:
		pkgs, ne, err := sbomInventory(t.Path)
		if err != nil {
			return nil, err
		}
		res.Packages, res.NotEvaluated = pkgs, ne
		return res, nil
	case KindDir:
		pkgs, ne, err := dirInventory(ctx, t.Path, res.symbols)
		if err != nil {
			return nil, err
		}
		res.Packages, res.NotEvaluated = pkgs, ne
		return res, nil
	case KindFile:
		pkgs, ne, err := fileInventory(ctx, t, res.symbols)
		if err != nil {
			return nil, err
		}
		res.Packages, res.NotEvaluated = pkgs, ne
		return res, nil
	}
	img, err := openImage(ctx, t, opts)
	if err != nil {
		return nil, err
	}
	// A docker archive has no manifest digest of its own (go-containerregistry
	// would compute one by recompressing every layer): its identity is the
	// config digest, the "image id". Other images are named by manifest.
	var d v1.Hash
	if t.Kind == KindDockerArchive {
		d, err = img.ConfigName()
	} else {
		d, err = img.Digest()
	}
	if err != nil {
		return nil, fmt.Errorf("image digest: %w", err)
	}
	res.Target.Digest = d.String()
	var inPlace inPlaceLayers
	if t.Kind == KindDockerArchive {
		// docker save writes the layers uncompressed: read them in place.
		f, err := os.Open(t.Path)
		if err != nil {
			return nil, fmt.Errorf("reading docker archive %s: %w", t.Path, err)
		}
		// The symbol tables of binaries read in place go on being read
		// from f after the inventory returns, overlapping the matching
		// (which waits for a table where it needs its evidence): f is
		// closed when the last of them is done.
		defer func() {
			if res.symbols == nil {
				f.Close()
				return
			}
			go func() {
				res.symbols.wait()
				f.Close()
			}()
		}()
		if cfg, err := img.ConfigFile(); err == nil {
			inPlace = dockerArchiveLayers(f, len(cfg.RootFS.DiffIDs))
		}
	}
	pkgs, ne, err := imageInventory(ctx, img, opts.TempDir, inPlace, res.symbols, opts.Progress)
	if err != nil {
		return nil, err
	}
	res.Packages, res.NotEvaluated = pkgs, ne
	return res, nil
}

func openImage(ctx context.Context, t Target, opts Options) (v1.Image, error) {
	switch t.Kind {
	case KindStoreImage:
		if opts.Images == nil {
			return nil, ErrNoImageSource
		}
		return opts.Images.Image(ctx, t.Digest)
	case KindDockerArchive:
		img, err := tarball.ImageFromPath(t.Path, nil)
		if err != nil {
			return nil, fmt.Errorf("reading docker archive %s: %w", t.Path, err)
		}
		return img, nil
	case KindOCI:
		return layoutImage(t)
	}
	return nil, &TargetError{Target: t.Ref, Reason: "not an image"}
}

// layoutImage picks the image of an OCI layout: the one named by digest
// (searched through nested indexes), or the only image there is.
func layoutImage(t Target) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(t.Path)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", t.Path, err)
	}
	var found []v1.Image
	var digests []string
	var walk func(ix v1.ImageIndex, depth int) error
	walk = func(ix v1.ImageIndex, depth int) error {
		if depth > 4 {
			return nil
		}
		m, err := ix.IndexManifest()
		if err != nil {
			return err
		}
		for _, desc := range m.Manifests {
			switch {
			case desc.MediaType.IsIndex():
				if t.Digest != "" && desc.Digest.String() == t.Digest {
					return fmt.Errorf("%s is an index: name one of its images", t.Digest)
				}
				child, err := ix.ImageIndex(desc.Digest)
				if err != nil {
					return err
				}
				if err := walk(child, depth+1); err != nil {
					return err
				}
			case desc.MediaType.IsImage():
				if t.Digest != "" && desc.Digest.String() != t.Digest {
					continue
				}
				if slices.Contains(digests, desc.Digest.String()) {
					continue
				}
				img, err := ix.Image(desc.Digest)
				if err != nil {
					return err
				}
				found = append(found, img)
				digests = append(digests, desc.Digest.String())
			}
		}
		return nil
	}
	if err := walk(idx, 0); err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", t.Path, err)
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0 && t.Digest != "":
		return nil, fmt.Errorf("OCI layout %s has no image %s", t.Path, t.Digest)
	case len(found) == 0:
		return nil, fmt.Errorf("OCI layout %s holds no image", t.Path)
	}
	slices.Sort(digests)
	return nil, fmt.Errorf("%w (%s)", ErrAmbiguousImage, strings.Join(digests, ", "))
}

// node is one path of the image filesystem being assembled.
type node struct {
	layer  int
	dir    bool
	cand   []int             // extractors that want it
	src    *io.SectionReader // the file in place in its layer; nil: under root
	onDisk bool              // written under root
}

var osReleasePaths = []string{"etc/os-release", "usr/lib/os-release"}

// imageInventory applies the layers in order into a scratch directory —
// only the files some extractor wants, plus os-release — honouring
// whiteouts, then runs the extractors there. Files of the layers inPlace
// serves are not copied: the extractors read them where they lie. Each
// package's location names the layer that last wrote its file.
func imageInventory(ctx context.Context, img v1.Image, tmp string, inPlace inPlaceLayers, syms *symbolTables, progress func(done, layers int)) ([]Package, []NotEvaluated, error) {
	if progress == nil {
		progress = func(int, int) {}
	}
	exs := extractors(syms)
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("image layers: %w", err)
	}
	// Layers are named by diff id (the sha256 of the uncompressed tar, as
	// the config lists them): the same in an OCI layout and a docker
	// archive of the image, and free to read.
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("image config: %w", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return nil, nil, fmt.Errorf("image config lists %d diff ids for %d layers", len(cfg.RootFS.DiffIDs), len(layers))
	}
	root, err := os.MkdirTemp(tmp, "ferry-scan-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(root)
	// The symbol tables read in the background from files of root must
	// be done before root goes; those read from layers in place may go
	// on (the caller closes what they read when they are done).
	defer syms.waitOnDisk()
	tree := map[string]*node{}
	layerIDs := make([]string, len(layers))
	var notEval []NotEvaluated
	goIdx := slices.IndexFunc(exs, func(e extractor) bool { return e.Name() == goBinaryName })
	for li, l := range layers {
		progress(li, len(layers))
		d := cfg.RootFS.DiffIDs[li]
		layerIDs[li] = d.String()
		var src *io.SectionReader
		if inPlace != nil {
			src, _ = inPlace(li)
		}
		ne, err := applyLayer(ctx, l, src, li, d.String(), root, tree, exs, goIdx)
		if err != nil {
			return nil, nil, fmt.Errorf("layer %d (%s): %w", li, d, err)
		}
		notEval = append(notEval, ne...)
	}
	progress(len(layers), len(layers))
	var cands []candidate
	for p, n := range tree {
		if len(n.cand) > 0 {
			cands = append(cands, candidate{path: p, layer: layerIDs[n.layer], exs: n.cand, src: n.src})
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int { return strings.Compare(a.path, b.path) })
	pkgs, ne, err := runExtractors(ctx, root, exs, cands)
	if err != nil {
		return nil, nil, err
	}
	return pkgs, append(notEval, ne...), nil
}

// cleanName makes a tar entry name relative and clean; ok is false for
// names that would leave the root.
func cleanName(name string) (string, bool) {
	p := path.Clean("/" + strings.TrimPrefix(name, "./"))
	if strings.Contains(name, "..") {
		for _, seg := range strings.Split(name, "/") {
			if seg == ".." {
				return "", false
			}
		}
	}
	p = strings.TrimPrefix(p, "/")
	return p, p != "" && p != "."
}

// removeTree drops p and everything under it (whose layer is below
// before, when before >= 0) from the tree and the scratch directory.
func removeTree(tree map[string]*node, root, p string, before int, self bool) {
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	for k, n := range tree {
		if (self && k == p) || strings.HasPrefix(k, prefix) {
			if before >= 0 && n.layer >= before {
				continue
			}
			if n.onDisk {
				os.Remove(filepath.Join(root, filepath.FromSlash(k)))
			}
			delete(tree, k)
		}
	}
}

// applyLayer reads layer l, from src when it is given (the uncompressed
// tar in place: the wanted files are not copied unless an extractor needs
// a file on disk), else from l.Uncompressed.
func applyLayer(ctx context.Context, l v1.Layer, src *io.SectionReader, li int, layerID, root string, tree map[string]*node, exs []extractor, goIdx int) ([]NotEvaluated, error) {
	var tr *tar.Reader
	if src != nil {
		tr = tar.NewReader(src)
	} else {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		tr = tar.NewReader(rc)
	}
	var notEval []NotEvaluated
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return notEval, nil
		}
		if err != nil {
			return nil, err
		}
		name, ok := cleanName(hdr.Name)
		if !ok {
			if strings.Trim(hdr.Name, "./") == "" {
				continue
			}
			return nil, fmt.Errorf("%w: %q", ErrUnsafePath, hdr.Name)
		}
		dir, base := path.Dir(name), path.Base(name)
		if dir == "." {
			dir = ""
		}
		if base == ".wh..wh..opq" {
			// Opaque directory: hide what lower layers had in it.
			removeTree(tree, root, dir, li, false)
			continue
		}
		if strings.HasPrefix(base, ".wh.") {
			removeTree(tree, root, path.Join(dir, strings.TrimPrefix(base, ".wh.")), -1, true)
			continue
		}
		if old, ok := tree[name]; ok && (!old.dir || hdr.Typeflag != tar.TypeDir) {
			removeTree(tree, root, name, -1, true)
		}
		n := &node{layer: li, dir: hdr.Typeflag == tar.TypeDir}
		tree[name] = n
		if hdr.Typeflag != tar.TypeReg {
			// Symlinks and hard links are not followed: the file they name
			// is scanned where it lies.
			continue
		}
		info := hdr.FileInfo()
		n.cand = required(exs, name, info)
		want := len(n.cand) > 0 || slices.Contains(osReleasePaths, name)
		if !want {
			continue
		}
		if hdr.Size > maxFile {
			n.cand = nil
			notEval = append(notEval, NotEvaluated{Location: Location{Layer: layerID, Path: name}, Reason: fmt.Sprintf("file of %d bytes exceeds the %d byte limit", hdr.Size, int64(maxFile))})
			continue
		}
		if src != nil && len(n.cand) > 0 && !isSparse(hdr) && !needFile(exs, n.cand) && !slices.Contains(osReleasePaths, name) {
			// The tar reader stops at the start of the entry's data.
			off, err := src.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			if off+hdr.Size > src.Size() {
				return nil, fmt.Errorf("%s: %w", name, io.ErrUnexpectedEOF)
			}
			f := io.NewSectionReader(src, off, hdr.Size)
			if len(n.cand) == 1 && n.cand[0] == goIdx {
				head := make([]byte, 4)
				k, _ := f.ReadAt(head, 0)
				if !isExecutable(head[:k]) {
					n.cand = nil
					continue
				}
			}
			n.src = f
			continue
		}
		var r io.Reader = tr
		if len(n.cand) == 1 && n.cand[0] == goIdx {
			// Only the Go binary extractor wants it (it wants every
			// executable): skip files that are not executables.
			head := make([]byte, 4)
			k, _ := io.ReadFull(tr, head)
			head = head[:k]
			if !isExecutable(head) {
				n.cand = nil
				continue
			}
			r = io.MultiReader(bytes.NewReader(head), tr)
		}
		if err := writeScratch(root, name, r, hdr.Size); err != nil {
			return nil, fmt.Errorf("unpacking %s: %w", name, err)
		}
		n.onDisk = true
	}
}

func isExecutable(head []byte) bool {
	for _, m := range [][]byte{{0x7f, 'E', 'L', 'F'}, {'M', 'Z'}, {0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}} {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}

func writeScratch(root, name string, r io.Reader, size int64) error {
	full := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		// a file of a lower layer may stand where a directory is needed
		return err
	}
	f, err := os.OpenFile(full, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.LimitReader(r, size)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// dirInventory walks a root filesystem directory. Symlinks are not
// followed. A directory or file the walk cannot read is reported as not
// evaluated, never passed over in silence: what it holds was not scanned.
func dirInventory(ctx context.Context, dir string, syms *symbolTables) ([]Package, []NotEvaluated, error) {
	exs := extractors(syms)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		return nil, nil, &TargetError{Target: "dir:" + dir, Reason: "not a directory"}
	}
	w := &dirWalk{ctx: ctx, dir: dir, exs: exs}
	if err := filepath.WalkDir(dir, w.visit); err != nil {
		return nil, nil, err
	}
	pkgs, notEval, err := runExtractors(ctx, dir, exs, w.cands)
	if err != nil {
		return nil, nil, err
	}
	return pkgs, append(w.notEval, notEval...), nil
}

// fileInventory scans one file with the extractors that want it by its
// name (a lockfile, a .jar) or by its first bytes (a Go binary, executable
// or not). A file no extractor knows is an error naming what scan reads,
// rather than an empty, clean-looking report.
func fileInventory(ctx context.Context, t Target, syms *symbolTables) ([]Package, []NotEvaluated, error) {
	info, err := os.Stat(t.Path)
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, &TargetError{Target: t.Ref, Reason: "not a regular file"}
	}
	exs := extractors(syms)
	dir, base := filepath.Split(t.Path)
	cand := required(exs, base, info)
	if !slices.Contains(cand, 0) && startsExecutable(t.Path) {
		cand = append([]int{0}, cand...) // exs[0] is the Go binary extractor
	}
	if len(cand) == 0 {
		return nil, nil, &TargetError{Target: t.Ref, Reason: "not a file scan reads: want a Go binary, a lockfile (package-lock.json, npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml, poetry.lock, uv.lock, requirements*.txt, Cargo.lock, go.mod), a .jar/.war/.ear, an SBOM (CycloneDX or SPDX JSON), a docker save tarball, an OCI layout or a directory"}
	}
	pkgs, ne, err := runExtractors(ctx, cmp.Or(dir, "."), exs, []candidate{{path: base, exs: cand}})
	if err != nil {
		return nil, nil, err
	}
	if len(pkgs) == 0 && len(ne) == 0 && slices.Equal(cand, []int{0}) {
		ne = append(ne, NotEvaluated{Location: Location{Path: base}, Reason: "an executable without Go build info: its packages are unknown"})
	}
	return pkgs, ne, nil
}

// startsExecutable reports whether the file starts with ELF, PE or Mach-O
// magic.
func startsExecutable(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return isExecutable(head[:n])
}

// dirWalk collects the candidates of a directory walk and what it could
// not read.
type dirWalk struct {
	ctx     context.Context
	dir     string
	exs     []extractor
	cands   []candidate
	notEval []NotEvaluated
}

// visit is the filepath.WalkDir callback.
func (w *dirWalk) visit(p string, d fs.DirEntry, err error) error {
	rel, rerr := filepath.Rel(w.dir, p)
	if rerr != nil {
		return rerr
	}
	rel = filepath.ToSlash(rel)
	if err != nil {
		if p == w.dir {
			return err // the target itself: nothing was scanned
		}
		// WalkDir reports an unreadable directory (or an entry gone
		// meanwhile) here and skips it; say so.
		what := "file"
		if d != nil && d.IsDir() {
			what = "directory"
		}
		w.notEval = append(w.notEval, NotEvaluated{Location: Location{Path: rel},
			Reason: fmt.Sprintf("%s could not be read, so it was not scanned: %v", what, err)})
		return nil
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if !d.Type().IsRegular() {
		return nil
	}
	info, err := d.Info()
	if err != nil {
		w.notEval = append(w.notEval, NotEvaluated{Location: Location{Path: rel},
			Reason: fmt.Sprintf("file could not be read, so it was not scanned: %v", err)})
		return nil
	}
	if ex := required(w.exs, rel, info); len(ex) > 0 {
		w.cands = append(w.cands, candidate{path: rel, exs: ex})
	}
	return nil
}
