package bundle

import (
	"archive/tar"
	"bytes"
	"io"
	"slices"
	"time"
)

// The tar header rules of the kit format: every entry is a regular file
// written by archive/tar in PAX format with mode 0644, uid and gid 0, no
// user or group names and one mtime, the kit's created time (the verifier
// compares it with created, which the reader cannot know); the padding
// after each entry's data is zeros and the archive ends with the two zero
// blocks of the trailer. A header that breaks them is refused even though
// no reader of the entry's name and data would see a difference: the
// format leaves no byte of a kit that its signature does not pin down or
// that the reader does not check.

// headerRecorder sits between the tar reader and the decompressed stream
// and keeps the bytes read while it is on: the padding and header blocks
// that tar.Reader.Next consumes.
type headerRecorder struct {
	r   io.Reader
	on  bool
	buf []byte
}

func (h *headerRecorder) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.on {
		h.buf = append(h.buf, p[:n]...)
	}
	return n, err
}

// start begins recording; stop ends it and returns what was read since.
// The bytes live until the next start.
func (h *headerRecorder) start() { h.on, h.buf = true, h.buf[:0] }
func (h *headerRecorder) stop() []byte {
	h.on = false
	return h.buf
}

// allowedPAX are the PAX records archive/tar writes for a header built by
// header: a long or non-ASCII name, a size beyond the ustar field.
var allowedPAX = []string{"path", "size"}

// checkPadding checks that raw, the bytes tar.Reader.Next read, starts
// with pad zero bytes, the padding after the data of entry prev. Non-zero
// padding spoils the stream: the caller makes the error sticky.
func checkPadding(raw []byte, pad int64, prev string) error {
	if int64(len(raw)) < pad || !allZero(raw[:pad]) {
		return Errorf(CodeMalformed, prev, "the padding after the entry's data is not zeros")
	}
	return nil
}

// checkHeader enforces the kit format's header rules on hdr, a regular
// file entry with a safe name, and on raw, its header blocks as
// tar.Reader.Next read them (after the padding checkPadding checked). It
// returns an *Error about the entry (KIT_MALFORMED), which spoils only the
// entry, or nil. The first entry's mtime becomes the one every later entry
// must carry (ModTime).
func (r *Reader) checkHeader(hdr *tar.Header, raw []byte) error {
	name := hdr.Name
	switch {
	case hdr.Mode != 0o644:
		return Errorf(CodeMalformed, name, "mode %#o: every entry of a kit has mode 0644", hdr.Mode)
	case hdr.Uid != 0 || hdr.Gid != 0:
		return Errorf(CodeMalformed, name, "owner uid %d gid %d: every entry of a kit is owned by uid 0 gid 0", hdr.Uid, hdr.Gid)
	case hdr.Uname != "" || hdr.Gname != "":
		return Errorf(CodeMalformed, name, "user name %q, group name %q: entries of a kit carry none", hdr.Uname, hdr.Gname)
	case hdr.Linkname != "":
		return Errorf(CodeMalformed, name, "a regular file with a link name (%q)", hdr.Linkname)
	case hdr.ModTime.Nanosecond() != 0:
		return Errorf(CodeMalformed, name, "mtime %s has a fraction of a second: entries of a kit carry whole seconds", hdr.ModTime.UTC().Format(time.RFC3339Nano))
	case !r.mtime.IsZero() && !hdr.ModTime.Equal(r.mtime):
		return Errorf(CodeMalformed, name, "mtime %s differs from %s, the mtime of the first entry: every entry carries the kit's created time",
			hdr.ModTime.UTC().Format(time.RFC3339), r.mtime.UTC().Format(time.RFC3339))
	case hdr.Format&(tar.FormatUSTAR|tar.FormatPAX) == 0: // a PAX header without records reads back as ustar
		return Errorf(CodeMalformed, name, "tar format %v: kits are written in PAX format", hdr.Format)
	}
	for k := range hdr.PAXRecords {
		if !slices.Contains(allowedPAX, k) {
			return Errorf(CodeMalformed, name, "PAX record %q: a kit's headers carry only path and size records", k)
		}
	}
	var want bytes.Buffer
	if err := tar.NewWriter(&want).WriteHeader(header(name, hdr.Size, hdr.ModTime)); err != nil {
		return Errorf(CodeMalformed, name, "the header cannot be written in the kit's format: %v", err)
	}
	if !bytes.Equal(raw, want.Bytes()) {
		at := 0
		for at < len(raw) && at < want.Len() && raw[at] == want.Bytes()[at] {
			at++
		}
		return Errorf(CodeMalformed, name, "the tar header differs at byte %d from the PAX header the kit format prescribes for this name, size and mtime", at)
	}
	if r.mtime.IsZero() {
		r.mtime = hdr.ModTime
	}
	return nil
}

// checkTrailer checks what tar.Reader.Next read at the end of the archive:
// the zero padding of the last entry (pad bytes) and the two zero blocks
// of the trailer. prev is the last entry's name.
func checkTrailer(raw []byte, pad int64, prev string) error {
	if err := checkPadding(raw, pad, prev); err != nil {
		return err
	}
	if int64(len(raw))-pad < 2*blockSize {
		return Errorf(CodeTruncated, "", "the tar archive ends without its trailer (truncated file?)")
	}
	return nil
}

const blockSize = 512

// padding is the number of zero bytes that follow size bytes of data to
// fill the last tar block.
func padding(size int64) int64 { return -size & (blockSize - 1) }

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ModTime is the mtime every entry carries, that of the first entry
// accepted; zero before it. The kit format requires it to be the kit's
// created time; the verifier compares the two.
func (r *Reader) ModTime() time.Time { return r.mtime }
