//go:build unix

package store

import (
	"fmt"
	"os"
	"syscall"
)

// mapBlob maps a blob read-only. Blobs never change once placed (gc only
// removes unreferenced ones, which leaves a mapping intact), so reading a
// mapping is safe while the read transaction that referenced it lasts.
func mapBlob(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return []byte{}, nil
	}
	if int64(int(fi.Size())) != fi.Size() {
		return nil, fmt.Errorf("%s: too large to map", path)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	return data, nil
}

func unmapBlob(data []byte) {
	if len(data) > 0 {
		syscall.Munmap(data)
	}
}
