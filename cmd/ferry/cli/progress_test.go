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

// Under NO_COLOR the progress line carries no escape sequence; a shorter
// line overwrites a longer one with spaces.
func TestProgressPlainUnderNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	if !plainTerminal() {
		t.Fatal("NO_COLOR=1 is not honoured")
	}
	var buf bytes.Buffer
	p := &progress{w: &buf, plain: plainTerminal()}
	p.source = "a-long-source-name"
	p.draw()
	p.source = "s"
	p.draw()
	if strings.Contains(buf.String(), "\033") {
		t.Errorf("escape sequence under NO_COLOR: %q", buf.String())
	}
	if !strings.HasSuffix(buf.String(), "\rsource s · images 0 · blobs 0 (0.0 MiB)"+strings.Repeat(" ", len("a-long-source-name")-1)) {
		t.Errorf("the shorter line does not cover the longer one: %q", buf.String())
	}
}
