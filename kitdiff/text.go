package kitdiff

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Width is the most columns a line of WriteText takes.
const Width = 100

// WriteText writes the diff as text for people, no line wider than Width.
func (d *Diff) WriteText(w io.Writer) error {
	p := &printer{w: w}
	p.line("old  %s", sideText(d.Old))
	p.line("new  %s", sideText(d.New))
	for _, n := range d.Notes {
		p.wrap("note ", n)
	}
	if d.Empty() {
		p.line("")
		p.line("no changes")
		return p.err
	}

	im := d.Images
	p.line("")
	p.line("IMAGES  +%d -%d, %d name(s) moved, %d unchanged; blobs +%d -%d",
		len(im.Added), len(im.Removed), len(im.Moved), im.Unchanged, im.BlobsAdded, im.BlobsRemoved)
	for _, i := range im.Added {
		p.line("  + %s  %s", shortDigest(i.Digest), strings.Join(i.Names, ", "))
	}
	for _, i := range im.Removed {
		p.line("  - %s  %s", shortDigest(i.Digest), strings.Join(i.Names, ", "))
	}
	for _, m := range im.Moved {
		p.line("  ~ %s  %s -> %s", m.Name, shortDigest(m.From), shortDigest(m.To))
	}

	ad := d.Advisories
	p.line("")
	p.line("ADVISORIES  +%d -%d ~%d, %d unchanged", len(ad.Added), len(ad.Removed), len(ad.Modified), ad.Unchanged)
	p.advisories("  + ", ad.Added)
	p.advisories("  - ", ad.Removed)
	p.advisories("  ~ ", ad.Modified)

	p.line("")
	p.files("VEX", d.VEX)

	t := d.Trust
	p.line("")
	root := fmt.Sprintf("root version %d", t.RootVersionTo)
	if t.RootVersionFrom != t.RootVersionTo {
		root = fmt.Sprintf("root version %d -> %d", t.RootVersionFrom, t.RootVersionTo)
	}
	p.line("TRUST  %s", root)
	for _, r := range t.Roles {
		p.line("  %s keys: +%d -%d, threshold %d -> %d", r.Role, len(r.Added), len(r.Removed), r.ThresholdFrom, r.ThresholdTo)
		p.list("    + ", r.Added)
		p.list("    - ", r.Removed)
	}
	p.files("  files", t.Files)

	if o := d.Other; len(o.Added)+len(o.Removed)+len(o.Changed) > 0 {
		p.line("")
		p.files("OTHER FILES", o)
	}
	return p.err
}

func sideText(s Side) string {
	v := "verified"
	if !s.Verified {
		v = "NOT verified"
	}
	out := fmt.Sprintf("%s %s version %d, created %s, root v%d, %s", s.Name, s.Channel, s.Version,
		s.Created.Format("2006-01-02T15:04:05Z"), s.RootVersion, v)
	if s.Base != nil {
		out += fmt.Sprintf(", delta on v%d", s.Base.Version)
	}
	return out
}

// shortDigest is sha256: and 12 hex digits.
func shortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

type printer struct {
	w   io.Writer
	err error
}

// line prints one line, cut to Width columns.
func (p *printer) line(format string, args ...any) {
	if p.err != nil {
		return
	}
	s := fmt.Sprintf(format, args...)
	if utf8.RuneCountInString(s) > Width {
		r := []rune(s)
		s = string(r[:Width-1]) + "…"
	}
	_, p.err = fmt.Fprintln(p.w, s)
}

// wrap prints text after prefix, wrapped at Width on spaces.
func (p *printer) wrap(prefix, text string) {
	p.list(prefix, strings.Fields(text))
}

// list prints items after prefix, as many on a line as fit.
func (p *printer) list(prefix string, items []string) {
	indent := strings.Repeat(" ", utf8.RuneCountInString(prefix))
	cur := prefix
	n := 0
	for _, it := range items {
		if n > 0 && utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(it) > Width {
			p.line("%s", cur)
			cur, n = indent, 0
		}
		if n > 0 {
			cur += " "
		}
		cur += it
		n++
	}
	if n > 0 {
		p.line("%s", cur)
	}
}

func (p *printer) advisories(prefix string, as []Advisory) {
	// One line group per source, ids as many to a line as fit.
	for i := 0; i < len(as); {
		j := i
		var ids []string
		for j < len(as) && as[j].Source == as[i].Source {
			ids = append(ids, as[j].ID)
			j++
		}
		p.list(prefix+as[i].Source+": ", ids)
		i = j
	}
}

func (p *printer) files(title string, f Files) {
	p.line("%s  +%d -%d ~%d, %d unchanged", title, len(f.Added), len(f.Removed), len(f.Changed), f.Unchanged)
	for _, x := range f.Added {
		p.line("    + %s", x)
	}
	for _, x := range f.Removed {
		p.line("    - %s", x)
	}
	for _, x := range f.Changed {
		p.line("    ~ %s", x)
	}
}
