package bundle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

func deltaOpts(c *fixtures.Channel, version int64) bundle.WriteOptions {
	return bundle.WriteOptions{
		Info:  bundle.Info{Name: c.Name, Channel: c.Name, Version: version, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
		Roots: c.Chain, Signers: c.SigningKeys(),
	}
}

// TestWriteDeltaDeterministic: the same files, base and keys give the same
// delta; it carries only what the base lacks and the full kit's exact
// targets.
func TestWriteDeltaDeterministic(t *testing.T) {
	c := fixtures.NewChannel("acme")
	v1 := fixtures.SampleFiles()
	v2 := fixtures.SampleFiles()
	v2["docs/README.md"] = []byte("changed\n")
	v2["docs/copy.bin"] = v1["docs/sub/data.bin"] // moved content: not carried
	delete(v2, "trust/keys/cosign.pub")
	base := fixtures.Kit(c, v1, fixtures.KitOptions{})
	from := fixtures.BaseOf(base, v1)
	var a, b bytes.Buffer
	wa, err := bundle.WriteDelta(context.Background(), &a, deltaOpts(c, 2), fixtures.Files(v2), from)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.WriteDelta(context.Background(), &b, deltaOpts(c, 2), fixtures.Files(v2), from); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two deltas of the same input differ")
	}
	var fullKit bytes.Buffer
	wf, err := bundle.Write(context.Background(), &fullKit, deltaOpts(c, 2), fixtures.Files(v2))
	if err != nil {
		t.Fatal(err)
	}
	if wa.FullTargetsSHA256 != wf.TargetsSHA256 || wa.Info.Base == nil || *wa.Info.Base != from.Base {
		t.Errorf("full targets %s, want %s; base %+v", wa.FullTargetsSHA256, wf.TargetsSHA256, wa.Info.Base)
	}
	if wa.Carried != 1 || wa.CarriedBytes != int64(len("changed\n")) || wa.FullTargets != len(v2) {
		t.Errorf("written: carried %d (%d bytes) of %d", wa.Carried, wa.CarriedBytes, wa.FullTargets)
	}
	var names []string
	var desc *bundle.Delta
	for _, e := range fixtures.Entries(a.Bytes()) {
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			continue
		}
		names = append(names, e.Name)
		if e.Name == bundle.DeltaPath {
			if desc, err = bundle.ParseDelta(e.Content); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := strings.Join(names, " "); got != "delta.json docs/README.md" {
		t.Errorf("the delta carries %s", got)
	}
	for _, e := range fixtures.Entries(fullKit.Bytes()) {
		if e.Name == bundle.TargetsPath && desc.Targets != string(e.Content) {
			t.Errorf("delta.json does not hold the full kit's targets.json")
		}
	}
	if strings.Join(desc.Removed, ",") != "trust/keys/cosign.pub" || desc.Carried != 1 || desc.Files != len(v2) {
		t.Errorf("delta.json: removed %v, carried %d of %d", desc.Removed, desc.Carried, desc.Files)
	}
}

func TestWriteDeltaRefuses(t *testing.T) {
	c := fixtures.NewChannel("acme")
	v1 := fixtures.SampleFiles()
	from := fixtures.BaseOf(fixtures.Kit(c, v1, fixtures.KitOptions{Version: 2}), v1)
	for name, tc := range map[string]struct {
		version int64
		from    bundle.DeltaFrom
		files   map[string][]byte
	}{
		"base not older":      {2, from, v1},
		"base of another":     {3, bundle.DeltaFrom{Base: bundle.Base{Channel: "other", Version: 1}}, v1},
		"delta.json in files": {3, from, map[string][]byte{bundle.DeltaPath: []byte("{}")}},
	} {
		if _, err := bundle.WriteDelta(context.Background(), &bytes.Buffer{}, deltaOpts(c, tc.version), fixtures.Files(tc.files), tc.from); err == nil {
			t.Errorf("%s: written", name)
		}
	}
}

// TestWriteReservesDeltaPath: only a delta kit holds delta.json.
func TestWriteReservesDeltaPath(t *testing.T) {
	c := fixtures.NewChannel("acme")
	_, err := bundle.Write(context.Background(), &bytes.Buffer{}, deltaOpts(c, 1), fixtures.Files(map[string][]byte{bundle.DeltaPath: []byte("{}")}))
	if !errors.Is(err, bundle.ErrInvalidPath) {
		t.Errorf("a full kit with %s: %v", bundle.DeltaPath, err)
	}
}

func TestParseDelta(t *testing.T) {
	good := bundle.Delta{Schema: bundle.DeltaSchema, TargetsSHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Removed: []string{"a", "b"}}
	enc := func(d bundle.Delta) []byte { b, _ := json.Marshal(d); return b }
	if _, err := bundle.ParseDelta(enc(good)); err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]func(*bundle.Delta){
		"schema":   func(d *bundle.Delta) { d.Schema = "x" },
		"digest":   func(d *bundle.Delta) { d.Targets = "{}" },
		"unsorted": func(d *bundle.Delta) { d.Removed = []string{"b", "a"} },
		"unsafe":   func(d *bundle.Delta) { d.Removed = []string{"../x"} },
	} {
		bad := good
		d(&bad)
		if _, err := bundle.ParseDelta(enc(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := bundle.ParseDelta([]byte(`{"schema":"ferry.dev/delta/v1","extra":1}`)); err == nil {
		t.Errorf("unknown field accepted")
	}
}
