package kit

import (
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/ferry-dev/ferry/bundle"
)

// progressStep is how many bytes of a file are read between two "packing
// bytes" records: often enough for a progress line, rarely enough to cost
// nothing.
const progressStep = 1 << 20

// packProgress wraps each file's Open so that logger hears how packing
// goes: "packing" once with the number of files, then, per pass (bundle
// hashes a file it has no digest for, then writes it), "packing bytes"
// with the bytes read since the last record and "packed file" at each
// file's end. The content is unchanged.
func packProgress(files []bundle.File, logger *slog.Logger) []bundle.File {
	logger.Info("packing", "files", len(files))
	out := make([]bundle.File, len(files))
	for i, f := range files {
		open := f.Open
		var opens atomic.Int32
		hashed := f.Digest != nil // no hashing pass: the one Open writes
		f.Open = func() (io.ReadCloser, error) {
			rc, err := open()
			if err != nil {
				return nil, err
			}
			phase := "write"
			if opens.Add(1) == 1 && !hashed {
				phase = "hash"
			}
			return &packReader{rc: rc, logger: logger, phase: phase}, nil
		}
		out[i] = f
	}
	return out
}

type packReader struct {
	rc      io.ReadCloser
	logger  *slog.Logger
	phase   string
	pending int64
	done    bool
}

func (r *packReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.pending += int64(n)
	if r.pending >= progressStep {
		r.flush()
	}
	if err == io.EOF {
		r.end()
	}
	return n, err
}

// end reports the file done, once: at EOF or, for a reader that stops at
// the known size, at Close.
func (r *packReader) end() {
	if !r.done {
		r.done = true
		r.flush()
		r.logger.Info("packed file", "phase", r.phase)
	}
}

func (r *packReader) flush() {
	if r.pending > 0 {
		r.logger.Info("packing bytes", "phase", r.phase, "n", r.pending)
		r.pending = 0
	}
}

func (r *packReader) Close() error {
	r.end()
	return r.rc.Close()
}
