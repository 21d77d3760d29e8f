package scan

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestEvidenceBackgroundRead: symbol tables read in the background while
// the scan goes on give the report of tables read in the extractor, for a
// directory, an OCI layout (files under the scratch root, removed when the
// inventory ends) and a docker save archive (layers read in place, the
// archive closed when the tables are read, which may be after the
// inventory ends), with more binaries than background readers.
func TestEvidenceBackgroundRead(t *testing.T) {
	bins := goPrograms(t)
	adv, err := LoadOSV(context.Background(), filepath.Join("testdata", "gosyms", "osv"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile(bins["plain"])
	if err != nil {
		t.Fatal(err)
	}
	stripped, err := os.ReadFile(bins["stripped"])
	if err != nil {
		t.Fatal(err)
	}
	files := []entry{{"bin/a", plain, 0o755}, {"bin/b", stripped, 0o755}, {"usr/local/bin/c", plain, 0o755}}

	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, e := range files {
		p := filepath.Join(root, filepath.FromSlash(e.name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, e.body, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	img, err := mutate.AppendLayers(empty.Image, tarLayer(t, files...))
	if err != nil {
		t.Fatal(err)
	}
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.tar")
	writeDockerSave(t, archive, img, -1)

	scan := func(target string, readers int) string {
		t.Helper()
		defer func(n int) { backgroundSymbolReads = n }(backgroundSymbolReads)
		backgroundSymbolReads = readers
		rep, err := Scan(context.Background(), target, adv, Options{Evidence: true})
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		j, err := json.MarshalIndent(rep, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		return string(j)
	}
	for _, target := range []string{"dir:" + root, "oci:" + filepath.Join(dir, "layout"), "docker-archive:" + archive, filepath.Join(root, "bin", "b")} {
		name, _, ok := strings.Cut(target, ":")
		if !ok {
			name = "file"
		}
		t.Run(name, func(t *testing.T) {
			want := scan(target, 0)
			var rep Report
			json.Unmarshal([]byte(want), &rep)
			n := 0
			for _, f := range rep.Findings {
				if f.Evidence != nil {
					n++
				}
			}
			if n == 0 || strings.Contains(want, "Go symbols not read") {
				t.Fatalf("reading in the extractor: %d findings with evidence, not evaluated %+v", n, rep.NotEvaluated)
			}
			for _, readers := range []int{1, 2, 8} {
				if d := cmp.Diff(want, scan(target, readers)); d != "" {
					t.Errorf("%d background readers vs none (-want +got):\n%s", readers, d)
				}
			}
		})
	}
}

// TestEvidenceNoFindingNoWait: a Go package without findings does not
// wait for its binary's table; a finding does.
func TestEvidenceNoFindingNoWait(t *testing.T) {
	tab := &symbolTable{done: make(chan struct{})} // read never ends
	st := &symbolTables{tabs: map[string]*symbolTable{"bin/app": tab}}
	loc := Location{Path: "bin/app"}
	inv := &InventoryResult{Packages: []Package{
		{Ecosystem: "Go", Name: "example.com/clean", Version: "1.0.0", Location: loc},
	}, symbols: st}
	adv := NewMemory(rec(t, `{"id":"GO-2099-0100","modified":"2024-01-01T00:00:00Z",
	 "affected":[{"package":{"ecosystem":"Go","name":"example.com/vuln"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.0"}]}]}]}`))
	match := func() chan *Report {
		c := make(chan *Report, 1)
		go func() {
			rep, err := MatchInventory(context.Background(), inv, adv, Options{Evidence: true})
			if err != nil {
				t.Error(err)
			}
			c <- rep
		}()
		return c
	}
	select {
	case rep := <-match():
		if len(rep.Findings) != 0 {
			t.Errorf("findings %+v", rep.Findings)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a package without findings waited for its symbol table")
	}

	inv.Packages = append(inv.Packages, Package{Ecosystem: "Go", Name: "example.com/vuln", Version: "1.0.0", Location: loc})
	c := match()
	select {
	case <-c:
		t.Fatal("a finding did not wait for its symbol table")
	case <-time.After(50 * time.Millisecond):
	}
	tab.syms = &goSymbols{pkgs: map[string]struct{}{}}
	close(tab.done)
	rep := <-c
	if len(rep.Findings) != 1 || rep.Findings[0].Evidence == nil || rep.Findings[0].Evidence.Level != EvidenceModule {
		t.Errorf("findings %+v, want one with evidence module", rep.Findings)
	}
}
