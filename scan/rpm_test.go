package scan

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDistroEcosystemOf(t *testing.T) {
	for _, tt := range []struct{ id, ver, want string }{
		{"almalinux", "9.4", "AlmaLinux:9"},
		{"almalinux", "8", "AlmaLinux:8"},
		{"almalinux", "", "AlmaLinux"},
		{"rocky", "8.9", "Rocky Linux:8"},
		{"debian", "12", "Debian:12"},
		{"alpine", "3.18.4", "Alpine:v3.18"},
	} {
		if got := distroEcosystemOf(map[string]string{"ID": tt.id, "VERSION_ID": tt.ver}); got != tt.want {
			t.Errorf("%s %s: got %q, want %q", tt.id, tt.ver, got, tt.want)
		}
	}
}

// TestAlmaLinuxRPMDB reads the rpm database of testdata/ecosystems/rpm
// (AlmaLinux 9.4, make-rpmdb.sh there): its packages are AlmaLinux:9, so an
// AlmaLinux:9 record matches and the AlmaLinux:8 record of the same
// package does not.
func TestAlmaLinuxRPMDB(t *testing.T) {
	alma9 := `{"id":"ALSA-9","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"AlmaLinux:9","name":"openssl-libs"},
 "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:3.0.7-28.el9_4"}]}]}]}`
	alma8 := `{"id":"ALSA-8","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"AlmaLinux:8","name":"openssl-libs"},
 "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:9.0.0-1.el8"}]}]}]}`
	rep, err := Scan(context.Background(), "dir:testdata/ecosystems/rpm", NewMemory(rec(t, alma9), rec(t, alma8)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Packages) != 21 || rep.Packages[0].Ecosystem != "AlmaLinux:9" {
		t.Fatalf("packages: %d, first %+v", len(rep.Packages), rep.Packages[0])
	}
	i := slices.IndexFunc(rep.Packages, func(p Package) bool { return p.Name == "openssl-libs" })
	if i < 0 || rep.Packages[i].Version != "1:3.0.7-27.el9" || rep.Packages[i].SourceName != "openssl" {
		t.Fatalf("openssl-libs: %+v", rep.Packages)
	}
	if d := cmp.Diff([]string{"ALSA-9=ALSA-9"}, ids(rep.Findings)); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
}
