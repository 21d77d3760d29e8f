package scan

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/textproto"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	rpmdb "github.com/erikvarga/go-rpmdb/pkg"
	purls "github.com/ferry-dev/ferry/internal/purl"
	_ "modernc.org/sqlite" // the rpmdb.sqlite driver (pure Go, no cgo)
)

// An extractor finds packages in one kind of file. scan has its own small
// extractors instead of osv-scalibr's: every scalibr filesystem extractor
// imports scalibr's extractor/filesystem package, which links net/http
// (through embeddedfs → go-ext4-filesystem → zap), and package scan may
// not link net/http (internal/depcheck). See docs/scan.md.
type extractor interface {
	Name() string
	// Required looks at a path (relative, slash-separated) and its file
	// info only.
	Required(path string, info fs.FileInfo) bool
	// Extract reads the file; in.osRelease holds the target's os-release.
	Extract(ctx context.Context, in *input) ([]Package, error)
}

type input struct {
	path string
	// f reads the file from its start; at reads anywhere in it. Both read
	// the same bytes: a file under the scratch root or the target
	// directory, or a section of a layer tar read in place.
	f    io.Reader
	at   io.ReaderAt
	size int64
	// file names the file on disk for extractors that need one (fileNeeder);
	// it is always set for them.
	file      string
	osRelease map[string]string
	// keep, when set, takes over what at reads from: the caller no longer
	// closes it, and it stays valid until the returned closer is closed.
	// A file under a scratch root stays valid only until the image's
	// inventory ends, which waits for its readers (symbolTables.waitOnDisk);
	// a layer read in place, until its archive is closed, which waits for
	// every reader (symbolTables.wait).
	keep func() io.Closer
}

// fileNeeder is an optional interface of extractors that open the file by
// name (go-rpmdb): theirs are always copied under the scratch root.
type fileNeeder interface{ needsFile() }

// needFile reports whether one of the extractors cand needs a file on disk.
func needFile(exs []extractor, cand []int) bool {
	for _, i := range cand {
		if _, ok := exs[i].(fileNeeder); ok {
			return true
		}
	}
	return false
}

// extractors returns one of each extractor; the Go binary extractor
// reads symbol tables into syms when it is not nil.
func extractors(syms *symbolTables) []extractor {
	return []extractor{goBinary{symbols: syms}, dpkg{}, apk{}, rpm{}, npm{}, pypi{}, maven{},
		yarnLock{}, pnpmLock{}, poetryLock{}, uvLock{}, requirements{}, cargoLock{}, goMod{}}
}

const goBinaryName = "go/binary"

// required returns the indexes of the extractors that want a file.
func required(exs []extractor, p string, info fs.FileInfo) []int {
	var out []int
	for i, e := range exs {
		if e.Required(p, info) {
			out = append(out, i)
		}
	}
	return out
}

// candidate is a file one or more extractors want, present under root
// or, when src is set, read in place.
type candidate struct {
	path  string // relative, slash-separated
	layer string
	exs   []int
	src   *io.SectionReader
}

// runExtractors runs each candidate's extractors on the file under root.
func runExtractors(ctx context.Context, root string, exs []extractor, cands []candidate) ([]Package, []NotEvaluated, error) {
	osr := readOSRelease(root)
	var pkgs []Package
	var notEval []NotEvaluated
	for _, c := range cands {
		for _, i := range c.exs {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			ps, err := extractOne(ctx, root, exs[i], c, osr)
			if err != nil {
				notEval = append(notEval, NotEvaluated{Location: Location{Layer: c.layer, Path: c.path},
					Reason: fmt.Sprintf("%s could not read the file: %v", exs[i].Name(), err), Unreadable: true})
				continue
			}
			pkgs = append(pkgs, ps...)
		}
	}
	return pkgs, notEval, nil
}

func extractOne(ctx context.Context, root string, ex extractor, c candidate, osr map[string]string) ([]Package, error) {
	in := &input{path: c.path, osRelease: osr}
	if c.src != nil {
		in.f, in.at, in.size = io.NewSectionReader(c.src, 0, c.src.Size()), c.src, c.src.Size()
		in.keep = func() io.Closer { return io.NopCloser(nil) }
	} else {
		in.file = filepath.Join(root, filepath.FromSlash(c.path))
		f, err := os.Open(in.file)
		if err != nil {
			return nil, err
		}
		kept := false
		defer func() {
			if !kept {
				f.Close()
			}
		}()
		info, err := f.Stat()
		if err != nil {
			return nil, err
		}
		in.f, in.at, in.size = f, f, info.Size()
		in.keep = func() io.Closer { kept = true; return f }
	}
	ps, err := ex.Extract(ctx, in)
	for i := range ps {
		ps[i].Extractor = ex.Name()
		if ps[i].Location.Path == "" {
			ps[i].Location.Path = c.path
		}
		ps[i].Location.Layer = c.layer
	}
	return ps, err
}

// maxOSRelease caps what readOSRelease reads: os-release is a few hundred
// bytes; a larger file is not one.
const maxOSRelease = 64 << 10

// readOSRelease reads etc/os-release, else usr/lib/os-release, of the
// filesystem at root. Links are resolved inside root only (os.Root): a
// scanned directory whose etc/os-release points at /etc/os-release or
// ../../etc/os-release must not describe the host. Files that are not
// regular or are larger than maxOSRelease are passed over.
func readOSRelease(root string) map[string]string {
	r, err := os.OpenRoot(root)
	if err != nil {
		return map[string]string{}
	}
	defer r.Close()
	for _, p := range osReleasePaths {
		b, ok := readRegular(r, p, maxOSRelease)
		if !ok {
			continue
		}
		m := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok || strings.HasPrefix(k, "#") {
				continue
			}
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			} else {
				v = strings.Trim(v, `"'`)
			}
			m[k] = v
		}
		return m
	}
	return map[string]string{}
}

// readRegular reads name inside r when it is a regular file of at most
// limit bytes.
func readRegular(r *os.Root, name string, limit int64) ([]byte, bool) {
	// Stat first: opening a FIFO would block.
	if fi, err := r.Stat(name); err != nil || !fi.Mode().IsRegular() || fi.Size() > limit {
		return nil, false
	}
	f, err := r.Open(name)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil || int64(len(b)) > limit {
		return nil, false
	}
	return b, true
}

// purl is the canonical package URL of a package (internal/purl): a Go
// module path keeps its slashes.
func purl(typ, ns, name, version string, q map[string]string) string {
	return purls.New(typ, ns, name, version, q, "")
}

// ---- Go binaries ----

// goBinary reads a Go binary's build info (debug/buildinfo): the modules
// it was built from, the Go version (the standard library, "stdlib" in the
// Go vulndb) and GOOS/GOARCH. A replaced module keeps its path and takes
// the replacement's version, as govulncheck does. With symbols set it also
// reads the binary's function names (symbols.go) into it, by path.
type goBinary struct{ symbols *symbolTables }

func (goBinary) Name() string { return goBinaryName }

func (goBinary) Required(_ string, info fs.FileInfo) bool {
	return info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 && info.Size() > 0
}

func (g goBinary) Extract(_ context.Context, in *input) ([]Package, error) {
	head := make([]byte, 4)
	if n, _ := in.at.ReadAt(head, 0); !isExecutable(head[:n]) {
		return nil, nil
	}
	bi, err := buildinfo.Read(in.at)
	if err != nil {
		return nil, nil // not a Go binary, or one without build info
	}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	mk := func(name, version string) Package {
		version = strings.TrimPrefix(version, "v")
		p := Package{Ecosystem: "Go", Name: name, Version: version, GOOS: goos, GOARCH: goarch}
		if version != "" && version != "(devel)" {
			p.PURL = purl("golang", "", name, "v"+version, nil)
		}
		return p
	}
	var out []Package
	if v := goTagToSemver(bi.GoVersion); v != "" {
		out = append(out, mk("stdlib", v))
	} else {
		out = append(out, mk("stdlib", ""))
	}
	if bi.Main.Path != "" {
		out = append(out, mk(bi.Main.Path, bi.Main.Version))
	}
	for _, d := range bi.Deps {
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version
		}
		out = append(out, mk(d.Path, v))
	}
	if g.symbols != nil {
		g.symbols.read(in, bi)
	}
	return out, nil
}

// goTagToSemver turns a Go release tag into the SemVer the Go vulndb uses
// for "stdlib": go1.21.3 -> 1.21.3, go1.20 -> 1.20.0, go1.21rc2 ->
// 1.21.0-rc.2, go1.18beta1 -> 1.18.0-beta.1. Anything else (devel
// toolchains) gives "". This follows golang.org/x/vuln's GoTagToSemver.
func goTagToSemver(tag string) string {
	tag, _, _ = strings.Cut(tag, " ")
	tag = strings.TrimPrefix(tag, "go")
	if tag == "" || !(tag[0] >= '0' && tag[0] <= '9') {
		return ""
	}
	pre := ""
	for _, p := range []string{"beta", "rc"} {
		if i := strings.Index(tag, p); i > 0 {
			pre = "-" + p + "." + tag[i+len(p):]
			tag = tag[:i]
		}
	}
	if i := strings.IndexFunc(tag, func(r rune) bool { return !(r == '.' || (r >= '0' && r <= '9')) }); i >= 0 {
		tag = tag[:i]
	}
	parts := strings.Split(tag, ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	if len(parts) > 3 {
		return ""
	}
	for _, p := range parts {
		if p == "" {
			return ""
		}
	}
	return strings.Join(parts, ".") + pre
}

// ---- dpkg ----

// dpkg reads var/lib/dpkg/status and distroless var/lib/dpkg/status.d/*.
type dpkg struct{}

func (dpkg) Name() string { return "os/dpkg" }

func (dpkg) Required(p string, info fs.FileInfo) bool {
	if !info.Mode().IsRegular() {
		return false
	}
	if p == "var/lib/dpkg/status" {
		return true
	}
	dir, base := path.Split(p)
	return dir == "var/lib/dpkg/status.d/" && !strings.HasSuffix(base, ".md5sums")
}

// distroEcosystemOf maps os-release to the OSV ecosystem of OS packages.
func distroEcosystemOf(osr map[string]string) string {
	id, ver := strings.ToLower(osr["ID"]), osr["VERSION_ID"]
	switch id {
	case "debian":
		if ver == "" {
			return "Debian"
		}
		major, _, _ := strings.Cut(ver, ".")
		return "Debian:" + major
	case "ubuntu":
		if ver == "" {
			return "Ubuntu"
		}
		return "Ubuntu:" + ver
	case "alpine":
		parts := strings.Split(ver, ".")
		if len(parts) >= 2 {
			return "Alpine:v" + parts[0] + "." + parts[1]
		}
		return "Alpine"
	case "wolfi":
		return "Wolfi"
	case "chainguard":
		return "Chainguard"
	case "rhel":
		return "Red Hat"
	case "rocky", "almalinux":
		// OSV names their releases by major version ("AlmaLinux:9",
		// "Rocky Linux:8"), as osv-scanner does: AlmaLinux 8 records
		// must not match AlmaLinux 9 packages, nor be missed.
		name := map[string]string{"rocky": "Rocky Linux", "almalinux": "AlmaLinux"}[id]
		if ver == "" {
			return name
		}
		major, _, _ := strings.Cut(ver, ".")
		return name + ":" + major
	case "sles":
		return "SUSE"
	}
	if strings.HasPrefix(id, "opensuse") {
		return "openSUSE"
	}
	return ""
}

func (dpkg) Extract(_ context.Context, in *input) ([]Package, error) {
	eco := distroEcosystemOf(in.osRelease)
	ns := strings.ToLower(in.osRelease["ID"])
	distroQ := ""
	if ns != "" && in.osRelease["VERSION_ID"] != "" {
		distroQ = ns + "-" + in.osRelease["VERSION_ID"]
	}
	statusD := strings.HasPrefix(in.path, "var/lib/dpkg/status.d/")
	var out []Package
	err := stanzas(in.f, dpkgKeys[:], func(v []string) {
		name, ver, status, src, arch := v[0], v[1], v[2], v[3], v[4]
		if name == "" || ver == "" {
			return
		}
		if !statusD && !strings.HasSuffix(status, " installed") {
			return
		}
		src = strings.TrimSpace(src)
		if i := strings.IndexByte(src, ' '); i >= 0 {
			src = src[:i] // "openssl (3.0.11-1)"
		}
		p := Package{Ecosystem: eco, Name: name, Version: ver}
		if src != "" && src != name {
			p.SourceName = src
		}
		if ns != "" {
			q := map[string]string{"arch": arch, "distro": distroQ}
			if p.SourceName != "" {
				q["upstream"] = p.SourceName
			}
			p.PURL = purl("deb", ns, name, ver, q)
		}
		out = append(out, p)
	})
	return out, err
}

// dpkgKeys are the fields of a dpkg status stanza that Extract reads, in
// the order stanzas hands their values over.
var dpkgKeys = [...]string{"Package", "Version", "Status", "Source", "Architecture"}

// stanzas reads the stanzas of a Debian control file (dpkg's status
// database): RFC 822 style fields, stanzas separated by blank lines. For
// each stanza with at least one field it calls fn with the values of keys
// ("" for a missing one), as net/textproto reads a MIME header: a key
// matches case-insensitively and its first occurrence counts; a value has
// its surrounding blanks trimmed and each continuation line (one starting
// with a space or a tab) appended after one space, trimmed too. Only the
// values of keys are kept: a status database is mostly descriptions and
// file lists, and a large one holds thousands of stanzas. vals is reused
// between calls. A line that is neither a field, a continuation nor blank
// is an error naming it, and so is a read error (a database that fails
// part-way must not pass for one that ends there).
func stanzas(r io.Reader, keys []string, fn func(vals []string)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	vals := make([]string, len(keys))
	found := make([]bool, len(keys))
	var long []byte
	fields := 0 // of the current stanza
	cur := -1   // the key the last field set, which continuation lines extend
	lineNo := 0
	end := func() {
		if fields > 0 {
			fn(vals)
		}
		clear(vals)
		clear(found)
		fields, cur = 0, -1
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			lineNo++
			l := line
			if l[len(l)-1] == '\n' {
				l = bytes.TrimSuffix(l[:len(l)-1], []byte("\r"))
			}
			if fields == 0 {
				l = bytes.TrimLeft(l, "\r") // as blank as an empty line between stanzas
			}
			switch {
			case len(l) == 0:
				end()
			case l[0] == ' ' || l[0] == '\t':
				if fields == 0 {
					return fmt.Errorf("line %d: a continuation line %q starts a stanza", lineNo, clip(l))
				}
				c := trimBlanks(l)
				if !isFieldValue(c) {
					return fmt.Errorf("line %d: %q holds a control character", lineNo, clip(l))
				}
				if cur >= 0 {
					if vals[cur] == "" {
						vals[cur] = string(c)
					} else {
						vals[cur] += " " + string(c)
					}
				}
			default:
				k, v, ok := bytes.Cut(l, []byte(":"))
				if !ok || !isFieldName(k) {
					return fmt.Errorf("line %d: %q is not a field (name: value)", lineNo, clip(l))
				}
				v = trimBlanks(v)
				if !isFieldValue(v) {
					return fmt.Errorf("line %d: %q holds a control character", lineNo, clip(l))
				}
				fields++
				cur = -1
				for i, want := range keys {
					if !found[i] && len(k) == len(want) && strings.EqualFold(string(k), want) {
						vals[i], found[i], cur = string(v), true, i
						break
					}
				}
			}
		}
		if err == io.EOF {
			end()
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// trimBlanks trims spaces and tabs around b.
func trimBlanks(b []byte) []byte {
	return bytes.Trim(b, " \t")
}

// isFieldName reports whether k is a field name as net/textproto accepts
// it: an HTTP token, spaces let pass (such a name matches no key).
func isFieldName(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if c == ' ' {
			continue
		}
		if c < ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// isFieldValue reports whether v is a field value as net/textproto
// accepts it: no control character but the tab.
func isFieldValue(v []byte) bool {
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// clip shortens a line quoted in an error.
func clip(l []byte) []byte {
	if len(l) > 80 {
		return l[:80]
	}
	return l
}

// ---- apk ----

// apk reads lib/apk/db/installed.
type apk struct{}

func (apk) Name() string { return "os/apk" }

func (apk) Required(p string, info fs.FileInfo) bool {
	return p == "lib/apk/db/installed" && info.Mode().IsRegular()
}

func (apk) Extract(_ context.Context, in *input) ([]Package, error) {
	eco := distroEcosystemOf(in.osRelease)
	ns := strings.ToLower(in.osRelease["ID"])
	var out []Package
	var name, ver, origin, arch string
	flush := func() {
		if name != "" && ver != "" {
			p := Package{Ecosystem: eco, Name: name, Version: ver}
			if origin != "" && origin != name {
				p.SourceName = origin
			}
			if ns != "" {
				p.PURL = purl("apk", ns, name, ver, map[string]string{"arch": arch, "distro": ns + "-" + in.osRelease["VERSION_ID"]})
			}
			out = append(out, p)
		}
		name, ver, origin, arch = "", "", "", ""
	}
	sc := bufio.NewScanner(in.f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		switch line[0] {
		case 'P':
			name = line[2:]
		case 'V':
			ver = line[2:]
		case 'o':
			origin = line[2:]
		case 'A':
			arch = line[2:]
		}
	}
	flush()
	return out, sc.Err()
}

// ---- rpm ----

// rpm reads the rpm database (Berkeley DB, NDB or SQLite) with go-rpmdb
// (pure Go, the library scalibr uses).
type rpm struct{}

var _ fileNeeder = rpm{}

func (rpm) Name() string { return "os/rpm" }

func (rpm) needsFile() {}

func (rpm) Required(p string, info fs.FileInfo) bool {
	if !info.Mode().IsRegular() {
		return false
	}
	dir, base := path.Split(p)
	return (dir == "var/lib/rpm/" || dir == "usr/lib/sysimage/rpm/") && (base == "Packages" || base == "Packages.db" || base == "rpmdb.sqlite")
}

func (rpm) Extract(ctx context.Context, in *input) ([]Package, error) {
	if in.file == "" {
		return nil, errors.New("the rpm database is not a file on disk")
	}
	db, err := rpmdb.Open(in.file)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	pkgs, err := db.ListPackagesWithContext(ctx)
	if err != nil {
		return nil, err
	}
	eco := distroEcosystemOf(in.osRelease)
	ns := strings.ToLower(in.osRelease["ID"])
	var out []Package
	for _, p := range pkgs {
		if p.Name == "gpg-pubkey" {
			continue
		}
		ver := p.Version + "-" + p.Release
		q := map[string]string{"arch": p.Arch, "distro": ns + "-" + in.osRelease["VERSION_ID"]}
		if p.Epoch != nil && *p.Epoch > 0 {
			q["epoch"] = strconv.Itoa(*p.Epoch)
			ver = strconv.Itoa(*p.Epoch) + ":" + ver
		}
		q2 := Package{Ecosystem: eco, Name: p.Name, Version: ver}
		if src := strings.TrimSuffix(p.SourceRpm, ".src.rpm"); src != "" && src != "(none)" {
			// name-version-release: the name is what is left after the last two dashes
			if i := strings.LastIndex(src, "-"); i > 0 {
				if j := strings.LastIndex(src[:i], "-"); j > 0 && src[:j] != p.Name {
					q2.SourceName = src[:j]
				}
			}
		}
		if ns != "" {
			q2.PURL = purl("rpm", ns, p.Name, p.Version+"-"+p.Release, q)
		}
		out = append(out, q2)
	}
	return out, nil
}

// ---- PyPI ----

// pypi reads installed distributions: *.dist-info/METADATA,
// *.egg-info/PKG-INFO and *.egg-info files.
type pypi struct{}

func (pypi) Name() string { return "python/metadata" }

func (pypi) Required(p string, info fs.FileInfo) bool {
	if !info.Mode().IsRegular() {
		return false
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	return (base == "METADATA" && strings.HasSuffix(dir, ".dist-info")) ||
		(base == "PKG-INFO" && strings.HasSuffix(dir, ".egg-info")) ||
		strings.HasSuffix(base, ".egg-info")
}

func (pypi) Extract(_ context.Context, in *input) ([]Package, error) {
	h, err := textproto.NewReader(bufio.NewReader(io.LimitReader(in.f, 16<<20))).ReadMIMEHeader()
	if err != nil && err != io.EOF && len(h) == 0 {
		return nil, err
	}
	name, ver := h.Get("Name"), h.Get("Version")
	if name == "" || ver == "" {
		return nil, nil
	}
	return []Package{{Ecosystem: "PyPI", Name: name, Version: ver, PURL: purl("pypi", "", normalizeName("PyPI", name), ver, nil)}}, nil
}

// ---- Maven ----

// maven reads META-INF/maven/*/*/pom.properties inside jar, war and ear
// files (one level: jars nested in a war are not opened).
type maven struct{}

func (maven) Name() string { return "java/archive" }

func (maven) Required(p string, info fs.FileInfo) bool {
	if !info.Mode().IsRegular() {
		return false
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".jar", ".war", ".ear":
		return true
	}
	return false
}

func (maven) Extract(_ context.Context, in *input) ([]Package, error) {
	zr, err := zip.NewReader(in.at, in.size)
	if err != nil {
		return nil, err
	}
	var out []Package
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, "META-INF/maven/") || !strings.HasSuffix(zf.Name, "/pom.properties") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
		rc.Close()
		if err != nil {
			return nil, err
		}
		props := map[string]string{}
		for _, line := range strings.Split(string(bytes.ReplaceAll(b, []byte("\r"), nil)), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
				props[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		g, a, v := props["groupId"], props["artifactId"], props["version"]
		if g == "" || a == "" || v == "" {
			continue
		}
		out = append(out, Package{Ecosystem: "Maven", Name: g + ":" + a, Version: v, PURL: purl("maven", g, a, v, nil),
			Location: Location{Path: in.path + "/" + zf.Name}})
	}
	return out, nil
}
