package verify_test

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// rewriteHeaders returns kit with its tar rewritten by archive/tar, each
// header as the kit format prescribes and then changed by edit (which
// sees every entry's header; data and padding are written unchanged).
func rewriteHeaders(t *testing.T, kit []byte, edit func(h *tar.Header)) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(fixtures.DecompressTar(kit)))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: hdr.Name, Size: hdr.Size, Mode: 0o644, ModTime: hdr.ModTime, Format: tar.FormatPAX}
		edit(h)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("%s: %v", hdr.Name, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return fixtures.CompressTar(out.Bytes())
}

// TestHeaderRules breaks one tar header rule of the kit format at a time:
// mode 0644, uid/gid 0, no user or group names, one mtime that is the
// kit's created time, PAX as the writer writes it. Each is refused with
// KIT_MALFORMED naming the entry, though the entry's name and data, all
// that the signature covers, are unchanged.
func TestHeaderRules(t *testing.T) {
	ch, kit := sample(t)
	src := pinned(ch.Root())
	wantOK(t, run(t, rewriteHeaders(t, kit, func(*tar.Header) {}), src, at))

	const doc = "docs/README.md"
	one := func(name string, edit func(h *tar.Header)) func(h *tar.Header) {
		return func(h *tar.Header) {
			if h.Name == name {
				edit(h)
			}
		}
	}
	refusedEntry := []failure{{bundle.CodeMalformed, doc}, {bundle.CodeMissingTarget, doc}}
	tests := []struct {
		name string
		edit func(h *tar.Header)
		want []failure
	}{
		{"mode 0600", one(doc, func(h *tar.Header) { h.Mode = 0o600 }), refusedEntry},
		{"mode 0755", one(doc, func(h *tar.Header) { h.Mode = 0o755 }), refusedEntry},
		{"setuid", one(doc, func(h *tar.Header) { h.Mode = 0o4644 }), refusedEntry},
		{"uid 1000", one(doc, func(h *tar.Header) { h.Uid = 1000 }), refusedEntry},
		{"gid 1000", one(doc, func(h *tar.Header) { h.Gid = 1000 }), refusedEntry},
		{"user name", one(doc, func(h *tar.Header) { h.Uname = "root" }), refusedEntry},
		{"group name", one(doc, func(h *tar.Header) { h.Gname = "wheel" }), refusedEntry},
		{"mtime of one entry", one(doc, func(h *tar.Header) { h.ModTime = h.ModTime.Add(time.Second) }), refusedEntry},
		{"mtime with a fraction", one(doc, func(h *tar.Header) { h.ModTime = h.ModTime.Add(time.Millisecond) }), refusedEntry},
		{"access time", one(doc, func(h *tar.Header) { h.AccessTime = h.ModTime }), refusedEntry},
		{"extra PAX record", one(doc, func(h *tar.Header) { h.PAXRecords = map[string]string{"comment": "x"} }), refusedEntry},
		{"GNU format", one(doc, func(h *tar.Header) { h.Format = tar.FormatGNU }), refusedEntry},
		{"USTAR format", one(doc, func(h *tar.Header) { h.Format = tar.FormatUSTAR; h.Uname = "x" }), refusedEntry},
		{"every mtime but created", func(h *tar.Header) { h.ModTime = h.ModTime.Add(time.Hour) },
			[]failure{{bundle.CodeMalformed, bundle.RootPath(1)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantFailures(t, run(t, rewriteHeaders(t, kit, tc.edit), src, at), tc.want...)
		})
	}
}

// TestTarPaddingAndTrailer changes bytes that archive/tar skips: the zero
// padding after an entry's data, and the trailer.
func TestTarPaddingAndTrailer(t *testing.T) {
	ch, kit := sample(t)
	src := pinned(ch.Root())
	data := fixtures.DecompressTar(kit)
	off, size := fixtures.ContentOffset(kit, "docs/README.md")
	if size%512 == 0 {
		t.Fatalf("docs/README.md fills its blocks: no padding to change")
	}
	padded := bytes.Clone(data)
	padded[off+size] = 'x'
	wantFailures(t, run(t, fixtures.CompressTar(padded), src, at),
		failure{bundle.CodeMalformed, "docs/README.md"})

	noTrailer := data[:len(data)-1024]
	for len(noTrailer) > 0 && bytes.Equal(noTrailer[len(noTrailer)-512:], make([]byte, 512)) {
		noTrailer = noTrailer[:len(noTrailer)-512]
	}
	rep := run(t, fixtures.CompressTar(noTrailer), src, at)
	wantFailures(t, rep, failure{bundle.CodeTruncated, ""})
}
