package kit

import (
	"context"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/vex"
	"go.yaml.in/yaml/v3"
)

func init() {
	sourceKinds["vex"] = parseVEXSources
}

// VEXSource is one entry of kit.yaml's vex: OpenVEX or CSAF documents from
// a directory, a file or a URL. Every document is parsed and must be valid;
// it is carried exactly as fetched, at vex/<name>/<sha256>.json.
type VEXSource struct {
	name     string
	format   vex.Format
	location location
	line     int
	file     string
}

var _ Source = (*VEXSource)(nil)

// Kind implements Source.
func (s *VEXSource) Kind() string { return "vex" }

// Name implements Source.
func (s *VEXSource) Name() string { return s.name }

func parseVEXSources(p *parser, key, v *yaml.Node) []Source {
	if v.Kind != yaml.SequenceNode {
		p.add(v, "vex", SpecInvalidYAML, "vex is a list of {name, openvex|csaf: {dir|file|url}} or {name, oci: {images, cosign, tufRoot}}")
		return nil
	}
	var out []Source
	for i, item := range v.Content {
		field := fmt.Sprintf("vex[%d]", i)
		m, ok := p.mapping(item, field, "name", "openvex", "csaf", "oci")
		if !ok {
			continue
		}
		s := &VEXSource{line: item.Line, file: p.file}
		s.name = p.sourceName(m, item, field)
		if n, ok := m["oci"]; ok {
			if m["openvex"] != nil || m["csaf"] != nil {
				p.add(item, field, SpecMissingSourceKind, "a vex entry needs exactly one of openvex, csaf, oci")
				continue
			}
			if src := p.parseOCIVEX(s.name, n, item, field+".oci"); src != nil {
				out = append(out, src)
			}
			continue
		}
		var formats []string
		for _, f := range []string{"openvex", "csaf"} {
			if _, ok := m[f]; ok {
				formats = append(formats, f)
			}
		}
		if len(formats) != 1 {
			p.add(item, field, SpecMissingSourceKind, "a vex entry needs exactly one of openvex, csaf (got %v)", formats)
			continue
		}
		s.format = vex.Format(formats[0])
		loc, ok := p.location(m[formats[0]], field+"."+formats[0], []string{"dir", "file", "url", "insecure"})
		if !ok {
			continue
		}
		s.location = loc
		out = append(out, s)
	}
	return out
}

// Fetch implements Source: it reads every document (every *.json file of a
// directory, recursively and in lexical order), parses it, and carries the
// bytes it parsed, named by their sha256. A document that does not parse
// fails the source, naming the file and the reason. Identical documents are
// carried once.
func (s *VEXSource) Fetch(ctx context.Context, env *Env) (*Fetched, error) {
	prov := Provenance{Name: s.name, Kind: s.Kind() + "/" + string(s.format), From: s.location.String(), Counts: map[string]int{"documents": 0, "statements": 0}}
	var paths []string // local files to read, in order
	switch {
	case s.location.Dir != "":
		err := filepath.WalkDir(s.location.Dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rel, _ := filepath.Rel(s.location.Dir, p)
			switch {
			case d.IsDir():
				return nil
			case !d.Type().IsRegular():
				return fmt.Errorf("%s is a %s; only regular files are read", filepath.Join(s.location.Dir, rel), fileKind(d.Type()))
			case !strings.HasSuffix(p, ".json"):
				prov.Skipped = append(prov.Skipped, Skipped{Item: filepath.ToSlash(rel), Reason: "not a .json file"})
				return nil
			}
			paths = append(paths, p)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("%s holds no .json documents", s.location.Dir)
		}
	default:
		path, digest, fetched, err := localFile(ctx, env, s.location)
		if err != nil {
			return nil, err
		}
		prov.FetchedAt, prov.Digest = fetched, "sha256:"+digest
		paths = append(paths, path)
	}
	media := format.MediaOpenVEX
	if s.format == vex.FormatCSAF {
		media = format.MediaCSAF
	}
	carried := map[string]string{} // digest → the file it came from
	var files []bundle.File
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := p
		if s.location.URL != "" {
			name = s.location.URL
		}
		data, err := readCapped(p, vex.MaxDocumentSize)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if found := privateKeyIn(data); found != nil {
			return nil, s.specErr(SpecPrivateKeyGiven, "%s", privateKeyMsg(name, found))
		}
		doc, err := vex.Parse(s.format, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		hexDigest := strings.TrimPrefix(doc.Digest, "sha256:")
		if first, dup := carried[hexDigest]; dup {
			prov.Skipped = append(prov.Skipped, Skipped{Item: name, ID: doc.ID, Reason: "same bytes as " + first})
			continue
		}
		carried[hexDigest] = name
		// Carry the very bytes that were parsed: a copy in the build's
		// private temp dir, so a source file changed after parsing cannot
		// slip other content under this name.
		local := filepath.Join(env.TempDir, "vex-"+s.name+"-"+hexDigest+".json")
		if err := writeNewFile(local, data); err != nil {
			return nil, err
		}
		files = append(files, fileAt("vex/"+s.name+"/"+hexDigest+".json", local, s.name, media))
		prov.Counts["documents"]++
		prov.Counts["statements"] += len(doc.Statements)
		prov.Files++
		prov.Bytes += int64(len(data))
	}
	return &Fetched{Files: files, Provenance: prov}, nil
}

// readCapped reads a regular file of at most max bytes.
func readCapped(p string, max int64) ([]byte, error) {
	rc, err := openRegular(p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return data, nil
}

// writeNewFile creates p (it must not exist) with data. It does not fsync:
// it writes scratch copies for the build, which a crash makes worthless
// anyway.
func writeNewFile(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
