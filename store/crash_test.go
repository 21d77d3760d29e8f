package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
)

// buildFerry builds the ferry command into a temp dir.
func buildFerry(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ferry")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ferry-dev/ferry/cmd/ferry").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// randomFiles returns n incompressible files of size bytes, seeded.
func randomFiles(seed uint64, n, size int) map[string][]byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := map[string][]byte{}
	for i := range n {
		b := make([]byte, size)
		for j := 0; j+8 <= size; j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		m[fmt.Sprintf("images/blobs/sha256/%d-%03d", seed, i)] = b
	}
	return m
}

// TestCrashSafety SIGKILLs `ferry import` at 50 random points of an import
// of a kit of some MiB. After every kill the store opens, passes bbolt's
// Tx.Check, and holds exactly the old kit or the new one; gc then leaves
// no unreferenced blob and no staging file.
//
// The kill times are spread over the length of a whole import, measured
// again every few kills, since that length follows the load of the
// machine. The kills must land on both sides of the commit; when they do
// not (the machine slowed down or sped up between the measurements), more
// kills are sent, each later than every kill that left the old kit or
// earlier than every kill that left the new one, a bounded number of them.
func TestCrashSafety(t *testing.T) {
	kills := 50
	if testing.Short() {
		kills = 10
	}
	tb := time.Now()
	bin := buildFerry(t)
	t.Logf("built ferry in %s", time.Since(tb))
	tl := time.Now()
	defer func() { t.Logf("kill loop %s", time.Since(tl)) }()
	c := fixtures.NewChannel("acme")
	work := t.TempDir()

	files1, files2 := kitFiles(1), kitFiles(2)
	for p, b := range randomFiles(1, 8, 192<<10) {
		files1[p], files2[p] = b, b // shared with the new kit
	}
	for p, b := range randomFiles(2, 12, 192<<10) {
		files2[p] = b // new in kit 2
	}
	kit2 := filepath.Join(work, "acme-2.kit.tar.zst")
	if err := os.WriteFile(kit2, fixtures.Kit(c, files2, fixtures.KitOptions{Version: 2}), 0o644); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(work, "base")
	bs, err := Open(context.Background(), base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustImport(t, bs, fixtures.Kit(c, files1, fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	want := map[int64]map[string]string{1: digests(files1), 2: digests(files2)}

	importCmd := func(dir string) *exec.Cmd {
		return exec.Command(bin, "import", kit2, "--store", dir, "--at", at.Format(time.RFC3339), "--reason", "test clock", "--operator", "crash")
	}
	// probe times a whole import, to spread the kills over it.
	probe := func() time.Duration {
		dir := filepath.Join(work, "probe")
		copyDir(t, base, dir)
		defer os.RemoveAll(dir)
		t0 := time.Now()
		if out, err := importCmd(dir).CombinedOutput(); err != nil {
			t.Fatalf("import: %v\n%s", err, out)
		}
		return time.Since(t0)
	}

	// kill starts an import into a copy of the old store, kills it after
	// delay, checks the store it left and returns the version it holds.
	n := 0
	kill := func(delay time.Duration) int64 {
		i := n
		n++
		dir := filepath.Join(work, fmt.Sprintf("kill-%02d", i))
		copyDir(t, base, dir)
		defer os.RemoveAll(dir)
		cmd := importCmd(dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		s, err := Open(context.Background(), dir, Options{})
		if err != nil {
			t.Fatalf("kill %d after %s: open: %v", i, delay, err)
		}
		rep, err := s.Check(context.Background())
		if err != nil {
			t.Fatalf("kill %d after %s: check: %v", i, delay, err)
		}
		// A killed import may leave staging files (gc removes them
		// below); anything else is damage.
		for _, p := range rep.Problems {
			if p.Kind != ProblemStaging {
				t.Fatalf("kill %d after %s: check: %s", i, delay, p)
			}
		}
		inv, err := s.Inventory(context.Background())
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		ch := inv.Channels[0]
		if d := diff(want[ch.Version], ch.Files); d != "" {
			t.Fatalf("kill %d after %s: version %d with other files:\n%s", i, delay, ch.Version, d)
		}
		if _, err := s.GCHistory(context.Background(), 0); err != nil {
			t.Fatalf("kill %d: gc --keep 0: %v", i, err)
		}
		if _, err := s.GC(context.Background()); err != nil {
			t.Fatalf("kill %d: gc: %v", i, err)
		}
		blobs := listDir(t, filepath.Join(dir, blobsDir))
		referenced := map[string]bool{}
		for _, d := range ch.Files {
			referenced[d] = true
		}
		if len(blobs) != len(referenced) {
			t.Errorf("kill %d: %d blobs after gc, %d referenced", i, len(blobs), len(referenced))
		}
		for _, b := range blobs {
			data, err := os.ReadFile(filepath.Join(dir, blobsDir, b))
			if sum := sha256.Sum256(data); err != nil || hex.EncodeToString(sum[:]) != b {
				t.Errorf("kill %d: blob %s does not hold its digest", i, b)
			}
		}
		if tmp := listDir(t, filepath.Join(dir, tmpDir)); len(tmp) != 0 {
			t.Errorf("kill %d: staging files after gc: %v", i, tmp)
		}
		return ch.Version
	}

	rng := rand.New(rand.NewPCG(42, 42))
	states := map[int64]int{}
	// The latest kill that left the old kit and the earliest that left
	// the new one.
	var lastOld, firstNew time.Duration
	record := func(delay time.Duration, v int64) {
		states[v]++
		if v == 1 {
			lastOld = max(lastOld, delay)
		} else if firstNew == 0 || delay < firstNew {
			firstNew = delay
		}
	}
	full := probe()
	probes := []time.Duration{full}
	for i := range kills {
		if i > 0 && i%10 == 0 {
			full = probe()
			probes = append(probes, full)
		}
		delay := time.Duration(rng.Int64N(int64(full + full/5)))
		record(delay, kill(delay))
	}
	t.Logf("%d kills over imports of %v: %d left the old kit, %d the new", kills, probes, states[1], states[2])
	const extra = 20
	for try := 0; try < extra && (states[1] == 0 || states[2] == 0); try++ {
		var delay time.Duration
		if states[2] == 0 {
			delay = lastOld + lastOld/2 + time.Millisecond
		} else {
			delay = firstNew / 2
		}
		v := kill(delay)
		t.Logf("one more kill after %s: version %d", delay, v)
		record(delay, v)
	}
	if states[1] == 0 || states[2] == 0 {
		t.Errorf("the kills did not cover both sides of the commit: %v", states)
	}
}

func digests(files map[string][]byte) map[string]string {
	out := map[string]string{}
	for p, b := range files {
		out[p] = sha256Hex(b)
	}
	return out
}
