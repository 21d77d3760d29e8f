package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// writeDockerSave writes img as `docker save` does: layers uncompressed
// (<diffid>/layer.tar), the config, manifest.json last. link names a layer
// entry written as a hard link to the first layer's file instead.
func writeDockerSave(t testing.TB, file string, img v1.Image, link int) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		name := d.Hex + "/layer.tar"
		if i == link {
			name = "link" + name
			if err := tw.WriteHeader(&tar.Header{Name: name, Linkname: names[0], Typeflag: tar.TypeLink}); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
			continue
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		add(name, b)
		names = append(names, name)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cn, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	add(cn.Hex+".json", cfg)
	m, _ := json.Marshal([]map[string]any{{"Config": cn.Hex + ".json", "RepoTags": []string{"example.com/app:1"}, "Layers": names}})
	add("manifest.json", m)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDockerSaveReadInPlace: the layers of a docker save archive are read
// in place (no copy under the scratch root) and give the inventory of the
// same image streamed from an OCI layout.
func TestDockerSaveReadInPlace(t *testing.T) {
	img, _ := testImage(t)
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.tar")
	writeDockerSave(t, archive, img, -1)

	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inPlace := dockerArchiveLayers(f, 2)
	if inPlace == nil {
		t.Fatal("docker save archive not served in place")
	}
	for li := range 2 {
		if _, ok := inPlace(li); !ok {
			t.Errorf("layer %d not served in place", li)
		}
	}

	scan := func(target string) []byte {
		t.Helper()
		rep, err := Scan(context.Background(), target, NewMemory(rec(t, goRec)), Options{})
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		rep.Target = TargetInfo{}
		j, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	want := scan("oci:" + filepath.Join(dir, "layout"))
	if !bytes.Contains(want, []byte(`"stdlib"`)) || !bytes.Contains(want, []byte(`"libssl3"`)) {
		t.Fatalf("the layout scan misses packages: %s", want)
	}
	if diff := cmp.Diff(string(want), string(scan("docker-archive:"+archive))); diff != "" {
		t.Errorf("docker save archive read in place vs OCI layout (-want +got):\n%s", diff)
	}
}

// TestDockerSaveLinkedLayerStreamed: a layer entry that is a link is not
// served in place (go-containerregistry follows it when streaming).
func TestDockerSaveLinkedLayerStreamed(t *testing.T) {
	img, _ := testImage(t)
	archive := filepath.Join(t.TempDir(), "image.tar")
	writeDockerSave(t, archive, img, 1)
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inPlace := dockerArchiveLayers(f, 2)
	if inPlace == nil {
		t.Fatal("archive not indexed")
	}
	if _, ok := inPlace(0); !ok {
		t.Error("layer 0 not served in place")
	}
	if _, ok := inPlace(1); ok {
		t.Error("linked layer 1 served in place")
	}
}

// TestDockerSaveTruncatedLayer: an entry whose data runs past the end of
// its layer is an error, not a short read.
func TestDockerSaveTruncatedLayer(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := goBinaryBytes(t)
	tw.WriteHeader(&tar.Header{Name: "usr/bin/app", Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	b := buf.Bytes()[:len(buf.Bytes())/2]
	src := io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))
	exs := extractors(nil)
	_, err := applyLayer(context.Background(), nil, src, 0, "sha256:x", t.TempDir(), map[string]*node{}, exs, 0)
	if err == nil {
		t.Fatal("truncated layer accepted")
	}
}
