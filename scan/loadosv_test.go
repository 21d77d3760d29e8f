package scan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadOSVStopsAtFirstBadFile checks that loading stops reading once a
// file fails: a reader that opens a file after the failure must find its
// context cancelled (it took the file before it could know), and
// nothing is still reading when LoadOSV has returned.
func TestLoadOSVStopsAtFirstBadFile(t *testing.T) {
	errUnreadable := errors.New("unreadable")
	for _, tc := range []struct {
		name string
		bad  int // index of the file that cannot be read
		ext  string
	}{
		{"first .json", 0, ".json"},
		{"a .json in the middle", 100, ".json"},
		{"a .jsonl", 3, ".jsonl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 300
			dir := t.TempDir()
			var files []string
			for i := range n {
				ext := ".json"
				if i == tc.bad {
					ext = tc.ext
				}
				p := filepath.Join(dir, fmt.Sprintf("%03d%s", i, ext))
				rec := fmt.Sprintf(`{"id":"GO-%d","affected":[{"package":{"ecosystem":"Go","name":"example.com/m%d"}}]}`, i, i)
				if err := os.WriteFile(p, []byte(rec), 0o644); err != nil {
					t.Fatal(err)
				}
				files = append(files, p)
			}
			var failed atomic.Bool
			var opened, notStopped atomic.Int64
			open := func(ctx context.Context, name string) (*os.File, error) {
				opened.Add(1)
				if name == files[tc.bad] {
					failed.Store(true)
					return nil, &os.PathError{Op: "open", Path: name, Err: errUnreadable}
				}
				if failed.Load() {
					// Give the failure time to reach this reader.
					select {
					case <-ctx.Done():
					case <-time.After(200 * time.Millisecond):
						notStopped.Add(1)
						return nil, errors.New("still reading after another file failed")
					}
				}
				return os.Open(name)
			}
			_, err := loadOSVFiles(t.Context(), NewMemory(), files, open)
			if !errors.Is(err, errUnreadable) || !strings.Contains(err.Error(), filepath.Base(files[tc.bad])) {
				t.Errorf("error %v, want %v naming %s", err, errUnreadable, files[tc.bad])
			}
			// Wait out the readers' patience: a reader left running
			// would now open files or give up waiting.
			atReturn := opened.Load()
			time.Sleep(300 * time.Millisecond)
			if c := notStopped.Load(); c > 0 {
				t.Errorf("%d files opened after %s failed without the readers being stopped", c, filepath.Base(files[tc.bad]))
			}
			if later := opened.Load(); later != atReturn {
				t.Errorf("%d files opened after LoadOSV returned (%d of %d in all)", later-atReturn, later, n)
			}
		})
	}
}
