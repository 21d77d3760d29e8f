// Package depcheck holds the test that keeps the network out of the offline
// packages and fixtures out of production code.
package depcheck

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ferry-dev/ferry"

// offline packages never open a network connection: they may not even
// link the HTTP client or go-containerregistry's remote package.
var offline = []string{"bundle", "verify", "store", "scan", "vex", "gate", "keys", "trust", "manifest", "osv", "enrich", "vexsite", "htmlreport", "kitdiff"}

var forbiddenOffline = []string{"net/http", "github.com/google/go-containerregistry/pkg/v1/remote"}

type pkg struct {
	ImportPath string
	Deps       []string
}

func list(t *testing.T, patterns ...string) []pkg {
	t.Helper()
	args := append([]string{"list", "-deps=false", "-json=ImportPath,Deps"}, patterns...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestOfflinePackagesHaveNoNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, p := range list(t, module+"/...") {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		top, _, _ := strings.Cut(rel, "/")
		if !slices.Contains(offline, top) {
			continue
		}
		for _, f := range forbiddenOffline {
			if slices.Contains(p.Deps, f) {
				t.Errorf("%s depends on %s: offline packages must not reach the network", p.ImportPath, f)
			}
		}
	}
}

func TestFixturesOnlyInTestsAndDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	allowed := []string{module + "/fixtures", module + "/internal/demo", module + "/cmd/ferry/cli", module + "/cmd/ferry"}
	for _, p := range list(t, module+"/...") {
		if slices.Contains(allowed, p.ImportPath) {
			continue
		}
		if slices.Contains(p.Deps, module+"/fixtures") {
			t.Errorf("%s (non-test code) depends on fixtures; only tests and the demo may", p.ImportPath)
		}
	}
}

// TestLeafRules keeps bundle free of the project (it may use only the
// leaf internal/parallel, which imports nothing of the project itself)
// and scan free of the store's database: scan reads plain data or small
// interfaces, storescan adapts the store to them.
func TestLeafRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	leaves := []string{module + "/internal/parallel"}
	for _, p := range list(t, module+"/bundle/...", module+"/internal/parallel", module+"/scan/...") {
		for _, d := range p.Deps {
			switch {
			case (strings.HasPrefix(p.ImportPath, module+"/bundle") || slices.Contains(leaves, p.ImportPath)) &&
				strings.HasPrefix(d, module+"/") && !slices.Contains(leaves, d):
				t.Errorf("%s depends on %s: bundle and the leaves it uses import nothing else of the project", p.ImportPath, d)
			case strings.HasPrefix(p.ImportPath, module+"/scan") && (d == module+"/store" || d == "go.etcd.io/bbolt"):
				t.Errorf("%s depends on %s: scan reads the store through its interfaces (storescan)", p.ImportPath, d)
			}
		}
	}
}

// TestFormatIsALeaf keeps package format, which both sides import, free of
// every dependency but the standard library.
func TestFormatIsALeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, p := range list(t, module+"/format") {
		for _, d := range p.Deps {
			if first, _, _ := strings.Cut(d, "/"); strings.Contains(first, ".") {
				t.Errorf("%s depends on %s: it may import only the standard library", p.ImportPath, d)
			}
		}
	}
}

// TestImagesHaveNoRemote: package images reads images out of the store
// offline. It may link net/http (sigstore-go's trusted-root code does), but
// never go-containerregistry's registry client.
func TestImagesHaveNoRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, p := range list(t, module+"/images/...") {
		if slices.Contains(p.Deps, "github.com/google/go-containerregistry/pkg/v1/remote") {
			t.Errorf("%s depends on go-containerregistry's remote package: images works offline", p.ImportPath)
		}
	}
}
