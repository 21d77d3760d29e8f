package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/store"
)

// Environment of a child process started by these tests: asFerryEnv makes
// the test binary run the ferry command line (main's signal handling
// included); childTestEnv makes it run one test, so that a fault that
// escaped would kill the child and not the test run.
const (
	asFerryEnv   = "FERRY_TEST_AS_FERRY"
	childTestEnv = "FERRY_TEST_CHILD"
)

func init() {
	if os.Getenv(asFerryEnv) != "1" {
		return
	}
	// As main does.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := New()
	root.SetArgs(os.Args[1:])
	err := root.ExecuteContext(ctx)
	stop()
	os.Exit(ExitCode(root, err))
}

// runInChild runs the calling test in a child test binary. It returns true
// in the child.
func runInChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childTestEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childTestEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("%s in a child process: %v\n%s", t.Name(), err, out)
	}
	return false
}

// storeSite imports two kits of a channel into a store and writes what the
// commands need: the kits, the root, an SBOM. It returns the directory.
func storeSite(t *testing.T) (dir, st string) {
	t.Helper()
	dir = t.TempDir()
	c := fixtures.NewChannel("acme")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := fixtures.SampleFiles()
	k1 := write("acme-1.kit.tar.zst", fixtures.Kit(c, files, fixtures.KitOptions{Version: 1}))
	files["docs/README.md"] = []byte("v2\n")
	write("acme-2.kit.tar.zst", fixtures.Kit(c, files, fixtures.KitOptions{Version: 2}))
	files["docs/README.md"] = []byte("v3\n")
	write("acme-3.kit.tar.zst", fixtures.Kit(c, files, fixtures.KitOptions{Version: 3}))
	root := write("root.json", c.Root())
	write("app.cdx.json", []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"golang.org/x/net","version":"v0.1.0","purl":"pkg:golang/golang.org/x/net@v0.1.0"}]}`))
	st = filepath.Join(dir, "store")
	for _, args := range [][]string{{"import", k1, "--root", root}, {"import", filepath.Join(dir, "acme-2.kit.tar.zst")}} {
		if out, errOut, code := runFerry(t, append(args, "--store", st, testAt, "--reason", "test clock")...); code != ExitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	return dir, st
}

const testAt = "--at=2026-11-28T01:00:00Z"

// storeCommands is every command that opens the store, as run on st.
func storeCommands(dir, st string) [][]string {
	return [][]string{
		{"store", "info", "--store", st, testAt},
		{"store", "log", "--store", st},
		{"store", "inventory", "--store", st},
		{"store", "query", "--store", st, "--advisory", "GO-2024-0001"},
		{"store", "query", "--store", st, "--package", "Go/golang.org/x/net"},
		{"store", "query", "--store", st, "--vuln", "GO-2024-0001"},
		{"images", "list", "--store", st},
		{"verify", filepath.Join(dir, "acme-2.kit.tar.zst"), "--store", st, testAt},
		{"scan", "sbom:" + filepath.Join(dir, "app.cdx.json"), "--store", st},
		{"store", "check", "--store", st},
		{"store", "gc", "--store", st},
		{"import", filepath.Join(dir, "acme-3.kit.tar.zst"), "--store", st, testAt, "--dry-run"},
		{"import", filepath.Join(dir, "acme-3.kit.tar.zst"), "--store", st, testAt, "--reason", "test clock"},
		{"store", "migrate", "--store", st},
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDamagedStoreCommands truncates ferry.db at every 4 KiB up to 128 KiB
// and overwrites seeded random pages, and runs every command that opens
// the store: each exits 4 with a message that names the store and says to
// run ferry store check, or succeeds where the damage is in a page it does
// not read; none panics (a panic exits 2) or faults.
func TestDamagedStoreCommands(t *testing.T) {
	if !runInChild(t) {
		return
	}
	dir, base := storeSite(t)
	for _, args := range storeCommands(dir, base)[:10] {
		if out, errOut, code := runFerry(t, args...); code != ExitOK {
			t.Fatalf("healthy store: %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	fi, err := os.Stat(filepath.Join(base, "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	type damage struct {
		name string
		do   func(db string) error
	}
	var cases []damage
	for n := int64(4 << 10); n < fi.Size() && n <= 128<<10; n += 4 << 10 {
		cases = append(cases, damage{fmt.Sprintf("truncated to %d", n), func(db string) error { return os.Truncate(db, n) }})
	}
	rng := rand.New(rand.NewPCG(7, 2026))
	for i := range 24 {
		page, seed := rng.Int64N(fi.Size()/4096), rng.Uint64()
		cases = append(cases, damage{fmt.Sprintf("page %d overwritten (%d)", page, i), func(db string) error {
			buf := make([]byte, 4096)
			r := rand.New(rand.NewPCG(seed, 1))
			for j := range buf {
				buf[j] = byte(r.Uint32())
			}
			f, err := os.OpenFile(db, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			if _, err := f.WriteAt(buf, page*4096); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}})
	}
	failed := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := filepath.Join(t.TempDir(), "store")
			copyTree(t, base, st)
			if err := tc.do(filepath.Join(st, "ferry.db")); err != nil {
				t.Fatal(err)
			}
			// store check first: whatever another command finds, check
			// must have found too.
			checkOut, checkErr, checkCode := runFerry(t, "store", "check", "--store", st)
			checkFailed := checkCode != ExitOK
			if checkFailed && (checkCode != ExitOther || !strings.Contains(checkOut+checkErr, "damaged")) {
				t.Errorf("store check: exit %d\n%s%s", checkCode, checkOut, checkErr)
			}
			for _, args := range storeCommands(dir, st) {
				out, errOut, code := runFerry(t, args...)
				name := strings.Join(args[:2], " ")
				switch {
				case code == ExitOK:
				case code == ExitOther && strings.Contains(errOut, st) && strings.Contains(errOut, "run ferry store check"):
					failed++
				case code == ExitOther && args[1] == "check" && strings.Contains(out, "damaged:"):
					failed++
				default:
					t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", name, code, out, errOut)
				}
				if code != ExitOK && !checkFailed && args[1] != "check" {
					t.Errorf("%s failed but store check found the store healthy: %s", name, errOut)
				}
			}
		})
	}
	t.Logf("%d cases, %d failing commands", len(cases), failed)
	if failed == 0 {
		t.Error("no command noticed any damage")
	}
}

func TestStoreCheckCommand(t *testing.T) {
	_, st := storeSite(t)
	out, errOut, code := runFerry(t, "store", "check", "--store", st, "--json")
	var rep store.CheckReport
	if code != ExitOK || json.Unmarshal([]byte(out), &rep) != nil || !rep.Healthy || rep.Schema != store.CheckSchema || rep.Blobs == 0 {
		t.Fatalf("healthy: exit %d\n%s%s", code, out, errOut)
	}
	inv, _, _ := runFerry(t, "store", "inventory", "--store", st)
	var have store.Inventory
	if err := json.Unmarshal([]byte(inv), &have); err != nil {
		t.Fatal(err)
	}
	d := have.Channels[0].Files["docs/README.md"]
	if err := os.WriteFile(filepath.Join(st, "blobs", "sha256", d), []byte("v9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runFerry(t, "store", "check", "--store", st)
	if code != ExitOther || !strings.Contains(out, "blob-corrupt") || !strings.Contains(out, d) || !strings.Contains(errOut, "store damaged") {
		t.Fatalf("corrupt blob: exit %d\n%s%s", code, out, errOut)
	}
}

// TestReadOnlyCommandsDoNotMigrate: a store of an older schema is refused
// by every reading command, unchanged, with the way to upgrade it; store
// migrate upgrades it.
func TestReadOnlyCommandsDoNotMigrate(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "store")
	copyTree(t, filepath.Join("..", "..", "..", "store", "testdata", "schema1"), st)
	snap := func() string {
		var b strings.Builder
		filepath.WalkDir(st, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				data, _ := os.ReadFile(p)
				fmt.Fprintf(&b, "%s %x\n", p, data)
			}
			return nil
		})
		return b.String()
	}
	before := snap()
	for _, args := range [][]string{
		{"store", "info", "--store", st},
		{"store", "log", "--store", st},
		{"store", "inventory", "--store", st},
		{"store", "query", "--store", st, "--advisory", "GO-2024-0001"},
		{"images", "list", "--store", st},
		{"scan", "sbom:" + filepath.Join(dir, "none.json"), "--store", st},
	} {
		_, errOut, code := runFerry(t, args...)
		if code != ExitOther || !strings.Contains(errOut, "ferry store migrate") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
	if before != snap() {
		t.Fatal("a reading command changed an older store")
	}
	if out, errOut, code := runFerry(t, "store", "migrate", "--store", st); code != ExitOK {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runFerry(t, "store", "log", "--store", st); code != ExitOK {
		t.Fatalf("log after migrate: exit %d\n%s%s", code, out, errOut)
	}
}

// TestImportNotAKit: ferry import of /dev/zero ends at once (exit 3) and
// leaves no store.
func TestImportNotAKit(t *testing.T) {
	st := filepath.Join(t.TempDir(), "store")
	done := make(chan int, 1)
	go func() {
		_, _, code := runFerry(t, "import", "/dev/zero", "--store", st, "--root", "/dev/null", testAt, "--reason", "test clock")
		done <- code
	}()
	select {
	case code := <-done:
		if code != ExitVerification {
			t.Errorf("exit %d, want %d", code, ExitVerification)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ferry import /dev/zero is still reading")
	}
	if _, err := os.Stat(st); !os.IsNotExist(err) {
		t.Errorf("a failed first import left the store directory (%v)", err)
	}
}

// TestImportSIGTERM sends SIGTERM to ferry import reading a kit from a
// pipe that stalls: it exits 4 within a second, moves nothing to
// quarantine, releases the lock, and the next import succeeds.
func TestImportSIGTERM(t *testing.T) {
	dir, st := storeSite(t)
	kit3, err := os.ReadFile(filepath.Join(dir, "acme-3.kit.tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "kit.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cmd := exec.Command(os.Args[0], "import", fifo, "--store", st, testAt, "--reason", "test clock", "--quarantine", filepath.Join(dir, "q"))
	cmd.Env = append(os.Environ(), asFerryEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Half the kit, then nothing: the import waits in a read.
	if _, err := w.Write(kit3[:len(kit3)/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("ferry import ignored SIGTERM\n%s", stderr.String())
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("ferry import took %s to stop after SIGTERM", d)
	}
	if code := cmd.ProcessState.ExitCode(); code != ExitOther {
		t.Errorf("exit %d after SIGTERM, want %d\n%s", code, ExitOther, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "q")); !os.IsNotExist(err) {
		t.Error("an interrupted import quarantined the kit")
	}
	out, errOut, code := runFerry(t, "import", filepath.Join(dir, "acme-3.kit.tar.zst"), "--store", st, testAt, "--reason", "test clock", "--lock-timeout", "2s")
	if code != ExitOK || !strings.Contains(out, "version 3") {
		t.Fatalf("import after SIGTERM: exit %d\n%s%s", code, out, errOut)
	}
	_ = io.Discard
}

// TestQuarantineSymlinkedKit: the file a symlinked kit points to is moved
// into quarantine, and the link is gone: the bad kit is out of the import
// path.
func TestQuarantineSymlinkedKit(t *testing.T) {
	dir, st := storeSite(t)
	media := filepath.Join(dir, "media")
	if err := os.MkdirAll(media, 0o755); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(media, "acme-3.kit.tar.zst")
	if err := os.Rename(filepath.Join(dir, "acme-3.kit.tar.zst"), real); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "incoming.kit.tar.zst")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "quarantine")
	_, errOut, code := runFerry(t, "import", link, "--store", st, "--at=2027-06-01T00:00:00Z", "--reason", "test clock", "--quarantine", q)
	if code != ExitVerification || !strings.Contains(errOut, "quarantined") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, p := range []string{real, link} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after quarantine", p)
		}
	}
	fi, err := os.Lstat(filepath.Join(q, "incoming.kit.tar.zst"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("quarantined kit: %v, %v", fi, err)
	}
}
