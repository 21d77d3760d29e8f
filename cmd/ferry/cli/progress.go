package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// progress turns the library's progress log records into one status line on
// a terminal: sources, images and bytes downloaded. It is off when stderr is
// not a terminal or with --no-progress; libraries stay silent either way.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	source  string
	images  int
	blobs   int
	bytes   int64
	last    time.Time
	printed bool
	// plain draws without escape sequences (NO_COLOR, TERM=dumb); width
	// is then the length of the last line drawn.
	plain bool
	width int
}

// progressLogger returns a logger that draws progress on w, or nil when
// progress is off.
func progressLogger(w io.Writer, off bool) (*slog.Logger, func()) {
	f, ok := w.(*os.File)
	if off || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	p := &progress{w: w, plain: plainTerminal()}
	return slog.New(p), p.done
}

// plainTerminal tells whether the terminal is to get no escape sequences:
// NO_COLOR set to anything (no-color.org) or TERM=dumb. ferry prints no
// colour anywhere; the only escape sequence it writes is the progress
// line's erase-line, and a plain terminal gets spaces instead.
func plainTerminal() bool {
	return os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb"
}

func (p *progress) Enabled(context.Context, slog.Level) bool { return true }
func (p *progress) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *progress) WithGroup(string) slog.Handler            { return p }

func (p *progress) Handle(_ context.Context, r slog.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Message {
	case "fetching source":
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "source" {
				p.source = a.Value.String()
			}
			return true
		})
	case "resolving image":
		p.images++
	case "downloading blob":
		p.blobs++
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "size" {
				p.bytes += a.Value.Int64()
			}
			return true
		})
	default:
		return nil
	}
	if now := time.Now(); now.Sub(p.last) > 100*time.Millisecond {
		p.last = now
		p.draw()
	}
	return nil
}

func (p *progress) draw() {
	line := fmt.Sprintf("source %s · images %d · blobs %d (%.1f MiB)", p.source, p.images, p.blobs, float64(p.bytes)/(1<<20))
	if p.plain {
		// Overwrite the last line with spaces where it was longer.
		n := utf8.RuneCountInString(line)
		pad := max(p.width-n, 0)
		fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
		p.width = n
	} else {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	}
	p.printed = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.printed {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
