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

// Progress is drawn on a terminal only: never when stderr is a file or a
// pipe, nor with TERM=dumb; with NO_COLOR set (https://no-color.org) the
// line is redrawn with a carriage return and spaces, no escape sequences.
// Libraries stay silent either way; they log, and the CLI draws.

// terminal reports whether w is a terminal that progress may draw on.
// A writer can say so itself (tests use a fake terminal).
func terminal(w io.Writer) bool {
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	switch t := w.(type) {
	case interface{ IsTerminal() bool }:
		return t.IsTerminal()
	case *os.File:
		return term.IsTerminal(int(t.Fd()))
	}
	return false
}

// statusLine redraws one line in place.
type statusLine struct {
	w     io.Writer
	plain bool // NO_COLOR: no escape sequences
	width int  // of the last line, to blank it in plain mode
}

func newStatusLine(w io.Writer) *statusLine {
	return &statusLine{w: w, plain: plainTerminal()}
}

// plainTerminal tells whether the terminal is to get no escape sequences:
// NO_COLOR set to anything (no-color.org) or TERM=dumb. ferry prints no
// colour anywhere; the only escape sequence it writes is the progress
// line's erase-line, and a plain terminal gets spaces instead.
func plainTerminal() bool {
	return os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb"
}

func (s *statusLine) draw(line string) {
	if s.plain {
		pad := ""
		if n := s.width - utf8.RuneCountInString(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprintf(s.w, "\r%s%s", line, pad)
	} else {
		fmt.Fprintf(s.w, "\r\033[K%s", line)
	}
	s.width = utf8.RuneCountInString(line)
}

func (s *statusLine) end() {
	if s.width > 0 {
		fmt.Fprintln(s.w)
		s.width = 0
	}
}

// progress turns the library's progress log records into one status line on
// a terminal: sources, images and bytes downloaded, then files and bytes
// packed into the kit. It is off when stderr is not a terminal or with
// --no-progress.
type progress struct {
	mu      sync.Mutex
	line    *statusLine
	now     func() time.Time
	source  string
	images  int
	blobs   int
	bytes   int64
	packing bool
	files   int              // to pack
	packed  map[string]int   // files done, by phase (hash, write)
	packB   map[string]int64 // bytes read, by phase
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
	if off || !terminal(w) {
		return nil, func() {}
	}
	p := newProgress(w, time.Now)
	return slog.New(p), p.done
}

func newProgress(w io.Writer, now func() time.Time) *progress {
	return &progress{line: newStatusLine(w), now: now, packed: map[string]int{}, packB: map[string]int64{}}
}

func (p *progress) Enabled(context.Context, slog.Level) bool { return true }
func (p *progress) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *progress) WithGroup(string) slog.Handler            { return p }

func (p *progress) Handle(_ context.Context, r slog.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	attr := func(key string) slog.Value {
		var v slog.Value
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v = a.Value
				return false
			}
			return true
		})
		return v
	}
	switch r.Message {
	case "fetching source":
		p.source = attr("source").String()
	case "resolving image":
		p.images++
	case "downloading blob":
		p.blobs++
		p.bytes += attr("size").Int64()
	case "packing":
		p.packing = true
		p.files = int(attr("files").Int64())
	case "packing bytes":
		p.packB[attr("phase").String()] += attr("n").Int64()
	case "packed file":
		p.packed[attr("phase").String()]++
	default:
		return nil
	}
	if now := p.now(); now.Sub(p.last) > 100*time.Millisecond {
		p.last = now
		p.draw()
	}
	return nil
}

func (p *progress) draw() {
	if p.packing {
		p.line.draw(fmt.Sprintf("packing: hashed %d/%d files (%s) · written %d/%d files (%s)",
			p.packed["hash"], p.files, mib(p.packB["hash"]), p.packed["write"], p.files, mib(p.packB["write"])))
	} else {
		p.line.draw(fmt.Sprintf("source %s · images %d · blobs %d (%s)", p.source, p.images, p.blobs, mib(p.bytes)))
	}
	p.printed = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.printed {
		p.draw()
		p.line.end()
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// readProgress wraps the reader of a kit: once reading has taken longer
// than a second it shows, on a terminal, how much of the kit was read.
type readProgress struct {
	r     io.Reader
	what  string // "verifying acme.kit.tar.zst"
	verb  string // what is done to the bytes: "read", "uploaded"
	total int64  // 0: unknown
	line  *statusLine
	now   func() time.Time
	start time.Time
	last  time.Time
	n     int64
	shown bool
}

// kitReadProgress returns r, wrapped to show progress on w when w is a
// terminal, and a func that ends the progress line.
func kitReadProgress(w io.Writer, r io.Reader, what string) (io.Reader, func()) {
	var total int64
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			total = fi.Size()
		}
	}
	return kitReadProgressSize(w, r, what, total)
}

// kitReadProgressSize is kitReadProgress for a kit of a known size (0:
// unknown), such as a blob in a registry.
func kitReadProgressSize(w io.Writer, r io.Reader, what string, total int64) (io.Reader, func()) {
	if !terminal(w) {
		return r, func() {}
	}
	p := newReadProgress(w, r, what, total, time.Now)
	return p, p.done
}

func newReadProgress(w io.Writer, r io.Reader, what string, total int64, now func() time.Time) *readProgress {
	return &readProgress{r: r, what: what, verb: "read", total: total, line: newStatusLine(w), now: now, start: now()}
}

func (p *readProgress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.tick()
	return n, err
}

// tick draws the line once the work has taken a second, at most every
// tenth of a second.
func (p *readProgress) tick() {
	if now := p.now(); now.Sub(p.start) >= time.Second && now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.draw()
	}
}

func (p *readProgress) draw() {
	if p.total > 0 {
		p.line.draw(fmt.Sprintf("%s: %s of %s %s (%d%%)", p.what, mib(p.n), mib(p.total), p.verb, p.n*100/p.total))
	} else {
		p.line.draw(fmt.Sprintf("%s: %s %s", p.what, mib(p.n), p.verb))
	}
	p.shown = true
}

// pushProgress returns a push.Options.Progress func that shows on w, when
// w is a terminal and the push has taken longer than a second, how much
// was uploaded of what was found to upload, and a func that ends the line.
// Without a terminal the func is nil.
func pushProgress(w io.Writer, registry string) (func(uploaded, total int64), func()) {
	if !terminal(w) {
		return nil, func() {}
	}
	p := newByteProgress(w, "pushing to "+registry, "uploaded", time.Now)
	return p.set, p.done
}

// newByteProgress is a progress line of bytes that its caller counts.
func newByteProgress(w io.Writer, what, verb string, now func() time.Time) *readProgress {
	p := newReadProgress(w, nil, what, 0, now)
	p.verb = verb
	return p
}

// set records n of total bytes done and draws.
func (p *readProgress) set(n, total int64) {
	p.n, p.total = n, total
	p.tick()
}

// done draws the final count, if the line was shown at all, and ends it.
func (p *readProgress) done() {
	if p.shown {
		p.draw()
		p.line.end()
	}
}

// layerProgress shows, on a terminal, how the scan of an image goes:
// which layer is read, then that the files found are examined. It shows
// nothing until the scan has taken a second; a timer draws then, even in
// the middle of a long layer.
type layerProgress struct {
	mu     sync.Mutex
	line   *statusLine
	what   string                             // "scanning oci:./layout"
	after  func(time.Duration, func()) func() // starts a timer; returns its stop
	stop   func()
	done   int
	layers int
	shown  bool // the second has passed: every step draws
	drawn  bool
}

// scanProgress returns a scan.Options.Progress func that draws on w when
// w is a terminal (nil otherwise), and a func that ends the line.
func scanProgress(w io.Writer, target string) (func(done, layers int), func()) {
	if !terminal(w) {
		return nil, func() {}
	}
	p := newLayerProgress(w, "scanning "+target, func(d time.Duration, f func()) func() {
		t := time.AfterFunc(d, f)
		return func() { t.Stop() }
	})
	return p.set, p.end
}

func newLayerProgress(w io.Writer, what string, after func(time.Duration, func()) func()) *layerProgress {
	return &layerProgress{line: newStatusLine(w), what: what, after: after}
}

// set records that done of layers are read; the first call starts the
// second's timer.
func (p *layerProgress) set(done, layers int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop == nil {
		p.stop = p.after(time.Second, p.show)
	}
	p.done, p.layers = done, layers
	if p.shown {
		p.draw()
	}
}

// show is the timer's: from now on every step draws.
func (p *layerProgress) show() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop == nil { // ended
		return
	}
	p.shown = true
	p.draw()
}

func (p *layerProgress) draw() {
	if p.done < p.layers {
		p.line.draw(fmt.Sprintf("%s: reading layer %d of %d", p.what, p.done+1, p.layers))
	} else {
		p.line.draw(fmt.Sprintf("%s: %d layers read, examining the files found", p.what, p.layers))
	}
	p.drawn = true
}

// end stops the timer and ends the line if it was drawn.
func (p *layerProgress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
	if p.drawn {
		p.line.end()
		p.drawn = false
	}
}
