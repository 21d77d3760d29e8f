package cli_test

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

const deltaOSRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"

const deltaDpkgStatus = "Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.11-1~deb12u1\nArchitecture: amd64\n"

// deltaImage is an image on the shared Debian base layer with an app
// layer of its own.
func deltaImage(t *testing.T, app string) v1.Image {
	t.Helper()
	// The base layer's bulk does not compress: the kits are mostly images.
	bulk := make([]byte, 256<<10)
	rnd := mrand.New(mrand.NewPCG(1, 2))
	for i := range bulk {
		bulk[i] = byte(rnd.Uint32())
	}
	base, err := crane.Layer(map[string][]byte{"etc/os-release": []byte(deltaOSRelease), "var/lib/dpkg/status": []byte(deltaDpkgStatus), "usr/lib/bulk.bin": bulk})
	if err != nil {
		t.Fatal(err)
	}
	top, err := crane.Layer(map[string][]byte{"srv/app.txt": []byte(app)})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, base, top)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func deltaAdvisory(id, modified, fixed string) string {
	return fmt.Sprintf(`{"schema_version":"1.6.0","id":%q,"modified":%q,"published":"2026-11-01T00:00:00Z","summary":"openssl flaw %s",`+
		`"affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":%q}]}]}]}`,
		id, modified, id, fixed)
}

// TestDeltaKitEndToEnd mirrors versions 1 and 2 of a channel (one of two
// images rebuilt on the shared base layer, one advisory modified, one
// added), as full kits and as deltas against kit 1 and against the site's
// have-list, and checks that each delta imported onto kit 1 leaves the
// store as the full kit 2 does: the same inventory, the same scan.
func TestDeltaKitEndToEnd(t *testing.T) {
	reg := newTestRegistry(t, "", "")
	dir := site(t)
	api := reg.host + "/app/api"
	web := reg.host + "/app/web"
	pushTo(t, web+":1", deltaImage(t, "web 1"))
	osvDir := filepath.Join(dir, "osv")
	write(t, filepath.Join(osvDir, "A-1.json"), deltaAdvisory("DELTA-2026-0001", "2026-11-01T00:00:00Z", "3.0.13-1~deb12u1"))
	write(t, filepath.Join(osvDir, "A-2.json"), deltaAdvisory("DELTA-2026-0002", "2026-11-01T00:00:00Z", "3.0.9-1"))

	mirror := func(version int, out string, extra ...string) {
		t.Helper()
		spec := fmt.Sprintf("name: acme-%d\nchannel: acme-feeds\nversion: %d\ncreated: 2026-11-%02dT00:00:00Z\nexpires: 30d\n"+
			"images:\n  - ref: %s:%d\n  - ref: %s:1\nregistries:\n  %s: {insecure: true}\nadvisories:\n  - name: distro\n    osv: {dir: ./osv}\n",
			version, version, 27+version, api, version, web, reg.host)
		write(t, filepath.Join(dir, "kit.yaml"), spec)
		mustFerry(t, dir, append([]string{"mirror", "-f", "kit.yaml", "-o", out, "--key", "keys/signer.key", "--no-progress"}, extra...)...)
	}
	pushTo(t, api+":1", deltaImage(t, "api 1"))
	mirror(1, "v1.kit.tar.zst")

	// Day 2: api rebuilt on the same base, one advisory modified, one added.
	apiDigest := pushTo(t, api+":2", deltaImage(t, "api 2"))
	write(t, filepath.Join(osvDir, "A-2.json"), deltaAdvisory("DELTA-2026-0002", "2026-11-29T00:00:00Z", "3.0.12-1"))
	write(t, filepath.Join(osvDir, "A-3.json"), deltaAdvisory("DELTA-2026-0003", "2026-11-29T00:00:00Z", "3.0.14-1"))
	mirror(2, "v2.kit.tar.zst")
	mirror(2, "v2.delta.kit.tar.zst", "--base", "v1.kit.tar.zst")
	mirror(2, "v2.delta-again.kit.tar.zst", "--base", "v1.kit.tar.zst")
	a, _ := os.ReadFile(filepath.Join(dir, "v2.delta.kit.tar.zst"))
	b, _ := os.ReadFile(filepath.Join(dir, "v2.delta-again.kit.tar.zst"))
	if len(a) == 0 || string(a) != string(b) {
		t.Errorf("two deltas of the same inputs differ (%d and %d bytes)", len(a), len(b))
	}

	size := func(name string) int64 {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if d, f := size("v2.delta.kit.tar.zst"), size("v2.kit.tar.zst"); d*2 > f {
		t.Errorf("the delta is %d bytes, the full kit %d", d, f)
	}

	// verify says what the delta needs.
	out := mustFerry(t, dir, "verify", "v2.delta.kit.tar.zst", "--root", "trust/root.json", "--at", verifyAt).stdout
	if !strings.Contains(out, "needs") || !strings.Contains(out, "channel acme-feeds version 1") {
		t.Errorf("verify of the delta does not say its base:\n%s", out)
	}

	imp := func(st, kit string, pin bool) result {
		t.Helper()
		args := []string{"import", kit, "--store", st, "--at", verifyAt, "--reason", "test clock"}
		if pin {
			args = append(args, "--root", "trust/root.json")
		}
		return ferry(t, dir, args...)
	}
	full := filepath.Join(dir, "full")
	if r := imp(full, "v2.kit.tar.zst", true); r.code != cli.ExitOK {
		t.Fatalf("import full 2: %d %s", r.code, r.stderr)
	}
	inventory := func(st string) string {
		return mustFerry(t, dir, "store", "inventory", "--store", st, "--json").stdout
	}
	scan := func(st string) string {
		r := ferry(t, dir, "scan", apiDigest.String(), "--store", st, "--format", "json", "--at", verifyAt)
		if r.code != cli.ExitOK && r.code != cli.ExitBlocked {
			t.Fatalf("scan: exit %d: %s", r.code, r.stderr)
		}
		return strings.ReplaceAll(r.stdout, st, "STORE")
	}
	wantInv, wantScan := inventory(full), scan(full)
	if !strings.Contains(wantScan, "DELTA-2026-0003") {
		t.Fatalf("the scan of the full store misses the new advisory:\n%s", wantScan)
	}

	// A delta onto a store without its base is refused and changes nothing.
	empty := filepath.Join(dir, "empty")
	if r := imp(empty, "v2.delta.kit.tar.zst", true); r.code != cli.ExitVerification || !strings.Contains(r.stdout+r.stderr, "KIT_BASE_MISMATCH") {
		t.Errorf("delta onto an empty store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	t.Run("base", func(t *testing.T) {
		st := filepath.Join(dir, "chain")
		if r := imp(st, "v1.kit.tar.zst", true); r.code != cli.ExitOK {
			t.Fatalf("import 1: %s", r.stderr)
		}
		mustFerry(t, dir, "verify", "v2.delta.kit.tar.zst", "--store", st, "--at", verifyAt)
		if r := ferry(t, dir, "verify", "v2.delta.kit.tar.zst", "--store", full, "--at", verifyAt); r.code != cli.ExitVerification {
			t.Errorf("verify of delta 2 against a store at 2: exit %d", r.code)
		}
		if r := imp(st, "v2.delta.kit.tar.zst", false); r.code != cli.ExitOK {
			t.Fatalf("import delta 2: %s", r.stderr)
		}
		if got := inventory(st); got != wantInv {
			t.Errorf("inventory after 1 + delta:\n%s\nafter full 2:\n%s", got, wantInv)
		}
		if got := scan(st); got != wantScan {
			t.Errorf("scan after 1 + delta:\n%s\nafter full 2:\n%s", got, wantScan)
		}
	})

	t.Run("have-list", func(t *testing.T) {
		st := filepath.Join(dir, "site")
		if r := imp(st, "v1.kit.tar.zst", true); r.code != cli.ExitOK {
			t.Fatalf("import 1: %s", r.stderr)
		}
		mustFerry(t, dir, "store", "inventory", "--store", st, "--have", "-o", "have.json")
		var have struct {
			Channels []struct{ Version int64 } `json:"channels"`
		}
		data, _ := os.ReadFile(filepath.Join(dir, "have.json"))
		if err := json.Unmarshal(data, &have); err != nil || len(have.Channels) != 1 || have.Channels[0].Version != 1 {
			t.Fatalf("have.json: %v\n%s", err, data)
		}
		mirror(2, "v2.have.kit.tar.zst", "--have", "have.json")
		if d, f := size("v2.have.kit.tar.zst"), size("v2.kit.tar.zst"); d*2 > f {
			t.Errorf("the have-list delta is %d bytes, the full kit %d", d, f)
		}
		if r := imp(st, "v2.have.kit.tar.zst", false); r.code != cli.ExitOK {
			t.Fatalf("import have-list delta: %s", r.stderr)
		}
		if got := inventory(st); got != wantInv {
			t.Errorf("inventory after 1 + have-list delta:\n%s\nafter full 2:\n%s", got, wantInv)
		}
		if got := scan(st); got != wantScan {
			t.Errorf("scan after 1 + have-list delta:\n%s\nafter full 2:\n%s", got, wantScan)
		}
	})

	t.Run("base of another channel", func(t *testing.T) {
		write(t, filepath.Join(dir, "kit.yaml"), strings.Replace(kitYAML, "channel: acme-feeds", "channel: other", 1))
		r := ferry(t, dir, "mirror", "-f", "kit.yaml", "-o", "x.kit.tar.zst", "--key", "keys/signer.key", "--base", "v1.kit.tar.zst", "--no-progress")
		if r.code == cli.ExitOK {
			t.Errorf("a delta against a base of another channel was built")
		}
		if _, err := os.Stat(filepath.Join(dir, "x.kit.tar.zst")); err == nil {
			t.Errorf("the refused delta was written")
		}
	})
}
