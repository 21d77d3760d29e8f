//go:build unix

package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// importLock is the exclusive lock an import, gc or migration holds for its
// whole run. The kernel releases it when the process dies, so a killed
// import never leaves the store locked.
type importLock struct{ f *os.File }

// lockStore takes DIR/lock, waiting up to timeout. holder describes the
// caller and is written into the lock file so that a waiter can say who
// holds it.
func lockStore(ctx context.Context, dir string, timeout time.Duration, holder string) (*importLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := lockPath(dir)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the store lock: %w", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking the store: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-timer.C:
			who := readHolder(path)
			f.Close()
			return nil, fmt.Errorf("%s: %w%s (waited %s); try again when it has finished", dir, ErrLocked, who, timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// A commit marker left by a killed writer: no commit is pending now.
	os.Remove(filepath.Join(dir, pendingName))
	// Best effort: the holder note is for messages only.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(holder+"\n"), 0)
	}
	return &importLock{f: f}, nil
}

func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if s == "" || len(s) > 200 {
		return ""
	}
	return " (" + s + ")"
}

// unlock releases the lock.
func (l *importLock) unlock() {
	if l == nil || l.f == nil {
		return
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}

// importLocked reports whether a live process holds the import lock of dir.
func importLocked(dir string) bool {
	f, err := os.Open(lockPath(dir))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
