package kit_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/kit"
)

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestInspectLargeKit: a kit whose content before kit.json is larger than
// the metadata budget (256 MiB) is inspected, as verify accepts it; it
// used to fail with KIT_TOO_LARGE.
func TestInspectLargeKit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 300 MiB")
	}
	const size = 300 << 20
	c := fixtures.NewChannel("big")
	files := []bundle.File{
		{Path: "advisories/big/osv.jsonl", Open: func() (io.ReadCloser, error) { return io.NopCloser(io.LimitReader(zeros{}, size)), nil }},
		{Path: kit.ManifestPath, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader([]byte(`{"schema":"ferry.dev/kit/v1"}`))), nil
		}},
	}
	var buf bytes.Buffer
	_, err := bundle.Write(context.Background(), &buf, bundle.WriteOptions{
		Info:  bundle.Info{Name: "big", Channel: "big", Version: 1, Created: fixtures.Created, Expires: fixtures.Created.AddDate(0, 1, 0)},
		Roots: c.Chain, Signers: c.SigningKeys(),
	}, files)
	if err != nil {
		t.Fatal(err)
	}
	in, err := kit.Inspect(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if in.Manifest == nil || len(in.Files) != 2 || in.Files[0].Length != size {
		t.Errorf("inspection: manifest %v, files %+v", in.Manifest != nil, in.Files)
	}
}
