package scan

import (
	"bytes"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
)

const (
	seedCycloneDX = `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
	 {"type":"library","bom-ref":"c1","name":"golang.org/x/text","version":"v0.3.5","purl":"pkg:golang/golang.org/x/text@v0.3.5"},
	 {"type":"library","bom-ref":"c2","name":"openssl","version":"3.0.11-1~deb12u1","purl":"pkg:deb/debian/openssl@3.0.11-1~deb12u1?distro=debian-12&upstream=openssl"},
	 {"type":"application","bom-ref":"c3","name":"nopurl","version":"1","components":[
	  {"type":"library","bom-ref":"c4","name":"lodash","version":"4.17.20","purl":"pkg:npm/lodash@4.17.20"}]}]}`
	seedSPDX = `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"x","documentNamespace":"https://example.com/x",
	 "creationInfo":{"created":"2024-01-01T00:00:00Z","creators":["Tool: test"]},
	 "packages":[{"name":"golang.org/x/text","SPDXID":"SPDXRef-text","versionInfo":"v0.3.5","downloadLocation":"NOASSERTION",
	   "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:golang/golang.org/x/text@v0.3.5"}]},
	  {"name":"musl","SPDXID":"SPDXRef-musl","versionInfo":"1.2.4-r1","downloadLocation":"NOASSERTION",
	   "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:apk/alpine/musl@1.2.4-r1?distro=alpine-3.18.4"}]},
	  {"name":"nopurl","SPDXID":"SPDXRef-nopurl","versionInfo":"1","downloadLocation":"NOASSERTION"}]}`
)

// FuzzReadSBOM feeds arbitrary bytes to the CycloneDX and SPDX readers.
// Besides not panicking, what they accept must hold up: every package has
// an ecosystem, a name, a version and the SBOM reference it came from,
// every component passed over says why, reading twice gives the same
// inventory, and a CycloneDX document written back by its own library and
// read again gives the same inventory — ferry reads what the format says,
// not an accident of the input's spelling.
func FuzzReadSBOM(f *testing.F) {
	f.Add([]byte(seedCycloneDX))
	f.Add([]byte(seedSPDX))
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"x","purl":"pkg:cargo/x@1"}]}`))
	f.Add([]byte(`{"spdxVersion":"SPDX-2.3","packages":[{"SPDXID":"SPDXRef-a","name":"a","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:pypi/a"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, notEval, err := readSBOM(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Ecosystem == "" || p.Name == "" || p.Version == "" || p.Location.SBOMRef == "" {
				t.Fatalf("accepted an incomplete package: %+v", p)
			}
		}
		for _, n := range notEval {
			if n.Reason == "" {
				t.Fatalf("a component was passed over without a reason: %+v", n)
			}
		}
		pkgs2, notEval2, err := readSBOM(bytes.NewReader(data), "fuzz.json")
		if err != nil || !cmp.Equal(pkgs, pkgs2) || !cmp.Equal(notEval, notEval2) {
			t.Fatalf("reading twice differs (err %v)", err)
		}
		var again bytes.Buffer
		if isCycloneDX(data) {
			var bom cdx.BOM
			if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
				t.Fatalf("accepted, but does not decode: %v", err)
			}
			if err := cdx.NewBOMEncoder(&again, cdx.BOMFileFormatJSON).Encode(&bom); err != nil {
				return // the library cannot write what it read: nothing to compare
			}
		} else {
			// No write-back for SPDX: spdx/tools-golang does not read
			// back what it writes (an element id "SPDXRef-&0" comes back
			// as "SPDXRef-\u00260"), so a difference would be theirs.
			if _, err := readSPDX(bytes.NewReader(data)); err != nil {
				t.Fatalf("accepted, but does not decode: %v", err)
			}
			return
		}
		pkgs3, notEval3, err := readSBOM(&again, "fuzz.json")
		if err != nil {
			// cyclonedx-go cannot read what it wrote: a round trip of
			// theirs, not ours, to compare.
			return
		}
		if d := cmp.Diff(pkgs, pkgs3); d != "" {
			t.Errorf("packages change when the document is written back (-first +again):\n%s", d)
		}
		if d := cmp.Diff(notEval, notEval3); d != "" {
			t.Errorf("passed-over components change when the document is written back (-first +again):\n%s", d)
		}
	})
}

// isCycloneDX is readSBOM's choice of reader.
func isCycloneDX(data []byte) bool {
	return bytes.Contains(data[:min(len(data), 64<<10)], []byte(`"bomFormat"`))
}

// TestReadSBOMMalformedSPDX: SPDX documents that crashed the reader (found
// by FuzzReadSBOM) are refused or read, never a panic.
func TestReadSBOMMalformedSPDX(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		wantErr   bool
	}{
		{"null package of a 2.3 document", `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","packages":[null]}`, true},
		{"empty package of a 2.1 document", `{"spdxVersion":"SPDX-2.1","SPDXID":"SPDXRef-0","packages":[{"x":"y"}]}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := readSBOM(strings.NewReader(c.doc), "x.spdx.json")
			if (err != nil) != c.wantErr {
				t.Fatalf("got %v, want error %v", err, c.wantErr)
			}
		})
	}
}
