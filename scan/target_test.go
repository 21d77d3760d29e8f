package scan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestScanBarePath: a target without a prefix is scanned by what it is:
// a lockfile, a Go binary (even without its executable bit), an SBOM, a
// directory; a file scan cannot read is an error, not a clean report.
func TestScanBarePath(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lock := write("package-lock.json", `{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/left-pad":{"version":"1.0.0"}}}`)
	sbom := write("app.cdx.json", `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
	 {"type":"library","bom-ref":"c1","name":"golang.org/x/text","version":"v0.3.5","purl":"pkg:golang/golang.org/x/text@v0.3.5"}]}`)
	other := write("notes.txt", "hello\n")
	// This test binary is a Go binary; copy it without the executable bit.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog")
	copyFile(t, exe, bin)
	if err := os.Chmod(bin, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		target, kind, eco, name string
	}{
		{lock, KindFile, "npm", "left-pad"},
		{bin, KindFile, "Go", "stdlib"},
		{sbom, KindSBOM, "Go", "golang.org/x/text"},
		{dir, KindDir, "npm", "left-pad"},
	} {
		t.Run(filepath.Base(c.target), func(t *testing.T) {
			rep, err := Scan(context.Background(), c.target, testAdvisories(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Target.Kind != c.kind || rep.Target.Ref != c.target {
				t.Errorf("target %+v, want kind %s", rep.Target, c.kind)
			}
			found := false
			for _, p := range rep.Packages {
				found = found || p.Ecosystem == c.eco && p.Name == c.name
			}
			if !found {
				t.Errorf("no %s %s among %d packages", c.eco, c.name, len(rep.Packages))
			}
		})
	}
	for _, bad := range []string{other, filepath.Join(dir, "missing")} {
		if _, err := Scan(context.Background(), bad, testAdvisories(t), Options{}); !errors.Is(err, ErrTarget) {
			t.Errorf("%s: err = %v, want ErrTarget", bad, err)
		}
	}
}
