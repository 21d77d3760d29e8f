package images_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoRemote keeps the registry client out of the offline image package:
// it reads blobs from the store and never opens a connection.
func TestNoRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/ferry-dev/ferry/images").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/google/go-containerregistry/pkg/v1/remote" {
			t.Errorf("images depends on %s", p)
		}
	}
}
