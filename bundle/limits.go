package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// The limits a verifier applies to a kit's TUF metadata. They live here,
// once: the Reader and the verifier read with them, and Write refuses a kit
// that would break them, so that no kit is written that no verifier
// accepts.
const (
	// MaxMetadataSize caps each TUF metadata entry (every root,
	// timestamp.json, snapshot.json, targets.json): they are read into
	// memory before anything is trusted.
	MaxMetadataSize = 64 << 20

	// DefaultMetadataBudget is how many decompressed bytes a Reader
	// accepts before SetBudget is called, i.e. for all the TUF metadata
	// entries together, tar headers included.
	DefaultMetadataBudget = 256 << 20
)

// Sizes that the size accounting of targets.json assumes.
const (
	// targetsReserve is what targets.json holds besides its target
	// entries: the signatures (about 250 bytes each), the kit description,
	// expiry, version. 64 KiB leaves room for some 200 signatures.
	targetsReserve = 64 << 10
	// tarEntryOverhead bounds the tar bytes of one metadata entry besides
	// its data: the header, a PAX header for a long name, padding.
	tarEntryOverhead = 3 * 512
	// maxCustomCache bounds how many distinct custom objects TargetsLimit
	// remembers the size of (sources share a few).
	maxCustomCache = 256
)

// TargetsLimit adds up, file by file, the size targets.json will have, so
// that a kit too large for a verifier (MaxMetadataSize) is refused while
// its files are listed: before any content is read, hashed or written, and
// before its metadata is built in memory. The size of an entry is exact
// for the format Write produces (go-tuf, indented with tabs); a length not
// known yet counts as one digit, so the sum is a lower bound until every
// length is known, and Write checks the real size again after signing.
//
// The zero value is ready to use. A TargetsLimit is not safe for
// concurrent use.
type TargetsLimit struct {
	targets int
	size    int64 // bytes of the target entries so far
	custom  map[string]int64
}

// Add accounts one target: its path in the kit, its custom object (as in
// File.Custom) and its length (0 if not known yet). It returns an error
// that wraps ErrMetadataTooLarge once targets.json would exceed
// MaxMetadataSize; the target is then not counted.
func (l *TargetsLimit) Add(path string, custom json.RawMessage, length int64) error {
	n, err := l.entrySize(path, custom, length)
	if err != nil {
		return err
	}
	if l.size+n > MaxMetadataSize-targetsReserve {
		return fmt.Errorf("%w: with %q, target number %d, targets.json would exceed %d MiB, the most a verifier reads (%d MiB so far): carry fewer files, or files with shorter names, in one kit",
			ErrMetadataTooLarge, shortPath(path), l.targets+1, MaxMetadataSize>>20, l.size>>20)
	}
	l.targets++
	l.size += n
	return nil
}

// Targets is the number of targets added.
func (l *TargetsLimit) Targets() int { return l.targets }

// Size is the size targets.json will at least have with the targets added.
func (l *TargetsLimit) Size() int64 { return l.size + targetsReserve }

// Fixed parts of one entry of targets.json as Write formats it (go-tuf's
// Metadata.ToBytes(true): encoding/json, indented with tabs, a target at
// depth 3, its keys sorted):
//
//	\t\t\t"PATH": {\n
//	\t\t\t\t"custom": CUSTOM,\n          (only with a custom object)
//	\t\t\t\t"hashes": {\n
//	\t\t\t\t\t"sha256": "HEX"\n
//	\t\t\t\t},\n
//	\t\t\t\t"length": N\n
//	\t\t\t},\n
const (
	entryOpen   = len("\t\t\t") + len(": {\n")
	entryCustom = len("\t\t\t\t\"custom\": ") + len(",\n")
	entryHashes = len("\t\t\t\t\"hashes\": {\n") + len("\t\t\t\t\t\"sha256\": \"") + 64 + len("\"\n") + len("\t\t\t\t},\n")
	entryLength = len("\t\t\t\t\"length\": ") + len("\n")
	entryClose  = len("\t\t\t},\n")
)

// entrySize is the number of bytes the target adds to targets.json.
func (l *TargetsLimit) entrySize(path string, custom json.RawMessage, length int64) (int64, error) {
	q, err := json.Marshal(path) // quoted and escaped as encoding/json does
	if err != nil {
		return 0, err
	}
	n := int64(entryOpen+len(q)+entryHashes+entryLength+entryClose) + int64(len(strconv.FormatInt(max(length, 0), 10)))
	if len(custom) > 0 {
		c, ok := l.custom[string(custom)]
		if !ok {
			if c, err = customSize(custom); err != nil {
				return 0, fmt.Errorf("%q: custom object: %w", path, err)
			}
			if l.custom == nil {
				l.custom = map[string]int64{}
			}
			if len(l.custom) < maxCustomCache {
				l.custom[string(custom)] = c
			}
		}
		n += int64(entryCustom) + c
	}
	return n, nil
}

// customSize is the size of a custom object as it appears in targets.json:
// compacted and HTML-escaped (encoding/json does that to a RawMessage),
// then indented at depth 4.
func customSize(custom json.RawMessage) (int64, error) {
	compact, err := json.Marshal(custom)
	if err != nil {
		return 0, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, compact, "\t\t\t\t", "\t"); err != nil {
		return 0, err
	}
	return int64(b.Len()), nil
}

// checkMetadata checks the signed metadata of a kit against what a
// verifier reads: each entry at most MaxMetadataSize, all of them together
// (with their tar headers) within DefaultMetadataBudget.
func checkMetadata(roots [][]byte, timestamp, snapshot, targets []byte) error {
	total := int64(0)
	check := func(name string, data []byte) error {
		if len(data) > MaxMetadataSize {
			return fmt.Errorf("%w: %s would be %d bytes, more than the %d MiB a verifier reads: carry fewer files, or files with shorter names, in one kit",
				ErrMetadataTooLarge, name, len(data), MaxMetadataSize>>20)
		}
		total += int64(len(data)) + tarEntryOverhead
		return nil
	}
	for i, r := range roots {
		if err := check(fmt.Sprintf("root chain entry %d", i+1), r); err != nil {
			return err
		}
	}
	for _, m := range []struct {
		name string
		data []byte
	}{{TimestampPath, timestamp}, {SnapshotPath, snapshot}, {TargetsPath, targets}} {
		if err := check(m.name, m.data); err != nil {
			return err
		}
	}
	if total > DefaultMetadataBudget {
		return fmt.Errorf("%w: the TUF metadata (%d roots, timestamp, snapshot, targets) would be %d bytes, more than the %d MiB a verifier reads before any is trusted",
			ErrMetadataTooLarge, len(roots), total, DefaultMetadataBudget>>20)
	}
	return nil
}

// shortPath shortens a long path for a message: its start and its end.
func shortPath(p string) string {
	const head, tail = 60, 40
	if len(p) <= head+tail+3 {
		return p
	}
	i, j := head, len(p)-tail
	for i > 0 && !utf8.RuneStart(p[i]) {
		i--
	}
	for j < len(p) && !utf8.RuneStart(p[j]) {
		j++
	}
	return p[:i] + "..." + p[j:]
}

// maxClaimedBudget bounds the budget ClaimedBudget derives from an
// unverified targets.json (1 PiB: far beyond any kit, short of overflow).
const maxClaimedBudget = 1 << 50

// ClaimedBudget is what the content entries of an unverified kit may
// expand to: the sum of EntryBudget over its targets, lengths out of range
// counted as 0, capped at 1 PiB. Readers that only look inside a kit
// (inspect, kit diff) pass it to Reader.SetBudget, so that every kit
// verify accepts can be looked into.
func ClaimedBudget(ts map[string]*metadata.TargetFiles) int64 {
	var n int64
	for p, t := range ts {
		if t == nil || t.Length < 0 || t.Length > maxClaimedBudget {
			continue
		}
		n += EntryBudget(p, t.Length)
		if n > maxClaimedBudget {
			return maxClaimedBudget
		}
	}
	return n
}

// EntryBudget is how many decompressed bytes one content entry of length
// bytes at path may take in the tar stream: its content, its header and
// PAX records, and padding. A reader of a kit passes the sum over the
// targets to Reader.SetBudget once it has read targets.json.
func EntryBudget(path string, length int64) int64 {
	return length + 3*512 + 2*int64(len(path)) + 1024
}
