package verify_test

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// reached collects every failure code that a test of this package saw in a
// report, so that TestMain can insist that each code is exercised.
var reached = struct {
	sync.Mutex
	codes map[bundle.Code]bool
}{codes: map[bundle.Code]bool{}}

// notYetReachable are codes of features that do not exist yet.
var notYetReachable = []bundle.Code{}

// TestMain runs the tests and then, when the whole suite ran (no -run,
// -skip or -fuzz), fails if a failure code of bundle.Codes was reached by
// no test: every code must have a test that produces it.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	full := flag.Lookup("test.run").Value.String() == "" &&
		flag.Lookup("test.skip").Value.String() == "" &&
		flag.Lookup("test.fuzz").Value.String() == ""
	if code == 0 && full {
		var missing []string
		for _, c := range bundle.Codes {
			if !reached.codes[c] && !slices.Contains(notYetReachable, c) {
				missing = append(missing, string(c))
			}
		}
		if len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: no test reached the failure code(s) %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// at is a time when fixture kits are valid.
var at = fixtures.Created.Add(24 * time.Hour)

// failure is a failure without its message, for comparisons.
type failure struct {
	Code  bundle.Code
	Entry string
}

func (f failure) String() string { return fmt.Sprintf("%s@%q", f.Code, f.Entry) }

func failuresOf(r *verify.Report) []failure {
	out := []failure{}
	for _, f := range r.Failures {
		out = append(out, failure{f.Code, f.Entry})
	}
	return out
}

// run verifies kit against trust at time when, records the codes reached,
// and fails the test if Kit returns an error or takes long.
func run(t *testing.T, kit []byte, src verify.TrustSource, when time.Time) *verify.Report {
	t.Helper()
	start := time.Now()
	rep, err := verify.Kit(context.Background(), bytes.NewReader(kit), src, verify.Options{At: when})
	if err != nil {
		t.Fatalf("verify.Kit: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("verify.Kit took %s", d)
	}
	if rep.OK != (len(rep.Failures) == 0) {
		t.Errorf("report OK=%v with %d failures", rep.OK, len(rep.Failures))
	}
	reached.Lock()
	for _, f := range rep.Failures {
		reached.codes[f.Code] = true
	}
	reached.Unlock()
	return rep
}

// wantFailures fails the test unless the report holds exactly want.
func wantFailures(t *testing.T, rep *verify.Report, want ...failure) {
	t.Helper()
	got := failuresOf(rep)
	if !slices.Equal(got, want) {
		t.Errorf("failures:\n got  %v\n want %v\nreport failures: %+v", got, want, rep.Failures)
	}
	if rep.OK {
		t.Errorf("report is OK")
	}
}

func pinned(root []byte) verify.TrustSource { return verify.Static(verify.Trust{Root: root}) }

// sample returns a channel and a valid kit of fixtures.SampleFiles.
func sample(t *testing.T) (*fixtures.Channel, []byte) {
	t.Helper()
	ch := fixtures.NewChannel("acme-feeds")
	return ch, fixtures.Kit(ch, fixtures.SampleFiles(), fixtures.KitOptions{})
}

// writeKit builds a kit with bundle.Write directly, for kits that
// fixtures.Kit will not make.
func writeKit(t *testing.T, opts bundle.WriteOptions, files map[string][]byte) []byte {
	t.Helper()
	if opts.Info.Name == "" {
		opts.Info.Name = opts.Info.Channel
	}
	if opts.Info.Version == 0 {
		opts.Info.Version = 1
	}
	if opts.Info.Created.IsZero() {
		opts.Info.Created = fixtures.Created
		opts.Info.Expires = fixtures.Created.Add(30 * 24 * time.Hour)
	}
	var buf bytes.Buffer
	if _, err := bundle.Write(context.Background(), &buf, opts, fixtures.Files(files)); err != nil {
		t.Fatalf("bundle.Write: %v", err)
	}
	return buf.Bytes()
}

// flipHexAfter changes the hex digit that follows the first occurrence of
// marker in data to another hex digit.
func flipHexAfter(t *testing.T, data []byte, marker string) []byte {
	t.Helper()
	i := bytes.Index(data, []byte(marker))
	if i < 0 {
		t.Fatalf("%q not found in %s", marker, data)
	}
	out := bytes.Clone(data)
	j := i + len(marker)
	if !strings.ContainsRune("0123456789abcdef", rune(out[j])) {
		t.Fatalf("%q is followed by %q, not a hex digit", marker, out[j])
	}
	if out[j] == '0' {
		out[j] = '1'
	} else {
		out[j] = '0'
	}
	return out
}

// editEntry returns kit with the content of entry name replaced by edit's.
func editEntry(t *testing.T, kit []byte, name string, edit func([]byte) []byte) []byte {
	t.Helper()
	return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
		i := fixtures.Index(es, name)
		if i < 0 {
			t.Fatalf("no entry %s", name)
		}
		es[i].Content = edit(es[i].Content)
		return es
	})
}

// TestAttacks is one named subtest per attack on a kit: each asserts the
// exact failures (code and entry) that verify.Kit reports.
func TestAttacks(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name string
		// make returns the kit and the trust to verify it against.
		make func(t *testing.T) ([]byte, verify.TrustSource)
		at   time.Time // default: at
		want []failure
	}{
		{
			name: "flipped byte in content",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				off, size := fixtures.ContentOffset(kit, "docs/README.md")
				if size < 3 {
					t.Fatalf("entry too small: %d", size)
				}
				return fixtures.FlipTarByte(kit, off+2, 0x01), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeDigestMismatch, "docs/README.md"}},
		},
		{
			name: "flipped byte in the last byte of a large content file",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				off, size := fixtures.ContentOffset(kit, "docs/sub/data.bin")
				return fixtures.FlipTarByte(kit, off+size-1, 0x80), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeDigestMismatch, "docs/sub/data.bin"}},
		},
		{
			name: "flipped byte in targets.json",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				// A hex digit of a target's hash: still valid JSON, but
				// no longer the targets.json that snapshot.json hashes.
				return editEntry(t, kit, bundle.TargetsPath, func(b []byte) []byte {
					return flipHexAfter(t, b, `"sha256": "`)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeDigestMismatch, bundle.TargetsPath}},
		},
		{
			name: "flipped byte in snapshot.json",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return editEntry(t, kit, bundle.SnapshotPath, func(b []byte) []byte {
					return flipHexAfter(t, b, `"sha256": "`)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeDigestMismatch, bundle.SnapshotPath}},
		},
		{
			name: "flipped hex digit in the timestamp signature",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return editEntry(t, kit, bundle.TimestampPath, func(b []byte) []byte {
					return flipHexAfter(t, b, `"sig": "`)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.TimestampPath}},
		},
		{
			name: "extra content entry",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					return append(es, fixtures.Reg("zz-extra.txt", []byte("not in targets\n")))
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeUnexpectedEntry, "zz-extra.txt"}},
		},
		{
			name: "extra metadata entry after targets.json",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					i := fixtures.Index(es, bundle.TargetsPath)
					return slices.Insert(es, i+1, fixtures.Reg("tuf/role.json", []byte("{}")))
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeUnexpectedEntry, "tuf/role.json"}},
		},
		{
			name: "missing target",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					return slices.Delete(es, fixtures.Index(es, "docs/README.md"), fixtures.Index(es, "docs/README.md")+1)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMissingTarget, "docs/README.md"}},
		},
		{
			name: "content before the metadata",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					i := fixtures.Index(es, "kit.json")
					e := es[i]
					return slices.Insert(slices.Delete(es, i, i+1), 0, e)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, "kit.json"}},
		},
		{
			name: "content between the roots and timestamp.json",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					i := fixtures.Index(es, "kit.json")
					e := es[i]
					return slices.Insert(slices.Delete(es, i, i+1), fixtures.Index(es, bundle.TimestampPath), e)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, "kit.json"}},
		},
		{
			name: "metadata out of order",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					i, j := fixtures.Index(es, bundle.SnapshotPath), fixtures.Index(es, bundle.TargetsPath)
					es[i], es[j] = es[j], es[i]
					return es
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.TargetsPath}},
		},
		{
			name: "duplicate content entry",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					i := fixtures.Index(es, "docs/README.md")
					return slices.Insert(es, i+1, es[i])
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeDuplicateEntry, "docs/README.md"}},
		},
		{
			name: "duplicate entry with other content",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					i := fixtures.Index(es, "docs/README.md")
					return slices.Insert(es, i+1, fixtures.Reg("docs/README.md", []byte("evil twin\n")))
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeDuplicateEntry, "docs/README.md"}},
		},
		{
			name: "duplicate metadata entry",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					i := fixtures.Index(es, bundle.TimestampPath)
					return slices.Insert(es, i+1, es[i])
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeDuplicateEntry, bundle.TimestampPath}},
		},
		{
			name: "path traversal ../x",
			make: appendEntry(fixtures.Reg("../x", []byte("escape\n"))),
			want: []failure{{bundle.CodeUnsafePath, "../x"}},
		},
		{
			name: "path traversal docs/../../x",
			make: appendEntry(fixtures.Reg("docs/../../x", []byte("escape\n"))),
			want: []failure{{bundle.CodeUnsafePath, "docs/../../x"}},
		},
		{
			name: "absolute path /abs",
			make: appendEntry(fixtures.Reg("/abs", []byte("escape\n"))),
			want: []failure{{bundle.CodeUnsafePath, "/abs"}},
		},
		{
			name: "symlink entry",
			make: appendEntry(fixtures.TarEntry{Name: "zz/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}),
			want: []failure{{bundle.CodeUnsafeEntryType, "zz/link"}},
		},
		{
			name: "hard link entry",
			make: appendEntry(fixtures.TarEntry{Name: "zz/hard", Typeflag: tar.TypeLink, Linkname: "docs/README.md"}),
			want: []failure{{bundle.CodeUnsafeEntryType, "zz/hard"}},
		},
		{
			name: "character device entry",
			make: appendEntry(fixtures.TarEntry{Name: "zz/tty", Typeflag: tar.TypeChar}),
			want: []failure{{bundle.CodeUnsafeEntryType, "zz/tty"}},
		},
		{
			name: "block device entry",
			make: appendEntry(fixtures.TarEntry{Name: "zz/sda", Typeflag: tar.TypeBlock}),
			want: []failure{{bundle.CodeUnsafeEntryType, "zz/sda"}},
		},
		{
			name: "symlink in place of a target",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					i := fixtures.Index(es, "docs/README.md")
					es[i] = fixtures.TarEntry{Name: "docs/README.md", Typeflag: tar.TypeSymlink, Linkname: "../../../etc/shadow"}
					return es
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeUnsafeEntryType, "docs/README.md"}, {bundle.CodeMissingTarget, "docs/README.md"}},
		},
		{
			name: "size bomb: a target declares 10 GiB",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					es[fixtures.Index(es, "docs/README.md")].Size = 10 * gib
					return es
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeSizeMismatch, "docs/README.md"}, {bundle.CodeTruncated, "docs/README.md"}},
		},
		{
			name: "size bomb: an unlisted entry declares 10 GiB",
			make: appendEntry(fixtures.TarEntry{Name: "zz/big", Content: []byte("small"), Size: 10 * gib}),
			want: []failure{{bundle.CodeUnexpectedEntry, "zz/big"}, {bundle.CodeTruncated, "zz/big"}},
		},
		{
			name: "size bomb: targets.json declares 10 GiB",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					es[fixtures.Index(es, bundle.TargetsPath)].Size = 10 * gib
					return es
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeTooLarge, bundle.TargetsPath}},
		},
		{
			name: "decompression bomb: unlisted entry of 1 GiB zeros",
			make: appendEntry(fixtures.TarEntry{Name: "zz/bomb.bin", Body: fixtures.Zeros(gib), Size: gib}),
			want: []failure{{bundle.CodeUnexpectedEntry, "zz/bomb.bin"}, {bundle.CodeTooLarge, "zz/bomb.bin"}},
		},
		{
			name: "decompression bomb: 1 GiB zeros after the tar trailer",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.PackTrailing(fixtures.Entries(kit), fixtures.Zeros(gib)), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeTooLarge, ""}},
		},
		{
			name: "garbage after the tar trailer",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.PackTrailing(fixtures.Entries(kit), strings.NewReader("trailing")), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, ""}},
		},
		{
			name: "expired timestamp (freeze attack)",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return kit, pinned(ch.Root())
			},
			at:   fixtures.Created.Add(31 * 24 * time.Hour),
			want: []failure{{bundle.CodeExpired, bundle.TimestampPath}},
		},
		{
			name: "expired root",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return kit, pinned(ch.Root())
			},
			at:   fixtures.Created.Add(2 * 365 * 24 * time.Hour),
			want: []failure{{bundle.CodeExpired, bundle.RootPath(1)}},
		},
		{
			name: "wrong root: another channel's",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				_, kit := sample(t)
				return kit, pinned(fixtures.NewChannel("other").Root())
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.RootPath(1)}},
		},
		{
			name: "wrong root: same channel name, other keys",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				_, kit := sample(t)
				impostor := fixtures.NewChannelN("acme-feeds", 2, 1, 1, 1)
				return kit, pinned(impostor.Root())
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.RootPath(1)}},
		},
		{
			name: "kit for another channel signed with this channel's keys",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch := fixtures.NewChannel("acme-feeds")
				kit := writeKit(t, bundle.WriteOptions{Info: bundle.Info{Channel: "other-feeds"}, Roots: ch.Chain, Signers: ch.SigningKeys()}, fixtures.SampleFiles())
				return kit, pinned(ch.Root())
			},
			want: []failure{{bundle.CodeUnknownChannel, bundle.TargetsPath}},
		},
		{
			name: "trust source without the kit's channel",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				_, kit := sample(t)
				return kit, channels{}
			},
			want: []failure{{bundle.CodeUnknownChannel, ""}},
		},
		{
			name: "signatures below threshold",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch := fixtures.NewChannelN("acme-feeds", 1, 1, 2, 2)
				kit := writeKit(t, bundle.WriteOptions{Info: bundle.Info{Channel: ch.Name}, Roots: ch.Chain, Signers: ch.SigningKeys()[:1]}, fixtures.SampleFiles())
				return kit, pinned(ch.Root())
			},
			want: []failure{{bundle.CodeThresholdNotMet, bundle.TimestampPath}},
		},
		{
			name: "signed by a key the root does not list",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch := fixtures.NewChannel("acme-feeds")
				kit := writeKit(t, bundle.WriteOptions{Info: bundle.Info{Channel: ch.Name}, Roots: ch.Chain,
					Signers: []signature.Signer{fixtures.Signer("stranger")}}, fixtures.SampleFiles())
				return kit, pinned(ch.Root())
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.TimestampPath}},
		},
		{
			name: "signed by the old key after a rotation",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch := fixtures.NewChannel("acme-feeds")
				old := ch.SigningKeys()
				ch.Rotate()
				kit := writeKit(t, bundle.WriteOptions{Info: bundle.Info{Channel: ch.Name}, Roots: ch.Chain, Signers: old}, fixtures.SampleFiles())
				return kit, pinned(ch.Chain[0])
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.TimestampPath}},
		},
		{
			name: "root chain with a gap",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch := fixtures.NewChannel("acme-feeds")
				ch.Rotate()
				ch.Rotate()
				kit := fixtures.Kit(ch, fixtures.SampleFiles(), fixtures.KitOptions{})
				return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
					i := fixtures.Index(es, bundle.RootPath(2))
					return slices.Delete(es, i, i+1)
				}), pinned(ch.Chain[0])
			},
			want: []failure{{bundle.CodeMalformed, bundle.RootPath(3)}},
		},
		{
			name: "root chain older than the pinned root",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				ch.Rotate()
				return kit, pinned(ch.Root())
			},
			want: []failure{{bundle.CodeRollback, bundle.RootPath(1)}},
		},
		{
			name: "forged root v2 in the chain",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch := fixtures.NewChannel("acme-feeds")
				evil := fixtures.NewChannel("evil")
				evil.Rotate() // v2, signed by evil's keys only
				kit := writeKit(t, bundle.WriteOptions{Info: bundle.Info{Channel: ch.Name}, Roots: [][]byte{ch.Chain[0], evil.Chain[1]},
					Signers: evil.SigningKeys()}, fixtures.SampleFiles())
				return kit, pinned(ch.Root())
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.RootPath(2)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kit, src := tt.make(t)
			when := tt.at
			if when.IsZero() {
				when = at
			}
			rep := run(t, kit, src, when)
			wantFailures(t, rep, tt.want...)
		})
	}
}

// appendEntry returns a test kit maker: the sample kit with e added last.
func appendEntry(e fixtures.TarEntry) func(t *testing.T) ([]byte, verify.TrustSource) {
	return func(t *testing.T) ([]byte, verify.TrustSource) {
		ch, kit := sample(t)
		return fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
			return append(es, e)
		}), pinned(ch.Root())
	}
}

// channels is a TrustSource holding trust for a few channels.
type channels map[string]verify.Trust

func (c channels) TrustFor(channel string) (verify.Trust, error) {
	t, ok := c[channel]
	if !ok {
		return verify.Trust{}, bundle.Errorf(bundle.CodeUnknownChannel, "", "no trust for channel %q", channel)
	}
	return t, nil
}

// TestTruncated cuts a kit at 10 pseudo-random offsets (seeded: the same
// offsets every run) and expects KIT_TRUNCATED or, for a cut that corrupts
// the zstd framing, KIT_MALFORMED; never OK, a panic or a hang.
func TestTruncated(t *testing.T) {
	ch, kit := sample(t)
	rng := rand.New(rand.NewPCG(20261128, 1))
	offsets := []int{1, 4, len(kit) - 1}
	for len(offsets) < 13 {
		offsets = append(offsets, 1+rng.IntN(len(kit)-1))
	}
	for _, off := range offsets {
		t.Run(fmt.Sprintf("at %d of %d", off, len(kit)), func(t *testing.T) {
			rep := run(t, fixtures.Truncate(kit, off), pinned(ch.Root()), at)
			if rep.OK {
				t.Fatal("a truncated kit verifies OK")
			}
			if len(rep.Failures) != 1 {
				t.Errorf("want one failure, got %+v", rep.Failures)
			}
			if c := rep.Failures[0].Code; c != bundle.CodeTruncated && c != bundle.CodeMalformed {
				t.Errorf("code %s, want %s or %s: %+v", c, bundle.CodeTruncated, bundle.CodeMalformed, rep.Failures)
			}
		})
	}
}

// TestTruncatedTar cuts the tar inside a well-formed zstd stream: at an
// entry boundary the tar just ends (targets go missing), elsewhere an entry
// or header ends early.
func TestTruncatedTar(t *testing.T) {
	ch, kit := sample(t)
	data := fixtures.DecompressTar(kit)
	rng := rand.New(rand.NewPCG(20261128, 2))
	for range 10 {
		off := 1 + rng.IntN(len(data)-1024-1) // not inside the trailer
		t.Run(fmt.Sprintf("at %d of %d", off, len(data)), func(t *testing.T) {
			rep := run(t, fixtures.CompressTar(data[:off]), pinned(ch.Root()), at)
			if rep.OK {
				t.Fatal("a truncated kit verifies OK")
			}
			for _, f := range rep.Failures {
				switch f.Code {
				case bundle.CodeTruncated, bundle.CodeMissingTarget, bundle.CodeMalformed:
				default:
					t.Errorf("unexpected failure %+v", f)
				}
			}
		})
	}
}

// TestFailuresAreAllReported checks that the verifier goes on after an
// entry-level failure and reports every one, each with its entry.
func TestFailuresAreAllReported(t *testing.T) {
	ch, kit := sample(t)
	kit = fixtures.Tamper(kit, func(es []fixtures.TarEntry) []fixtures.TarEntry {
		es[fixtures.Index(es, "advisories/demo/osv.jsonl")].Content = []byte("{}\n")
		es = slices.Delete(es, fixtures.Index(es, "kit.json"), fixtures.Index(es, "kit.json")+1)
		return append(es,
			fixtures.TarEntry{Name: "zz/link", Typeflag: tar.TypeSymlink, Linkname: "/"},
			fixtures.Reg("zz/new", []byte("x")))
	})
	rep := run(t, kit, pinned(ch.Root()), at)
	wantFailures(t, rep,
		failure{bundle.CodeSizeMismatch, "advisories/demo/osv.jsonl"},
		failure{bundle.CodeUnsafeEntryType, "zz/link"},
		failure{bundle.CodeUnexpectedEntry, "zz/new"},
		failure{bundle.CodeMissingTarget, "kit.json"},
	)
}

// rotated returns a channel rotated twice (roots v1, v2, v3) and a kit of it.
func rotated(t *testing.T) (*fixtures.Channel, []byte) {
	t.Helper()
	ch := fixtures.NewChannel("acme-feeds")
	ch.Rotate()
	ch.Rotate()
	return ch, fixtures.Kit(ch, fixtures.SampleFiles(), fixtures.KitOptions{})
}

// stranger is a key no fixture root lists.
var stranger = fixtures.Signer("stranger")

// withSignature returns metadata of role T with one more signature, by s,
// in canonical form (sorted): only the signature is wrong.
func withSignature[T metadata.Roles](t *testing.T, data []byte, s signature.Signer) []byte {
	t.Helper()
	m, err := new(metadata.Metadata[T]).FromBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sign(s); err != nil {
		t.Fatal(err)
	}
	out, err := bundle.EncodeMetadata(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMetadataAttacks: every byte of every tuf/*.json entry is
// authenticated. A signature covers only the signed part as go-tuf
// re-encodes it, so each of these kits passed go-tuf's checks; each must be
// refused, with the code and entry named.
func TestMetadataAttacks(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T) ([]byte, verify.TrustSource)
		want []failure
	}{
		{
			name: "timestamp: one whitespace byte changed, TAB to CR",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.TimestampPath, func(b []byte) []byte {
					return bytes.Replace(b, []byte("\t"), []byte("\r"), 1)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.TimestampPath}},
		},
		{
			name: "targets: indentation by spaces",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.TargetsPath, func(b []byte) []byte {
					return bytes.ReplaceAll(b, []byte("\t"), []byte("  "))
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.TargetsPath}},
		},
		{
			name: "timestamp: extra signature by an unknown key id",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.TimestampPath, func(b []byte) []byte {
					return fixtures.EditMetadata(b, func(m *metadata.Metadata[metadata.TimestampType]) {
						m.Signatures = append(m.Signatures, metadata.Signature{KeyID: strings.Repeat("ff", 32), Signature: bytes.Repeat([]byte{1}, 64)})
					})
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.TimestampPath}},
		},
		{
			name: "timestamp: extra valid signature by a key the root does not list",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.TimestampPath, func(b []byte) []byte {
					return withSignature[metadata.TimestampType](t, b, stranger)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.TimestampPath}},
		},
		{
			name: "timestamp: a second signature by a listed key that does not verify",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				// Threshold 1 of 2: one good signature is enough for
				// go-tuf, the other may be anything.
				ch := fixtures.NewChannelN("acme-feeds", 1, 1, 2, 1)
				kit := fixtures.Kit(ch, fixtures.SampleFiles(), fixtures.KitOptions{})
				return fixtures.EditEntry(kit, bundle.TimestampPath, func(b []byte) []byte {
					return fixtures.EditMetadata(b, func(m *metadata.Metadata[metadata.TimestampType]) {
						m.Signatures[1].Signature[0] ^= 1
					})
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.TimestampPath}},
		},
		{
			// snapshot.json and targets.json are hashed by the metadata
			// that lists them: any change of theirs is a digest mismatch.
			name: "snapshot: extra valid signature by a key the root does not list",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.SnapshotPath, func(b []byte) []byte {
					return withSignature[metadata.SnapshotType](t, b, stranger)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeDigestMismatch, bundle.SnapshotPath}},
		},
		{
			name: "timestamp: duplicated signature",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.TimestampPath, func(b []byte) []byte {
					return fixtures.EditMetadata(b, func(m *metadata.Metadata[metadata.TimestampType]) {
						m.Signatures = append(m.Signatures, m.Signatures[0])
					})
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.TimestampPath}},
		},
		{
			name: "snapshot: signatures not sorted by key id",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch := fixtures.NewChannelN("acme-feeds", 1, 1, 2, 2)
				kit := fixtures.Kit(ch, fixtures.SampleFiles(), fixtures.KitOptions{})
				return fixtures.EditEntry(kit, bundle.SnapshotPath, func(b []byte) []byte {
					return fixtures.EditMetadata(b, func(m *metadata.Metadata[metadata.SnapshotType]) {
						slices.Reverse(m.Signatures)
					})
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.SnapshotPath}},
		},
		{
			name: "timestamp: signature in upper-case hex",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.TimestampPath, func(b []byte) []byte {
					i := bytes.Index(b, []byte(`"sig": "`)) + len(`"sig": "`)
					j := i + bytes.IndexByte(b[i:], '"')
					copy(b[i:j], bytes.ToUpper(b[i:j]))
					return b
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.TimestampPath}},
		},
		{
			name: "timestamp: unknown field beside signed and signatures",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.TimestampPath, func(b []byte) []byte {
					return fixtures.EditMetadata(b, func(m *metadata.Metadata[metadata.TimestampType]) {
						m.UnrecognizedFields = map[string]any{"note": "unsigned"}
					})
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.TimestampPath}},
		},
		{
			name: "timestamp: unknown field in a signature",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.TimestampPath, func(b []byte) []byte {
					return fixtures.EditMetadata(b, func(m *metadata.Metadata[metadata.TimestampType]) {
						m.Signatures[0].UnrecognizedFields = map[string]any{"note": "unsigned"}
					})
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.TimestampPath}},
		},
		{
			name: "snapshot: trailing bytes after the JSON",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.SnapshotPath, func(b []byte) []byte {
					return append(b, "{}\n"...)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.SnapshotPath}},
		},
		{
			name: "targets: trailing whitespace after the final newline",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.TargetsPath, func(b []byte) []byte {
					return append(b, ' ')
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.TargetsPath}},
		},
		{
			name: "1.root.json lost its final newline",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := sample(t)
				return fixtures.EditEntry(kit, bundle.RootPath(1), func(b []byte) []byte {
					return bytes.TrimSuffix(b, []byte("\n"))
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.RootPath(1)}},
		},
		{
			name: "root entry holds another root version",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := rotated(t)
				return fixtures.EditEntry(kit, bundle.RootPath(2), func([]byte) []byte {
					return bytes.Clone(ch.Chain[0])
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.RootPath(2)}},
		},
		{
			name: "lower root replaced by junk",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := rotated(t)
				return fixtures.EditEntry(kit, bundle.RootPath(1), func([]byte) []byte {
					return []byte("junk\n")
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeMalformed, bundle.RootPath(1)}},
		},
		{
			name: "lower root with an extra signature, no trusted copy",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := rotated(t)
				return fixtures.EditEntry(kit, bundle.RootPath(1), func(b []byte) []byte {
					return withSignature[metadata.RootType](t, b, stranger)
				}), pinned(ch.Root())
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.RootPath(1)}},
		},
		{
			name: "lower root with an extra signature, against the trusted copy",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := rotated(t)
				return fixtures.EditEntry(kit, bundle.RootPath(1), func(b []byte) []byte {
					return withSignature[metadata.RootType](t, b, stranger)
				}), verify.Static(verify.Trust{Root: ch.Root(), Roots: ch.Chain})
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.RootPath(1)}},
		},
		{
			name: "lower root replaced by another channel's root v1",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := rotated(t)
				impostor := fixtures.NewChannel("evil")
				return fixtures.EditEntry(kit, bundle.RootPath(1), func([]byte) []byte {
					return bytes.Clone(impostor.Chain[0])
				}), pinned(ch.Chain[1])
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.RootPath(1)}},
		},
		{
			name: "root after the pinned one with an extra signature",
			make: func(t *testing.T) ([]byte, verify.TrustSource) {
				ch, kit := rotated(t)
				return fixtures.EditEntry(kit, bundle.RootPath(3), func(b []byte) []byte {
					return withSignature[metadata.RootType](t, b, stranger)
				}), pinned(ch.Chain[0])
			},
			want: []failure{{bundle.CodeSignatureInvalid, bundle.RootPath(3)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kit, src := tt.make(t)
			wantFailures(t, run(t, kit, src, at), tt.want...)
		})
	}
}

// TestMetadataTrustedChain: a kit verified against trust that holds the
// whole chain passes, and its Metadata().Roots is that chain; a root that
// was pinned re-formatted (not canonical) still matches the kit's.
func TestMetadataTrustedChain(t *testing.T) {
	ch, kit := rotated(t)
	rep := run(t, kit, verify.Static(verify.Trust{Root: ch.Chain[1], Roots: ch.Chain[:2]}), at)
	wantOK(t, rep)
	if got := rep.Metadata().Roots; !slices.EqualFunc(got, ch.Chain, bytes.Equal) {
		t.Errorf("Metadata().Roots has %d roots, want the whole chain of %d", len(got), len(ch.Chain))
	}
	reformatted := bytes.ReplaceAll(ch.Chain[1], []byte("\t"), []byte("    "))
	wantOK(t, run(t, kit, pinned(reformatted), at))
}
