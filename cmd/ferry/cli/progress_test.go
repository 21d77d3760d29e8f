package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestProgressOffWhenNotATerminal(t *testing.T) {
	if l, _ := progressLogger(&bytes.Buffer{}, false); l != nil {
		t.Error("progress on a non-terminal writer")
	}
}

func TestProgressCountsImagesAndBytes(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf}
	l := slog.New(p)
	l.Info("fetching source", "source", "images")
	l.Info("resolving image", "ref", "r/a:1")
	p.last = time.Time{}
	l.Info("downloading blob", "ref", "r/a", "size", int64(3<<20))
	p.done()
	if !strings.Contains(buf.String(), "images 1 · blobs 1 (3.0 MiB)") {
		t.Errorf("progress line %q", buf.String())
	}
}
