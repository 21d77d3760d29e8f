package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
)

// TestMirrorRefusesSecrets: a kit.yaml whose files source takes in the
// channel's own keys, or reaches outside its directory, is refused by
// mirror --check (no network, nothing written) and by mirror itself, which
// leaves nothing at -o.
func TestMirrorRefusesSecrets(t *testing.T) {
	dir := site(t)
	outside := filepath.Join(t.TempDir(), "elsewhere.txt")
	write(t, outside, "not beside kit.yaml\n")
	for _, tc := range []struct {
		name, files, code, names string
	}{
		{"the channel's keys", "  - src: keys/\n    dest: keys/\n", "SPEC_PRIVATE_KEY_GIVEN", filepath.Join("keys", "root.key")},
		{"the whole directory", "  - src: .\n    dest: all/\n", "SPEC_PRIVATE_KEY_GIVEN", filepath.Join("keys", "signer.key")},
		{"outside", "  - src: " + outside + "\n    dest: misc/\n", "SPEC_OUTSIDE_SPEC_DIR", "allowOutside: true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(t, filepath.Join(dir, "leaky.yaml"), kitYAML+tc.files)
			r := ferry(t, dir, "mirror", "-f", "leaky.yaml", "--check")
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.code) || !strings.Contains(r.stderr, tc.names) || !strings.Contains(r.stderr, "files[2]") {
				t.Fatalf("mirror --check: exit %d, want %d with %s naming files[2] and %s\n%s", r.code, cli.ExitUsage, tc.code, tc.names, r.stderr)
			}
			r = ferry(t, dir, "mirror", "-f", "leaky.yaml", "-o", "leaky.kit.tar.zst", "--key", "keys/signer.key", "--no-progress")
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.code) {
				t.Fatalf("mirror: exit %d, want %d with %s\n%s", r.code, cli.ExitUsage, tc.code, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "leaky.kit.tar.zst")); !os.IsNotExist(err) {
				t.Errorf("mirror left a kit behind: %v", err)
			}
		})
	}
	// With allowOutside: true the file outside is carried.
	write(t, filepath.Join(dir, "outside.yaml"), kitYAML+"  - src: "+outside+"\n    dest: misc/\n    allowOutside: true\n")
	mustFerry(t, dir, "mirror", "-f", "outside.yaml", "--check")
}

// TestMirrorRefusesOpenSigningKey: a signing key file that others may read
// is refused, saying how to fix it; the same key from env:VAR is taken.
func TestMirrorRefusesOpenSigningKey(t *testing.T) {
	dir := site(t)
	key := filepath.Join(dir, "keys", "signer.key")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	r := ferry(t, dir, "mirror", "-f", "kit.yaml", "-o", "acme.kit.tar.zst", "--key", "keys/signer.key", "--no-progress")
	if r.code == cli.ExitOK || !strings.Contains(r.stderr, "chmod 600 keys/signer.key") {
		t.Fatalf("mirror with a world-readable key: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "acme.kit.tar.zst")); !os.IsNotExist(err) {
		t.Errorf("mirror wrote a kit: %v", err)
	}
	data, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FERRY_TEST_SIGNING_KEY", string(data))
	mustFerry(t, dir, "mirror", "-f", "kit.yaml", "-o", "acme.kit.tar.zst", "--key", "env:FERRY_TEST_SIGNING_KEY", "--no-progress")
}
