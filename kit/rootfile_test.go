package kit

import (
	"path/filepath"
	"testing"
)

func TestSpecRootFile(t *testing.T) {
	dir := filepath.Join("site", "feeds")
	for _, tc := range []struct {
		name, specRoot, override, want string
	}{
		{"the flag wins", filepath.Join(dir, "roots", "acme.json"), "other/root.json", "other/root.json"},
		{"then kit.yaml's root", filepath.Join(dir, "roots", "acme.json"), "", filepath.Join(dir, "roots", "acme.json")},
		{"else trust/root.json beside kit.yaml", "", "", filepath.Join(dir, "trust", "root.json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Spec{File: filepath.Join(dir, "kit.yaml"), Root: tc.specRoot}
			if got := s.RootFile(tc.override); got != tc.want {
				t.Errorf("RootFile(%q) = %q, want %q", tc.override, got, tc.want)
			}
		})
	}
}
