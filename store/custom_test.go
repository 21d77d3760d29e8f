package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	bolt "go.etcd.io/bbolt"
)

// customKit is a signed kit of channel c whose files carry the given
// custom objects in targets.json (nil: none).
func customKit(t *testing.T, c *fixtures.Channel, files map[string][]byte, custom map[string]string) []byte {
	t.Helper()
	var bf []bundle.File
	for _, p := range sortedKeys(files) {
		data := files[p]
		f := bundle.File{Path: p, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
		if cu, ok := custom[p]; ok {
			f.Custom = []byte(cu)
		}
		bf = append(bf, f)
	}
	var buf bytes.Buffer
	_, err := bundle.Write(context.Background(), &buf, bundle.WriteOptions{
		Info:  bundle.Info{Name: c.Name, Channel: c.Name, Version: 1, Created: fixtures.Created, Expires: fixtures.Created.AddDate(0, 1, 0)},
		Roots: c.Chain, Signers: c.SigningKeys(),
	}, bf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const testKEV = `{"catalogVersion":"2026.11.27","count":1,"vulnerabilities":[{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10"}]}`

// TestImportRefusesUnreadableCustom: a target's custom object is signed
// metadata the indexes act on (media type, the attestation a VEX document
// came in, the signer it verified as). One the store cannot read fails
// the import with an error naming the file, and nothing changes; before,
// the store read what it could and went on, so a document whose
// attestation field was malformed kept the signer it claimed, unverified.
func TestImportRefusesUnreadableCustom(t *testing.T) {
	doc := fixtures.OpenVEXDocument("Example Security", "CVE-2026-0001", "pkg:golang/example.com/app@v1.2.0")
	docPath := "vex/vendor/" + sha256Hex(doc) + ".json"
	tests := []struct {
		name   string
		files  map[string][]byte
		custom map[string]string
		path   string // the file the error must name
	}{
		{"VEX document claiming a signer, attestation not a string",
			map[string][]byte{docPath: doc},
			map[string]string{docPath: `{"mediaType":"application/openvex+json","attestation":7,"signer":"release@example.com"}`},
			docPath},
		{"VEX document, media type not a string",
			map[string][]byte{docPath: doc},
			map[string]string{docPath: `{"mediaType":["application/openvex+json"]}`},
			docPath},
		{"VEX trust material, attestation not a string",
			map[string][]byte{docPath: doc, "vex/vendor/trust/cosign.pub": []byte("key")},
			map[string]string{"vex/vendor/trust/cosign.pub": `{"attestation":{"path":"x"}}`},
			"vex/vendor/trust/cosign.pub"},
		{"KEV catalog, media type not a string",
			map[string][]byte{"enrich/kev/kev.json": []byte(testKEV)},
			map[string]string{"enrich/kev/kev.json": `{"mediaType":1}`},
			"enrich/kev/kev.json"},
		{"custom object not an object",
			map[string][]byte{"enrich/kev/kev.json": []byte(testKEV)},
			map[string]string{"enrich/kev/kev.json": `"application/vnd.cisa.kev+json"`},
			"enrich/kev/kev.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fixtures.NewChannel("site")
			s := newStore(t)
			_, err := s.Import(context.Background(), bytes.NewReader(customKit(t, c, tt.files, tt.custom)), ImportOptions{At: at, Root: c.Root()})
			// An attestation claim is read by verify's carried trust
			// check, which fails the kit; other fields by an index.
			var ie *IndexError
			indexErr := errors.As(err, &ie) && ie.Path == tt.path
			verifyErr := errors.Is(err, &bundle.Error{Code: bundle.CodeMalformed, Entry: tt.path})
			if !indexErr && !verifyErr || !strings.Contains(err.Error(), "custom object") {
				t.Fatalf("import: %v, want an index error or a verification failure naming %s and its custom object", err, tt.path)
			}
			if v := activeVersion(t, s, "site"); v != 0 {
				t.Errorf("a refused kit is active (version %d)", v)
			}
		})
	}
	// The same files with readable custom objects import.
	c := fixtures.NewChannel("site")
	s := newStore(t)
	files := map[string][]byte{docPath: doc, "enrich/kev/kev.json": []byte(testKEV)}
	custom := map[string]string{docPath: `{"mediaType":"application/openvex+json","source":"vendor"}`, "enrich/kev/kev.json": `{"mediaType":"application/vnd.cisa.kev+json"}`}
	mustImport(t, s, customKit(t, c, files, custom), ImportOptions{Root: c.Root()})
}

// TestEnrichHeaderDamaged: a KEV entry or EPSS score whose file header is
// missing or unreadable in the index is an error, not an entry without
// its catalog version.
func TestEnrichHeaderDamaged(t *testing.T) {
	for _, tc := range []struct{ name, kind, cve string }{{"KEV", "kev", "CVE-2021-44228"}, {"EPSS", "epss", "CVE-2023-4863"}} {
		for _, damage := range []string{"unreadable", "missing"} {
			t.Run(tc.name+" "+damage, func(t *testing.T) {
				c := fixtures.NewChannel("feeds")
				s := openStore(t, t.TempDir()+"/store", Options{})
				mustImport(t, s, fixtures.Kit(c, map[string][]byte{
					"enrich/kev/kev.json":  []byte(testKEV),
					"enrich/epss/epss.csv": []byte("cve,epss,percentile\nCVE-2023-4863,0.00043,0.0762\n"),
				}, fixtures.KitOptions{}), ImportOptions{Root: c.Root()})
				err := s.update(context.Background(), func(tx *bolt.Tx) error {
					b := tx.Bucket(bucketIndex).Bucket([]byte(enrichIndex)).Bucket([]byte("feeds"))
					k := ikey('m', tc.kind, tc.kind)
					if damage == "missing" {
						return b.Delete(k)
					}
					return b.Put(k, []byte(`{"catalogVersion":`))
				})
				if err != nil {
					t.Fatal(err)
				}
				err = s.View(context.Background(), func(r *Reader) error {
					var err error
					if tc.kind == "kev" {
						_, _, err = r.KEV(tc.cve)
					} else {
						_, _, err = r.EPSS(tc.cve)
					}
					return err
				})
				if err == nil || !strings.Contains(err.Error(), tc.kind+" header of source "+tc.kind) {
					t.Errorf("%s lookup with a damaged header: %v", tc.name, err)
				}
			})
		}
	}
}

// TestAliasesOfUnreadableRecord: a stored record whose aliases cannot be
// read fails the query instead of answering without them.
func TestAliasesOfUnreadableRecord(t *testing.T) {
	_, err := aliasesOf("CVE-1", []Advisory{{ID: "GO-1", Channel: "feeds", Source: "db", Record: []byte(`{"id":"GO-1","aliases":["CVE-1",`)}})
	if err == nil || !strings.Contains(err.Error(), "GO-1") {
		t.Errorf("aliases of a damaged record: %v", err)
	}
	ids, err := aliasesOf("CVE-1", []Advisory{{ID: "GO-1", Record: []byte(`{"id":"GO-1","aliases":["CVE-1","GHSA-x"]}`)}})
	if err != nil || strings.Join(ids, " ") != "CVE-1 GO-1 GHSA-x" {
		t.Errorf("aliases: %v, %v", ids, err)
	}
}

// TestImagesDamagedAttestationSummary: the summary of an attestation
// manifest in an image index (BuildKit's "vnd.docker.reference.type")
// that cannot be read is an error, not an image listed without it.
func TestImagesDamagedAttestationSummary(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{}), ImportOptions{Root: c.Root()})
	digest := func(s string) string { return "sha256:" + strings.Repeat(s, 64) }
	desc := func(mt, d string, ann string) string {
		a := ""
		if ann != "" {
			a = `,"annotations":{"vnd.docker.reference.type":"attestation-manifest"}`
		}
		return `{"mediaType":"` + mt + `","digest":"` + d + `","size":10` + a + `}`
	}
	const index, manifest = "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json"
	entries := map[string]string{
		imgKeyLayout:                 `[` + desc(index, digest("a"), "") + `]`,
		imgKeyManifest + digest("a"): `{"mediaType":"` + index + `","size":10,"manifests":[` + desc(manifest, digest("b"), "") + `,` + desc(manifest, digest("c"), "att") + `]}`,
		imgKeyManifest + digest("b"): `{"mediaType":"` + manifest + `","size":10}`,
	}
	put := func(att string) {
		t.Helper()
		err := s.update(context.Background(), func(tx *bolt.Tx) error {
			ib, err := tx.Bucket(bucketIndex).CreateBucketIfNotExists([]byte(ImagesIndexer{}.Name()))
			if err != nil {
				return err
			}
			b, err := ib.CreateBucketIfNotExists([]byte("acme"))
			if err != nil {
				return err
			}
			for k, v := range entries {
				if err := b.Put([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
			return b.Put([]byte(imgKeyManifest+digest("c")), []byte(att))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(`{"mediaType":"` + manifest + `","size":10}`)
	ims, err := s.Images(context.Background())
	if err != nil || len(ims) != 1 || ims[0].Size != 30 { // index, manifest and attestation manifest
		t.Fatalf("images: %+v, %v", ims, err)
	}
	put(`{"mediaType":`)
	if ims, err := s.Images(context.Background()); err == nil || !strings.Contains(err.Error(), digest("c")) {
		t.Errorf("images with a damaged attestation summary: %+v, %v", ims, err)
	}
}
