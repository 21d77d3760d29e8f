package bundle

import (
	"archive/tar"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

// Paths of the TUF metadata inside a kit.
const (
	MetaDir       = "tuf/"
	TimestampPath = "tuf/timestamp.json"
	SnapshotPath  = "tuf/snapshot.json"
	TargetsPath   = "tuf/targets.json"
)

// RootPath returns the path of root version v inside a kit.
func RootPath(v int64) string { return MetaDir + strconv.FormatInt(v, 10) + ".root.json" }

// KitField is the key of the kit description in the signed part of
// targets.json. go-tuf keeps it in UnrecognizedFields and signs it.
const KitField = "kit"

// FormatVersion is the kit format this package writes and reads.
const FormatVersion = 1

// Pinned zstd settings: changing any of them changes every kit's bytes.
const (
	zstdLevel       = zstd.SpeedDefault // about zstd -3
	zstdWindow      = 8 << 20
	zstdConcurrency = 2
)

func encoderOptions() []zstd.EOption {
	return []zstd.EOption{
		zstd.WithEncoderLevel(zstdLevel),
		zstd.WithWindowSize(zstdWindow),
		zstd.WithEncoderConcurrency(zstdConcurrency),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true),
	}
}

func decoderOptions() []zstd.DOption {
	return []zstd.DOption{
		zstd.WithDecoderMaxWindow(zstdWindow * 4),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderConcurrency(2),
	}
}

// header returns the fixed tar header of a content or metadata entry.
func header(name string, size int64, mtime time.Time) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     0o644,
		ModTime:  mtime.UTC().Truncate(time.Second),
		Format:   tar.FormatPAX,
	}
}

// CheckPath reports whether name is allowed as a content path: relative,
// slash-separated, clean, valid UTF-8, no '.', '..' or empty components, no
// backslash or control characters. It returns a description of the problem,
// or "" when name is fine.
func CheckPath(name string) string {
	switch {
	case name == "":
		return "empty name"
	case !utf8.ValidString(name):
		return "name is not valid UTF-8"
	case strings.HasPrefix(name, "/"):
		return "absolute path"
	case strings.HasSuffix(name, "/"):
		return "directory name"
	case strings.ContainsRune(name, '\\'):
		return "backslash in path"
	case len(name) > 4096:
		return "name longer than 4096 bytes"
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "control character in name"
		}
	}
	for _, part := range strings.Split(name, "/") {
		switch part {
		case "":
			return "empty path component"
		case ".", "..":
			return fmt.Sprintf("%q path component", part)
		}
	}
	return ""
}

// ContentType is the kind of content a path holds, by its top-level folder.
func ContentType(path string) string {
	if path == "kit.json" {
		return "kit"
	}
	if path == DeltaPath {
		return "delta"
	}
	top, _, ok := strings.Cut(path, "/")
	if !ok {
		return "files"
	}
	switch top {
	case "images", "advisories", "enrich", "vex", "trust", "policy":
		return top
	}
	return "files"
}
