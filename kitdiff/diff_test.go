package kitdiff_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kitdiff"
	"github.com/ferry-dev/ferry/verify"
	"github.com/google/go-cmp/cmp"
)

var at = fixtures.Created.Add(24 * time.Hour)

const (
	dgApp  = "sha256:aaaa000000000000000000000000000000000000000000000000000000000001"
	dgApp2 = "sha256:abab000000000000000000000000000000000000000000000000000000000002"
	dgDB   = "sha256:bbbb000000000000000000000000000000000000000000000000000000000001"
	dgNew  = "sha256:cccc000000000000000000000000000000000000000000000000000000000001"
)

func index(images ...[2]string) []byte {
	var b strings.Builder
	b.WriteString(`{"schemaVersion":2,"manifests":[`)
	for i, im := range images {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"mediaType":"application/vnd.oci.image.index.v1+json","size":1,"digest":"` + im[0] +
			`","annotations":{"org.opencontainers.image.ref.name":"` + im[1] + `"}}`)
	}
	// A signature of the first image: not an image of its own.
	b.WriteString(`,{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:dddd",` +
		`"annotations":{"dev.ferry.attachment.subject":"` + images[0][0] + `"}}]}`)
	return []byte(b.String())
}

func osv(recs ...string) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		b.WriteString(r + "\n")
	}
	return b.Bytes()
}

func oldFiles() map[string][]byte {
	return map[string][]byte{
		"images/index.json":          index([2]string{dgApp, "registry.example/app:1"}, [2]string{dgDB, "registry.example/db:1"}),
		"images/blobs/sha256/aaaa01": []byte("blob a"),
		"advisories/osv/osv.jsonl": osv(`{"id":"GHSA-0001","modified":"2026-11-01T00:00:00Z"}`,
			`{"id":"GHSA-0002","modified":"2026-11-01T00:00:00Z"}`, `{"id":"GHSA-0003","modified":"2026-11-01T00:00:00Z"}`),
		"vex/acme/1111.json":  []byte(`{"doc":1}`),
		"trust/keys/acme.pub": []byte("key 1"),
		"docs/runbook.md":     []byte("# runbook\n"),
	}
}

func newFiles() map[string][]byte {
	return map[string][]byte{
		"images/index.json": index([2]string{dgApp2, "registry.example/app:1"}, [2]string{dgDB, "registry.example/db:1"},
			[2]string{dgNew, "registry.example/cache:1"}),
		"images/blobs/sha256/aaaa02": []byte("blob a2"),
		"advisories/osv/osv.jsonl": osv(`{"id":"GHSA-0001","modified":"2026-11-01T00:00:00Z"}`,
			`{"id":"GHSA-0002","modified":"2026-11-20T00:00:00Z"}`, `{"id":"GHSA-0004","modified":"2026-11-20T00:00:00Z"}`),
		"vex/acme/2222.json":  []byte(`{"doc":2}`),
		"trust/keys/acme.pub": []byte("key 2"),
		"docs/runbook.md":     []byte("# runbook\n"),
	}
}

func kits(t *testing.T) (*fixtures.Channel, []byte, []byte) {
	t.Helper()
	ch := fixtures.NewChannel("acme-feeds")
	a := fixtures.Kit(ch, oldFiles(), fixtures.KitOptions{Version: 1})
	ch.Rotate()
	b := fixtures.Kit(ch, newFiles(), fixtures.KitOptions{Version: 2})
	return ch, a, b
}

func TestCompare(t *testing.T) {
	ch, a, b := kits(t)
	for _, verified := range []bool{false, true} {
		read := func(data []byte) *kitdiff.Kit {
			t.Helper()
			var k *kitdiff.Kit
			var err error
			if verified {
				k, err = kitdiff.ReadVerified(context.Background(), bytes.NewReader(data), verify.Static(verify.Trust{Root: ch.Chain[0]}), verify.Options{At: at})
			} else {
				k, err = kitdiff.Read(bytes.NewReader(data))
			}
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		d, err := kitdiff.Compare(read(a), read(b))
		if err != nil {
			t.Fatal(err)
		}
		if d.Verified != verified {
			t.Errorf("verified %v, want %v", d.Verified, verified)
		}
		wantImages := kitdiff.Images{
			Added:     []kitdiff.Image{{Digest: dgApp2, Names: []string{"registry.example/app:1"}}, {Digest: dgNew, Names: []string{"registry.example/cache:1"}}},
			Removed:   []kitdiff.Image{{Digest: dgApp, Names: []string{"registry.example/app:1"}}},
			Moved:     []kitdiff.NameMove{{Name: "registry.example/app:1", From: dgApp, To: dgApp2}},
			Unchanged: 1, BlobsAdded: 1, BlobsRemoved: 1,
		}
		if diff := cmp.Diff(wantImages, d.Images); diff != "" {
			t.Errorf("images (-want +got):\n%s", diff)
		}
		wantAdv := kitdiff.Advisories{
			Added: []kitdiff.Advisory{{"osv", "GHSA-0004"}}, Removed: []kitdiff.Advisory{{"osv", "GHSA-0003"}},
			Modified: []kitdiff.Advisory{{"osv", "GHSA-0002"}}, Unchanged: 1,
		}
		if diff := cmp.Diff(wantAdv, d.Advisories); diff != "" {
			t.Errorf("advisories (-want +got):\n%s", diff)
		}
		wantVEX := kitdiff.Files{Added: []string{"vex/acme/2222.json"}, Removed: []string{"vex/acme/1111.json"}, Changed: []string{}}
		if diff := cmp.Diff(wantVEX, d.VEX); diff != "" {
			t.Errorf("vex (-want +got):\n%s", diff)
		}
		if d.Trust.RootVersionFrom != 1 || d.Trust.RootVersionTo != 2 || len(d.Trust.Roles) != 4 ||
			len(d.Trust.Roles[1].Added) != 1 || len(d.Trust.Roles[1].Removed) != 1 {
			t.Errorf("trust: %+v", d.Trust)
		}
		if diff := cmp.Diff([]string{"trust/keys/acme.pub"}, d.Trust.Files.Changed); diff != "" {
			t.Errorf("trust files (-want +got):\n%s", diff)
		}
		if d.Other.Unchanged != 1 || len(d.Other.Changed) != 0 {
			t.Errorf("other: %+v", d.Other)
		}

		var text bytes.Buffer
		if err := d.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(text.String(), "\n") {
			if n := len([]rune(l)); n > kitdiff.Width {
				t.Errorf("line of %d columns: %s", n, l)
			}
		}
		for _, s := range []string{"GHSA-0004", "registry.example/app:1  sha256:aaaa00000000 -> sha256:abab00000000", "root version 1 -> 2"} {
			if !strings.Contains(text.String(), s) {
				t.Errorf("text lacks %q:\n%s", s, text.String())
			}
		}
		if strings.Contains(text.String(), "NOT VERIFIED") == verified {
			t.Errorf("verified %v, text:\n%s", verified, text.String())
		}
		j1, err := d.MarshalCanonical()
		if err != nil {
			t.Fatal(err)
		}
		d2, _ := kitdiff.Compare(read(a), read(b))
		j2, _ := d2.MarshalCanonical()
		if !bytes.Equal(j1, j2) {
			t.Errorf("JSON differs between two runs")
		}
	}
}

func TestCompareDelta(t *testing.T) {
	ch, a, _ := kits(t)
	// A delta on version 1 that carries only a new advisories file.
	files := map[string][]byte{"advisories/osv/osv.jsonl": newFiles()["advisories/osv/osv.jsonl"]}
	var buf bytes.Buffer
	_, err := bundle.Write(context.Background(), &buf, bundle.WriteOptions{
		Info: bundle.Info{Name: "acme-feeds", Channel: "acme-feeds", Version: 2, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour),
			Base: &bundle.Base{Channel: "acme-feeds", Version: 1, TargetsSHA256: strings.Repeat("0", 64)}},
		Roots: ch.Chain, Signers: ch.SigningKeys(),
	}, fixtures.Files(files))
	if err != nil {
		t.Fatal(err)
	}
	ka, err := kitdiff.Read(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	kb, err := kitdiff.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	d, err := kitdiff.Compare(ka, kb)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Advisories.Added) != 1 || len(d.Advisories.Removed) != 1 || len(d.Advisories.Modified) != 1 {
		t.Errorf("advisories of the carried file: %+v", d.Advisories)
	}
	if len(d.VEX.Removed)+len(d.Other.Removed)+len(d.Trust.Files.Removed)+len(d.Images.Removed) != 0 || d.Images.Unchanged != 2 {
		t.Errorf("what the delta does not carry shows as removed: vex %+v other %+v trust %+v images %+v", d.VEX, d.Other, d.Trust.Files, d.Images)
	}
	if !strings.Contains(strings.Join(d.Notes, "\n"), "delta kit on version 1") {
		t.Errorf("notes: %v", d.Notes)
	}
}

func TestCompareOtherChannel(t *testing.T) {
	_, a, _ := kits(t)
	other := fixtures.Kit(fixtures.NewChannel("other"), oldFiles(), fixtures.KitOptions{})
	ka, _ := kitdiff.Read(bytes.NewReader(a))
	kb, _ := kitdiff.Read(bytes.NewReader(other))
	if _, err := kitdiff.Compare(ka, kb); !errors.Is(err, kitdiff.ErrOtherChannel) {
		t.Errorf("err = %v, want ErrOtherChannel", err)
	}
}

func TestReadVerifiedRefusesTampered(t *testing.T) {
	ch, a, _ := kits(t)
	off, _ := fixtures.ContentOffset(a, "docs/runbook.md")
	bad := fixtures.FlipTarByte(a, off, 1)
	_, err := kitdiff.ReadVerified(context.Background(), bytes.NewReader(bad), verify.Static(verify.Trust{Root: ch.Chain[0]}), verify.Options{At: at})
	if bundle.CodeOf(err) != bundle.CodeDigestMismatch {
		t.Errorf("err = %v, want KIT_DIGEST_MISMATCH", err)
	}
}

// TestCompareDeltaRemoved: a delta kit names the paths its full kit no
// longer has (delta.json), so the diff against its base says what the diff
// against the full kit of the same version says: removed files, blobs,
// VEX documents, images and advisory sources show as removed, what the
// delta neither carries nor removes as unchanged.
func TestCompareDeltaRemoved(t *testing.T) {
	dropped := newFiles()
	delete(dropped, "images/index.json")
	delete(dropped, "images/blobs/sha256/aaaa02")
	delete(dropped, "advisories/osv/osv.jsonl")
	for name, v2 := range map[string]map[string][]byte{"changed": newFiles(), "images and advisories dropped": dropped} {
		t.Run(name, func(t *testing.T) {
			ch := fixtures.NewChannel("acme-feeds")
			v1 := oldFiles()
			base := fixtures.Kit(ch, v1, fixtures.KitOptions{Version: 1})
			full := fixtures.Kit(ch, v2, fixtures.KitOptions{Version: 2})
			var delta bytes.Buffer
			_, err := bundle.WriteDelta(context.Background(), &delta, bundle.WriteOptions{
				Info:  bundle.Info{Name: ch.Name, Channel: ch.Name, Version: 2, Created: fixtures.Created, Expires: fixtures.Created.Add(30 * 24 * time.Hour)},
				Roots: ch.Chain, Signers: ch.SigningKeys(),
			}, fixtures.Files(v2), fixtures.BaseOf(base, v1))
			if err != nil {
				t.Fatal(err)
			}
			read := func(data []byte) *kitdiff.Kit {
				t.Helper()
				k, err := kitdiff.ReadVerified(context.Background(), bytes.NewReader(data), verify.Static(verify.Trust{Root: ch.Chain[0]}), verify.Options{At: at})
				if err != nil {
					t.Fatal(err)
				}
				return k
			}
			want, err := kitdiff.Compare(read(base), read(full))
			if err != nil {
				t.Fatal(err)
			}
			got, err := kitdiff.Compare(read(base), read(delta.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			type parts struct {
				Images     kitdiff.Images
				Advisories kitdiff.Advisories
				VEX        kitdiff.Files
				Trust      kitdiff.Trust
				Other      kitdiff.Files
			}
			w := parts{want.Images, want.Advisories, want.VEX, want.Trust, want.Other}
			g := parts{got.Images, got.Advisories, got.VEX, got.Trust, got.Other}
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("the delta's diff differs from the full kit's (-full +delta):\n%s", diff)
			}
			if len(got.VEX.Removed) != 1 || got.Images.BlobsRemoved != 1 {
				t.Errorf("the delta's removals do not show: vex %+v, images %+v", got.VEX, got.Images)
			}
			if name != "changed" && (len(got.Images.Removed) != 2 || len(got.Advisories.Removed) != 3) {
				t.Errorf("the dropped images and advisories do not show as removed: images %+v, advisories %+v", got.Images, got.Advisories)
			}
		})
	}
}
