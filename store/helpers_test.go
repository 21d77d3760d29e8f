package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/klauspost/compress/zstd"
	bolt "go.etcd.io/bbolt"
)

// at is the time test kits are imported at: an hour after they were made.
var at = fixtures.Created.Add(time.Hour)

// newStore opens a store in a fresh directory; at cleanup it runs bbolt's
// Tx.Check and checks every referenced blob.
func newStore(t *testing.T) *Store {
	t.Helper()
	return openStore(t, filepath.Join(t.TempDir(), "store"), Options{})
}

func openStore(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !s.exists() {
			return
		}
		rep, err := s.Check(context.Background())
		if err == nil {
			err = rep.Err()
		}
		if err != nil {
			t.Errorf("store check: %v", err)
		}
	})
	return s
}

// kitFiles returns the content of version v of a test channel: one file
// that changes with every version, one that never changes, one that is
// dropped after version 1, and a shared big file.
func kitFiles(v int) map[string][]byte {
	m := fixtures.SampleFiles()
	m["docs/version.txt"] = []byte("version " + string(rune('0'+v)) + "\n")
	if v > 1 {
		delete(m, "trust/keys/cosign.pub")
	}
	return m
}

func mustImport(t *testing.T, s *Store, kit []byte, opts ImportOptions) *ImportResult {
	t.Helper()
	if opts.At.IsZero() {
		opts.At = at
	}
	if opts.Operator == "" {
		opts.Operator = "tester"
	}
	res, err := s.Import(context.Background(), bytes.NewReader(kit), opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

func activeVersion(t *testing.T, s *Store, channel string) int64 {
	t.Helper()
	in, err := s.Info(context.Background(), at)
	if errors.Is(err, ErrNoStore) {
		return 0 // a failed first import leaves no store
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range in.Channels {
		if c.Channel == channel {
			return c.Version
		}
	}
	return 0
}

// snapshotDir hashes every file under dir, to prove that nothing changed.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	return out
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

// tamperContent changes one byte of the content old inside the kit (the
// signed metadata stays as it was), so verification fails with
// KIT_DIGEST_MISMATCH after the content was staged.
func tamperContent(t *testing.T, kit, old []byte) []byte {
	t.Helper()
	changed := bytes.Clone(old)
	changed[len(old)/2] ^= 0x20
	return replaceContent(t, kit, old, changed)
}

// replaceContent returns kit with the content old replaced by new, of the
// same length (the signed metadata stays as it was).
func replaceContent(t *testing.T, kit, old, new []byte) []byte {
	t.Helper()
	dec, err := zstd.NewReader(bytes.NewReader(kit))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	tarData, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(tarData, old)
	if i < 0 || len(old) != len(new) {
		t.Fatal("content not found in kit, or not of the same length")
	}
	copy(tarData[i:], new)
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(tarData)
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

type bolt_Tx = bolt.Tx

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// diff returns "" when want and got are deeply equal, else both.
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("want %+v\n got %+v", want, got)
}
