package scan

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"testing"
)

// textprotoStanzas is how dpkg status stanzas were read before stanzas:
// net/textproto's MIME header reader, one header per stanza. It is the
// oracle stanzas is compared with.
func textprotoStanzas(r io.Reader, keys []string) ([][]string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out [][]string
	for {
		for {
			b, err := br.Peek(1)
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return out, err
			}
			if b[0] != '\n' && b[0] != '\r' {
				break
			}
			br.ReadByte()
		}
		h, err := textproto.NewReader(br).ReadMIMEHeader()
		if err != nil && err != io.EOF {
			return out, err
		}
		if len(h) > 0 {
			vals := make([]string, len(keys))
			for i, k := range keys {
				vals[i] = h.Get(k)
			}
			out = append(out, vals)
		}
		if err == io.EOF {
			return out, nil
		}
	}
}

func readStanzas(data []byte, keys []string) ([][]string, error) {
	var out [][]string
	err := stanzas(bytes.NewReader(data), keys, func(v []string) { out = append(out, slices.Clone(v)) })
	return out, err
}

// stanzaCases are the shapes of a control file that the comparison with
// textproto covers beside the real database.
var stanzaCases = []string{
	"",
	"\n\n",
	"Package: a\nVersion: 1\n",
	"Package: a\nVersion: 1",
	"Package: a\r\nVersion: 1\r\n\r\nPackage: b\r\nVersion: 2\r\n",
	"package: a\nVERSION: 1\nStatus: install ok installed\n",
	"Package: a\nPackage: b\nVersion: 1\n",
	"Package:a\nVersion:\t 1 \t\n",
	"Package: a\nSource: src\n (1.0)\n\tmore\nVersion: 1\n",
	"Package: a\nDescription: x\n  \n .\nVersion: 1\n",
	"Package: a\n\n\n\nPackage: b\n",
	"Description: only\n unrelated\n",
	": no name\nPackage: a\n",
	": no name\n continued\n",
	" Package: a\n",
	"Package: a\n\n Version: 1\n",
	"Package a\n",
	"Pack age: a\n",
	"Package: a\nVersion: 1\n\r\nPackage: b\n",
	"Package: a\nVersion: 1\n" + strings.Repeat("x", 100<<10) + ": long\n",
	"Package: a\nDescription: " + strings.Repeat("y", 100<<10) + "\nVersion: 1\n",
}

// TestStanzasAsTextproto: the dpkg reader gives the values net/textproto
// gives, on a real status database and on the edge cases of the format,
// and fails where textproto fails.
func TestStanzasAsTextproto(t *testing.T) {
	real, err := os.ReadFile("testdata/dpkg/status")
	if err != nil {
		t.Fatal(err)
	}
	want, err := textprotoStanzas(bytes.NewReader(real), dpkgKeys[:])
	if err != nil || len(want) != 25 {
		t.Fatalf("textproto read %d stanzas, %v; want 25", len(want), err)
	}
	for _, data := range append([]string{string(real)}, stanzaCases...) {
		compareStanzas(t, []byte(data))
	}
}

func compareStanzas(t *testing.T, data []byte) {
	t.Helper()
	keys := append(dpkgKeys[:], "Description", "Conffiles")
	want, werr := textprotoStanzas(bytes.NewReader(data), keys)
	got, gerr := readStanzas(data, keys)
	name := string(data)
	if len(name) > 60 {
		name = name[:60] + "…"
	}
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%q: error %v, textproto's %v", name, gerr, werr)
	}
	if werr == nil && !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("%q:\n got %q\nwant %q", name, got, want)
	}
}

func FuzzStanzasAsTextproto(f *testing.F) {
	for _, c := range stanzaCases {
		if len(c) < 1<<10 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareStanzas(t, data)
	})
}

// TestDpkgStanzaValues: what the dpkg extractor takes from a stanza: the
// source name without its version, installed packages only.
func TestDpkgStanzaValues(t *testing.T) {
	status := "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl (3.0.11-1)\nVersion: 3.0.11-1~deb12u2\nDescription: Secure Sockets Layer toolkit\n shared libraries\n\n" +
		"Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n" +
		"Package: zlib1g\nStatus: install ok installed\nSource: zlib\nVersion: 1:1.2.13\nArchitecture: amd64\n"
	f, err := os.CreateTemp(t.TempDir(), "status")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(status)
	f.Seek(0, io.SeekStart)
	defer f.Close()
	ps, err := dpkg{}.Extract(t.Context(), &input{path: "var/lib/dpkg/status", f: f, osRelease: map[string]string{"ID": "debian", "VERSION_ID": "12"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Ecosystem+" "+p.Name+" "+p.Version+" "+p.SourceName+" "+p.PURL)
	}
	want := []string{
		"Debian:12 libssl3 3.0.11-1~deb12u2 openssl pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
		"Debian:12 zlib1g 1:1.2.13 zlib pkg:deb/debian/zlib1g@1:1.2.13?arch=amd64&distro=debian-12&upstream=zlib",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
