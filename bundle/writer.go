package bundle

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// File is one content file to put in a kit.
type File struct {
	// Path is where the file goes inside the kit (see CheckPath).
	Path string
	// Custom is the target's custom object in targets.json (media type,
	// source name …); nil for none. It must be canonical JSON if the kit is
	// to be reproducible.
	Custom json.RawMessage
	// Open returns the file's content. Write calls it twice: once to hash,
	// once to write, and fails with ErrChanged if the two differ.
	Open func() (io.ReadCloser, error)
}

// Base names the kit a delta kit applies on top of.
type Base struct {
	Channel       string `json:"channel"`
	Version       int64  `json:"version"`
	TargetsSHA256 string `json:"targetsSha256"`
}

// Info describes a kit. It is signed, in targets.json, so a verifier can read
// it before any content.
type Info struct {
	Format  int       `json:"format"`
	Name    string    `json:"name"`
	Channel string    `json:"channel"`
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Base    *Base     `json:"base,omitempty"`
}

// WriteOptions configures Write.
type WriteOptions struct {
	// Info is the kit's description; Info.Version becomes the version of
	// targets, snapshot and timestamp.
	Info Info
	// Roots is the channel's root chain, oldest first, as signed JSON.
	Roots [][]byte
	// Signers sign targets, snapshot and timestamp. Their keys must be those
	// the last root lists for these roles.
	Signers []signature.Signer
}

// Written describes a kit that Write produced.
type Written struct {
	Info          Info
	TargetsSHA256 string
	Targets       int
	ContentBytes  int64
	SignerKeyIDs  []string
}

// Write writes a kit holding files to w. files need not be sorted; their
// paths must be valid and unique. The same files, options and ed25519 keys
// give the same bytes.
func Write(ctx context.Context, w io.Writer, opts WriteOptions, files []File) (*Written, error) {
	if len(opts.Roots) == 0 {
		return nil, errors.New("no root metadata given")
	}
	if len(opts.Signers) == 0 {
		return nil, errors.New("no signing key given")
	}
	info := opts.Info
	info.Format = FormatVersion
	info.Created = info.Created.UTC().Truncate(time.Second)
	info.Expires = info.Expires.UTC().Truncate(time.Second)
	if info.Version < 1 {
		return nil, fmt.Errorf("kit version %d: must be at least 1", info.Version)
	}
	if !info.Expires.After(info.Created) {
		return nil, fmt.Errorf("kit expiry %s is not after its creation %s", info.Expires.Format(time.RFC3339), info.Created.Format(time.RFC3339))
	}
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for i, f := range files {
		if p := CheckPath(f.Path); p != "" {
			return nil, fmt.Errorf("%w: %q: %s", ErrInvalidPath, f.Path, p)
		}
		if strings.HasPrefix(f.Path, MetaDir) {
			return nil, fmt.Errorf("%w: %q: %s is reserved for TUF metadata", ErrInvalidPath, f.Path, MetaDir)
		}
		if i > 0 && files[i-1].Path == f.Path {
			return nil, fmt.Errorf("%w: %q: duplicate path", ErrInvalidPath, f.Path)
		}
	}

	// Pass 1: hash every file.
	targets := metadata.Targets(info.Expires)
	targets.Signed.Version = info.Version
	digests := make([][]byte, len(files))
	sizes := make([]int64, len(files))
	var total int64
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, sum, err := hashFile(f)
		if err != nil {
			return nil, err
		}
		digests[i], sizes[i] = sum, n
		total += n
		tf := &metadata.TargetFiles{Length: n, Hashes: metadata.Hashes{"sha256": sum}, Path: f.Path}
		if len(f.Custom) > 0 {
			c := json.RawMessage(slices.Clone(f.Custom))
			tf.Custom = &c
		}
		targets.Signed.Targets[f.Path] = tf
	}
	infoMap, err := toMap(info)
	if err != nil {
		return nil, err
	}
	targets.Signed.UnrecognizedFields = map[string]any{KitField: infoMap}
	targetsJSON, keyIDs, err := signMeta(targets, opts.Signers)
	if err != nil {
		return nil, fmt.Errorf("signing targets: %w", err)
	}
	snapshot := metadata.Snapshot(info.Expires)
	snapshot.Signed.Version = info.Version
	snapshot.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": metaFile(info.Version, targetsJSON)}
	snapshotJSON, _, err := signMeta(snapshot, opts.Signers)
	if err != nil {
		return nil, fmt.Errorf("signing snapshot: %w", err)
	}
	timestamp := metadata.Timestamp(info.Expires)
	timestamp.Signed.Version = info.Version
	timestamp.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metaFile(info.Version, snapshotJSON)}
	timestampJSON, _, err := signMeta(timestamp, opts.Signers)
	if err != nil {
		return nil, fmt.Errorf("signing timestamp: %w", err)
	}

	// Pass 2: write the tar.
	zw, err := zstd.NewWriter(w, encoderOptions()...)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(zw, 1<<20)
	tw := tar.NewWriter(bw)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(header(name, int64(len(data)), info.Created)); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for i, r := range opts.Roots {
		root, err := metadata.Root().FromBytes(r)
		if err != nil {
			zw.Close()
			return nil, fmt.Errorf("root chain entry %d: %w", i+1, err)
		}
		if err := put(RootPath(root.Signed.Version), r); err != nil {
			zw.Close()
			return nil, err
		}
	}
	for _, m := range []struct {
		name string
		data []byte
	}{{TimestampPath, timestampJSON}, {SnapshotPath, snapshotJSON}, {TargetsPath, targetsJSON}} {
		if err := put(m.name, m.data); err != nil {
			zw.Close()
			return nil, err
		}
	}
	buf := make([]byte, 1<<20)
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			zw.Close()
			return nil, err
		}
		if err := tw.WriteHeader(header(f.Path, sizes[i], info.Created)); err != nil {
			zw.Close()
			return nil, err
		}
		if err := copyChecked(tw, f, sizes[i], digests[i], buf); err != nil {
			zw.Close()
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		zw.Close()
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		zw.Close()
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(targetsJSON)
	return &Written{
		Info:          info,
		TargetsSHA256: hex.EncodeToString(sum[:]),
		Targets:       len(files),
		ContentBytes:  total,
		SignerKeyIDs:  keyIDs,
	}, nil
}

func hashFile(f File) (int64, []byte, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, nil, fmt.Errorf("opening %s: %w", f.Path, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return 0, nil, fmt.Errorf("reading %s: %w", f.Path, err)
	}
	return n, h.Sum(nil), nil
}

// copyChecked copies f into w, exactly size bytes, and checks the digest.
func copyChecked(w io.Writer, f File, size int64, digest []byte, buf []byte) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("opening %s: %w", f.Path, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(rc, size), buf)
	if err != nil {
		if errors.Is(err, tar.ErrWriteTooLong) {
			return fmt.Errorf("%s: %w", f.Path, ErrChanged)
		}
		return fmt.Errorf("reading %s: %w", f.Path, err)
	}
	var one [1]byte
	if extra, _ := rc.Read(one[:]); n != size || extra != 0 || !slices.Equal(h.Sum(nil), digest) {
		return fmt.Errorf("%s: %w", f.Path, ErrChanged)
	}
	return nil
}

func metaFile(version int64, data []byte) *metadata.MetaFiles {
	sum := sha256.Sum256(data)
	return &metadata.MetaFiles{Version: version, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
}

// signMeta signs m with every signer, sorts the signatures by key id and
// returns the JSON and the key ids.
func signMeta[T metadata.Roles](m *metadata.Metadata[T], signers []signature.Signer) ([]byte, []string, error) {
	for _, s := range signers {
		if _, err := m.Sign(s); err != nil {
			return nil, nil, err
		}
	}
	slices.SortFunc(m.Signatures, func(a, b metadata.Signature) int { return strings.Compare(a.KeyID, b.KeyID) })
	ids := make([]string, 0, len(m.Signatures))
	for i, s := range m.Signatures {
		if i > 0 && m.Signatures[i-1].KeyID == s.KeyID {
			return nil, nil, fmt.Errorf("key %s given twice", s.KeyID)
		}
		ids = append(ids, s.KeyID)
	}
	b, err := m.ToBytes(true)
	if err != nil {
		return nil, nil, err
	}
	return append(b, '\n'), ids, nil
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
