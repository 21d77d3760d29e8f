package kit

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/ferry-dev/ferry/bundle"
)

// records collects log records as "message phase n".
type records struct {
	mu    sync.Mutex
	msgs  map[string]int
	bytes map[string]int64
	files int64
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var phase string
	var n int64
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "phase":
			phase = a.Value.String()
		case "n":
			n = a.Value.Int64()
		case "files":
			r.files = a.Value.Int64()
		}
		return true
	})
	r.msgs[rec.Message+" "+phase]++
	r.bytes[phase] += n
	return nil
}

// Each pass reports every byte and every file once, in steps of at most
// a MiB, and the content is unchanged.
func TestPackProgress(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 3<<20+5)
	files := []bundle.File{
		{Path: "a", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(big)), nil }},
		{Path: "b", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader([]byte("small"))), nil },
			Digest: make([]byte, 32), Size: 5},
	}
	rec := &records{msgs: map[string]int{}, bytes: map[string]int64{}}
	wrapped := packProgress(files, slog.New(rec))
	read := func(f bundle.File, stopAt int64) []byte {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var r io.Reader = rc
		if stopAt > 0 {
			r = io.LimitReader(rc, stopAt) // as a writer that knows the size stops
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(read(wrapped[0], 0), big) || !bytes.Equal(read(wrapped[0], int64(len(big))), big) || string(read(wrapped[1], 5)) != "small" {
		t.Fatal("content changed")
	}
	if rec.files != 2 || rec.msgs["packing "] != 1 {
		t.Errorf("packing announced %d times with %d files", rec.msgs["packing "], rec.files)
	}
	if rec.msgs["packed file hash"] != 1 || rec.msgs["packed file write"] != 2 {
		t.Errorf("files: %v", rec.msgs)
	}
	if rec.bytes["hash"] != int64(len(big)) || rec.bytes["write"] != int64(len(big))+5 {
		t.Errorf("bytes: %v", rec.bytes)
	}
	if rec.msgs["packing bytes hash"] < 3 {
		t.Errorf("3 MiB reported in %d steps, want one per MiB", rec.msgs["packing bytes hash"])
	}
}
