package enrich

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/format"
)

func TestReadKEV(t *testing.T) {
	ok := `{"catalogVersion":"2026.11.27","count":1,"vulnerabilities":[{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10"}]}`
	var got []string
	cat, err := ReadKEV(strings.NewReader(ok), func(cve string, e []byte) error { got = append(got, cve+" "+string(e)); return nil })
	if err != nil || cat.Count != 1 || len(got) != 1 || got[0] != `CVE-2021-44228 {"cveID":"CVE-2021-44228","dateAdded":"2021-12-10"}` {
		t.Fatalf("%+v %v %q", cat, err, got)
	}
	for name, bad := range map[string]string{
		"no version": `{"vulnerabilities":[]}`,
		"no list":    `{"catalogVersion":"1"}`,
		"count":      `{"catalogVersion":"1","count":2,"vulnerabilities":[{"cveID":"CVE-2021-44228"}]}`,
		"bad cve":    `{"catalogVersion":"1","vulnerabilities":[{"cveID":"CVE-21-1"}]}`,
		"not json":   `[`,
	} {
		if _, err := ReadKEV(strings.NewReader(bad), nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReadEPSS(t *testing.T) {
	csv := "#model_version:v2025.03.14,score_date:2026-11-27T00:00:00+0000\ncve,epss,percentile\nCVE-2021-44228,0.97,0.99\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(csv))
	zw.Close()
	for _, in := range [][]byte{[]byte(csv), gz.Bytes()} {
		n := 0
		meta, err := ReadEPSS(t.Context(), bytes.NewReader(in), MaxEPSSSize, func(cve string, e, p float64) error {
			n++
			if cve != "CVE-2021-44228" || e != 0.97 || p != 0.99 {
				t.Errorf("row %s %v %v", cve, e, p)
			}
			return nil
		})
		if err != nil || meta.Count != 1 || n != 1 || meta.ModelVersion != "v2025.03.14" {
			t.Fatalf("%+v %v", meta, err)
		}
	}
	if _, err := ReadEPSS(t.Context(), strings.NewReader("cve,epss,percentile\nCVE-2021-44228,1.5,0.1\n"), MaxEPSSSize, nil); err == nil {
		t.Error("score above 1 accepted")
	}
	var bomb bytes.Buffer
	zw = gzip.NewWriter(&bomb)
	zw.Write([]byte("cve,epss,percentile\n"))
	zw.Write(bytes.Repeat([]byte("CVE-2021-44228,0.1,0.1\n"), 100000))
	zw.Close()
	if _, err := ReadEPSS(t.Context(), &bomb, 1<<16, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("bomb: %v", err)
	}
}

func TestFileKind(t *testing.T) {
	tests := []struct {
		name, media string
		want        Kind
	}{
		{"kev.json", format.MediaKEV, KindKEV},
		{"anything.json", format.MediaKEV, KindKEV},
		{"kev.json", "", KindKEV},
		{"epss.csv", format.MediaEPSS, KindEPSS},
		{"epss.csv", "", KindEPSS},
		{"epss.csv.gz", "", KindEPSS},
		{"kev.json", "application/json", KindNone},
		{"epss.csv", format.MediaKEV, KindKEV},
		{"notes.txt", "", KindNone},
	}
	for _, tt := range tests {
		if got := FileKind(tt.name, tt.media); got != tt.want {
			t.Errorf("FileKind(%q, %q) = %q, want %q", tt.name, tt.media, got, tt.want)
		}
	}
}
