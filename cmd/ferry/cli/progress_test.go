package cli

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// fakeTerminal is a buffer that says it is a terminal.
type fakeTerminal struct{ bytes.Buffer }

func (*fakeTerminal) IsTerminal() bool { return true }

// clock is a fake time that a test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestProgressOffWhenNotATerminal(t *testing.T) {
	if l, _ := progressLogger(&bytes.Buffer{}, false); l != nil {
		t.Error("progress on a non-terminal writer")
	}
	if l, _ := progressLogger(&fakeTerminal{}, true); l != nil {
		t.Error("progress with --no-progress")
	}
	t.Setenv("TERM", "dumb")
	if l, _ := progressLogger(&fakeTerminal{}, false); l != nil {
		t.Error("progress on TERM=dumb")
	}
	r := strings.NewReader("kit")
	if got, _ := kitReadProgress(&bytes.Buffer{}, r, "verifying k"); got != io.Reader(r) {
		t.Error("read progress on a non-terminal writer")
	}
}

func TestProgressCountsImagesAndBytes(t *testing.T) {
	t.Setenv("TERM", "xterm")
	var term fakeTerminal
	l, done := progressLogger(&term, false)
	if l == nil {
		t.Fatal("no progress on a terminal")
	}
	l.Info("fetching source", "source", "images")
	l.Info("resolving image", "ref", "r/a:1")
	l.Info("downloading blob", "ref", "r/a", "size", int64(3<<20))
	done()
	if !strings.Contains(term.String(), "images 1 · blobs 1 (3.0 MiB)") {
		t.Errorf("progress line %q", term.String())
	}
}

// While packing, the line shows files and bytes of both passes, not the
// download counters frozen at their last value.
func TestProgressPacking(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	c := &clock{t: time.Unix(0, 0)}
	var term fakeTerminal
	p := newProgress(&term, c.now)
	l := slog.New(p)
	l.Info("packing", "files", 3)
	for range 3 {
		l.Info("packing bytes", "phase", "hash", "n", int64(1<<20))
		l.Info("packed file", "phase", "hash")
	}
	c.t = c.t.Add(time.Second)
	l.Info("packing bytes", "phase", "write", "n", int64(2<<20))
	l.Info("packed file", "phase", "write")
	c.t = c.t.Add(time.Second)
	l.Info("packing bytes", "phase", "write", "n", int64(512<<10))
	p.done()
	out := term.String()
	for _, want := range []string{
		"\r\033[Kpacking: hashed 0/3 files (0.0 MiB) · written 0/3 files (0.0 MiB)",
		"\r\033[Kpacking: hashed 3/3 files (3.0 MiB) · written 0/3 files (2.0 MiB)",
		"\r\033[Kpacking: hashed 3/3 files (3.0 MiB) · written 1/3 files (2.5 MiB)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%q", want, out)
		}
	}
	if strings.Count(out, "\r") != 4 { // rate-limited: one draw per 100 ms, and the last
		t.Errorf("%d draws, want 4:\n%q", strings.Count(out, "\r"), out)
	}
}

// With NO_COLOR the line is redrawn with a carriage return and blanks
// over a longer previous line, never an escape sequence.
func TestProgressNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	var term fakeTerminal
	s := newStatusLine(&term)
	s.draw("verifying k: 10.0 MiB read")
	s.draw("done")
	s.end()
	if got, want := term.String(), "\rverifying k: 10.0 MiB read\rdone                      \n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Reading a kit shows nothing for the first second, then bytes read of
// the kit's size, and the final count when it ends.
func TestReadProgress(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	c := &clock{t: time.Unix(0, 0)}
	var term fakeTerminal
	data := bytes.Repeat([]byte{7}, 4<<20)
	p := newReadProgress(&term, bytes.NewReader(data), "verifying acme.kit.tar.zst", int64(len(data)), c.now)
	buf := make([]byte, 1<<20)
	if _, err := p.Read(buf); err != nil {
		t.Fatal(err)
	}
	if term.Len() != 0 {
		t.Fatalf("progress before a second: %q", term.String())
	}
	c.t = c.t.Add(1500 * time.Millisecond)
	if _, err := p.Read(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, p); err != nil {
		t.Fatal(err)
	}
	p.done()
	want := "\r\033[Kverifying acme.kit.tar.zst: 2.0 MiB of 4.0 MiB read (50%)\r\033[Kverifying acme.kit.tar.zst: 4.0 MiB of 4.0 MiB read (100%)\n"
	if got := term.String(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}

	// A quick read shows nothing at all.
	var quiet fakeTerminal
	q := newReadProgress(&quiet, bytes.NewReader(data), "verifying k", 0, c.now)
	io.Copy(io.Discard, q)
	q.done()
	if quiet.Len() != 0 {
		t.Errorf("a read under a second drew %q", quiet.String())
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
	p := newProgress(&buf, time.Now)
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

// Pushing shows nothing for the first second, then the bytes uploaded of
// those found to upload, and the final count when it ends.
func TestPushProgressLine(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	if f, _ := pushProgress(&bytes.Buffer{}, "reg:5000"); f != nil {
		t.Error("push progress on a non-terminal writer")
	}
	c := &clock{t: time.Unix(0, 0)}
	var term fakeTerminal
	p := newByteProgress(&term, "pushing to reg:5000", "uploaded", c.now)
	p.set(1<<20, 4<<20)
	if term.Len() != 0 {
		t.Fatalf("progress before a second: %q", term.String())
	}
	c.t = c.t.Add(1500 * time.Millisecond)
	p.set(2<<20, 4<<20)
	p.set(3<<20, 4<<20) // within 100 ms: not drawn
	p.set(6<<20, 6<<20)
	p.done()
	want := "\r\033[Kpushing to reg:5000: 2.0 MiB of 4.0 MiB uploaded (50%)\r\033[Kpushing to reg:5000: 6.0 MiB of 6.0 MiB uploaded (100%)\n"
	if got := term.String(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// fakeTimer is a timer that the test fires.
type fakeTimer struct {
	fire    func()
	stopped bool
}

func (f *fakeTimer) after(_ time.Duration, fn func()) func() {
	f.fire = fn
	return func() { f.stopped = true }
}

// Scanning an image shows nothing for the first second; then the timer
// draws the layer being read, even in the middle of it, and every step
// after draws too.
func TestScanProgressLine(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	if f, _ := scanProgress(&bytes.Buffer{}, "oci:x"); f != nil {
		t.Error("scan progress on a non-terminal writer")
	}
	var term fakeTerminal
	var timer fakeTimer
	p := newLayerProgress(&term, "scanning oci:./layout", timer.after)
	p.set(0, 3)
	p.set(1, 3)
	if term.Len() != 0 {
		t.Fatalf("progress before a second: %q", term.String())
	}
	timer.fire()
	p.set(2, 3)
	p.set(3, 3)
	p.end()
	want := "\r\033[Kscanning oci:./layout: reading layer 2 of 3\r\033[Kscanning oci:./layout: reading layer 3 of 3" +
		"\r\033[Kscanning oci:./layout: 3 layers read, examining the files found\n"
	if got := term.String(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if !timer.stopped {
		t.Error("the timer was not stopped")
	}
	p.end() // a second end (the deferred one) draws nothing
	if got := term.String(); got != want {
		t.Errorf("after a second end: %q", got)
	}

	// A quick scan shows nothing, and a timer that fires after the end
	// draws nothing.
	var quiet fakeTerminal
	var t2 fakeTimer
	q := newLayerProgress(&quiet, "scanning k", t2.after)
	q.set(0, 1)
	q.set(1, 1)
	q.end()
	t2.fire()
	if quiet.Len() != 0 {
		t.Errorf("a scan under a second drew %q", quiet.String())
	}
}
