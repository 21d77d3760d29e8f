package scan

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// FuzzLockfiles feeds arbitrary bytes to every lockfile reader: none may
// panic, and what one reads without error names each package.
func FuzzLockfiles(f *testing.F) {
	for _, p := range []string{
		"testdata/npm/v1/package-lock.json", "testdata/npm/v3/package-lock.json", "testdata/yarn/v1/yarn.lock",
		"testdata/yarn/berry/yarn.lock", "testdata/pnpm/pnpm-lock.yaml", "testdata/python-lock/poetry/poetry.lock",
		"testdata/python-lock/uv/uv.lock", "testdata/python-lock/requirements/requirements.txt", "testdata/cargo/Cargo.lock",
		"testdata/gomod/go.mod",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	readers := []struct {
		path string
		ex   extractor
	}{
		{"package-lock.json", npm{}}, {"yarn.lock", yarnLock{}}, {"pnpm-lock.yaml", pnpmLock{}}, {"poetry.lock", poetryLock{}},
		{"uv.lock", uvLock{}}, {"requirements.txt", requirements{}}, {"Cargo.lock", cargoLock{}}, {"go.mod", goMod{}},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range readers {
			ps, err := r.ex.Extract(context.Background(), &input{path: r.path, f: bytes.NewReader(b), at: bytes.NewReader(b), size: int64(len(b))})
			if err != nil {
				continue
			}
			for _, p := range ps {
				if p.Name == "" || p.Ecosystem == "" {
					t.Fatalf("%s: %+v", r.path, p)
				}
			}
		}
	})
}
