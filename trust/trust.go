package trust

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/keys"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// FieldName is the key of ferry's own object in the signed part of a root.
const FieldName = "x-ferry"

// DefaultRootExpiry is how long a root is valid when no expiry is given.
const DefaultRootExpiry = 365 * 24 * time.Hour

// ErrChain is returned when a root chain is broken: a version missing, a
// root not signed by its predecessor, or a channel that changes.
var ErrChain = errors.New("broken root chain")

// Options configures a new root version.
type Options struct {
	// Channel names the channel; required for Init, must not change in Rotate.
	Channel string
	// RootKeys are the public keys of the new root's root role.
	RootKeys []crypto.PublicKey
	// Threshold is how many root keys must sign a root; default 1.
	Threshold int
	// SigningKeys are the keys of the targets, snapshot and timestamp roles.
	SigningKeys []crypto.PublicKey
	// SigningThreshold is how many signing keys must sign; default 1.
	SigningThreshold int
	// Created is the time the root is made (never time.Now inside).
	Created time.Time
	// Expires is the root's expiry; default Created + DefaultRootExpiry.
	Expires time.Time
}

func (o *Options) validate() error {
	if o.Threshold == 0 {
		o.Threshold = 1
	}
	if o.SigningThreshold == 0 {
		o.SigningThreshold = 1
	}
	if o.Created.IsZero() {
		return errors.New("created time is required")
	}
	if o.Expires.IsZero() {
		o.Expires = o.Created.Add(DefaultRootExpiry)
	}
	if !o.Expires.After(o.Created) {
		return fmt.Errorf("root expiry %s is not after its creation %s", o.Expires.Format(time.RFC3339), o.Created.Format(time.RFC3339))
	}
	if len(o.RootKeys) == 0 {
		return errors.New("at least one root key is required")
	}
	if o.Threshold < 1 || o.Threshold > len(o.RootKeys) {
		return fmt.Errorf("threshold %d: must be between 1 and the number of root keys (%d)", o.Threshold, len(o.RootKeys))
	}
	if len(o.SigningKeys) == 0 {
		return errors.New("at least one signing key is required")
	}
	if o.SigningThreshold < 1 || o.SigningThreshold > len(o.SigningKeys) {
		return fmt.Errorf("signing threshold %d: must be between 1 and the number of signing keys (%d)", o.SigningThreshold, len(o.SigningKeys))
	}
	return nil
}

// Init returns root v1 of a new channel, signed by signers, which must be
// root keys of o and meet the root threshold.
func Init(o Options, signers []crypto.Signer) ([]byte, error) {
	if err := ValidChannel(o.Channel); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	root, err := newRoot(o, 1)
	if err != nil {
		return nil, err
	}
	if err := sign(root, signers); err != nil {
		return nil, err
	}
	out, err := marshal(root)
	if err != nil {
		return nil, err
	}
	if _, err := trustedmetadata.New(out); err != nil {
		return nil, fmt.Errorf("the new root does not verify (do the signing root keys meet the threshold of %d?): %w", o.Threshold, err)
	}
	return out, nil
}

// Rotate returns root v(N+1) after current with the keys of o, signed by
// signers: they must meet both the current root's threshold and the new
// one's. o.Channel may be empty (the current channel is kept) but not
// different.
func Rotate(current []byte, signers []crypto.Signer, o Options) ([]byte, error) {
	cur, err := Parse(current)
	if err != nil {
		return nil, err
	}
	ch := Channel(cur)
	if o.Channel == "" {
		o.Channel = ch
	}
	if o.Channel != ch {
		return nil, fmt.Errorf("rotate: channel %q differs from the current root's channel %q", o.Channel, ch)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	next, err := newRoot(o, cur.Signed.Version+1)
	if err != nil {
		return nil, err
	}
	if err := sign(next, signers); err != nil {
		return nil, err
	}
	out, err := marshal(next)
	if err != nil {
		return nil, err
	}
	// Prove the result before handing it out: the old threshold and the new one.
	tm, err := trustedmetadata.New(current)
	if err != nil {
		return nil, fmt.Errorf("loading current root: %w", err)
	}
	if _, err := tm.UpdateRoot(out); err != nil {
		return nil, fmt.Errorf("rotated root does not verify (do the keys given meet the current threshold of %d and the new one of %d?): %w",
			cur.Signed.Roles[metadata.ROOT].Threshold, o.Threshold, err)
	}
	return out, nil
}

func newRoot(o Options, version int64) (*metadata.Metadata[metadata.RootType], error) {
	root := metadata.Root(o.Expires.UTC().Truncate(time.Second))
	root.Signed.Version = version
	root.Signed.ConsistentSnapshot = false
	root.Signed.UnrecognizedFields = map[string]any{FieldName: map[string]any{"channel": o.Channel}}
	for _, k := range o.RootKeys {
		tk, err := keys.TUFKey(k)
		if err != nil {
			return nil, err
		}
		if err := root.Signed.AddKey(tk, metadata.ROOT); err != nil {
			return nil, err
		}
	}
	root.Signed.Roles[metadata.ROOT].Threshold = o.Threshold
	for _, pub := range o.SigningKeys {
		tk, err := keys.TUFKey(pub)
		if err != nil {
			return nil, err
		}
		for _, role := range []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
			if err := root.Signed.AddKey(tk, role); err != nil {
				return nil, err
			}
		}
	}
	for _, role := range []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		root.Signed.Roles[role].Threshold = o.SigningThreshold
		slices.Sort(root.Signed.Roles[role].KeyIDs)
	}
	slices.Sort(root.Signed.Roles[metadata.ROOT].KeyIDs)
	return root, nil
}

// sign signs root once with each distinct key of signers: a key that is
// both an old and a new root key (a rotation that keeps it) signs once,
// and its one signature counts toward both thresholds.
func sign(root *metadata.Metadata[metadata.RootType], signers []crypto.Signer) error {
	seen := map[string]bool{}
	for _, s := range signers {
		tk, err := keys.TUFKey(s.Public())
		if err != nil {
			return err
		}
		id, err := tk.ID()
		if err != nil {
			return err
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		sv, err := keys.Signer(s)
		if err != nil {
			return err
		}
		if _, err := root.Sign(sv); err != nil {
			return fmt.Errorf("signing root: %w", err)
		}
	}
	slices.SortFunc(root.Signatures, func(a, b metadata.Signature) int {
		switch {
		case a.KeyID < b.KeyID:
			return -1
		case a.KeyID > b.KeyID:
			return 1
		}
		return 0
	})
	return nil
}

// marshal returns root in the canonical form kits carry it in.
func marshal(root *metadata.Metadata[metadata.RootType]) ([]byte, error) {
	return bundle.EncodeMetadata(root)
}

// Parse decodes root metadata (without verifying it).
func Parse(data []byte) (*metadata.Metadata[metadata.RootType], error) {
	r, err := metadata.Root().FromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("parsing root metadata: %w", err)
	}
	return r, nil
}

// Channel returns the channel a root belongs to, or "" if it names none.
func Channel(root *metadata.Metadata[metadata.RootType]) string {
	f, ok := root.Signed.UnrecognizedFields[FieldName].(map[string]any)
	if !ok {
		return ""
	}
	s, _ := f["channel"].(string)
	return s
}

// channelRE is compiled on first use, not at start-up (every ferry process
// would pay for it).
var channelRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`) })

// ValidChannel checks a channel name: lower-case letters, digits, '.', '_'
// and '-', starting with a letter or digit, at most 63 characters.
func ValidChannel(name string) error {
	if !channelRE().MatchString(name) {
		return fmt.Errorf("channel %q: use 1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// VersionedName is the file name of root version v in a chain directory.
func VersionedName(v int64) string { return strconv.FormatInt(v, 10) + ".root.json" }

// WriteChainFile writes root to path and, beside it, its versioned copy
// N.root.json, both atomically. The versioned copies are the chain that
// LoadChain reads and that kits carry.
func WriteChainFile(path string, root []byte) error {
	r, err := Parse(root)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, VersionedName(r.Signed.Version)), root, 0o644); err != nil {
		return err
	}
	if filepath.Base(path) == VersionedName(r.Signed.Version) {
		return nil
	}
	return atomicfile.WriteFile(path, root, 0o644)
}

// WriteChain writes a root chain (versions in order, as LoadChain returns
// it) beside path and its last root to path, so that LoadChain(path) reads
// it back: the directory of path becomes a complete chain. A versioned
// file that exists there with other content is never overwritten (it
// belongs to another chain, or the chain was altered): ErrChain.
func WriteChain(path string, chain [][]byte) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: empty", ErrChain)
	}
	dir := filepath.Dir(path)
	for _, root := range chain[:len(chain)-1] {
		r, err := Parse(root)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, VersionedName(r.Signed.Version))
		old, err := os.ReadFile(p)
		switch {
		case err == nil && bytes.Equal(old, root):
			continue
		case err == nil:
			return fmt.Errorf("%w: %s exists and is not version %d of this chain; choose another directory", ErrChain, p, r.Signed.Version)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(p, root, 0o644); err != nil {
			return err
		}
	}
	return WriteChainFile(path, chain[len(chain)-1])
}

// LoadChain reads the root at path and the chain 1.root.json … N.root.json
// beside it, and checks that each root is signed by its predecessor's
// threshold and its own, that the channel never changes, and that the last
// equals the file at path. It returns the chain in version order.
func LoadChain(path string) ([][]byte, error) {
	latest, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Parse(latest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	chain := make([][]byte, 0, r.Signed.Version)
	for v := int64(1); v < r.Signed.Version; v++ {
		p := filepath.Join(dir, VersionedName(v))
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is version %d but %s cannot be read: %v", ErrChain, path, r.Signed.Version, p, err)
		}
		chain = append(chain, b)
	}
	chain = append(chain, latest)
	if err := VerifyChain(chain); err != nil {
		return nil, err
	}
	return chain, nil
}

// VerifyChain checks a root chain that starts at any version: versions
// consecutive, each root signed by its predecessor and itself, one channel.
func VerifyChain(chain [][]byte) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: empty", ErrChain)
	}
	tm, err := trustedmetadata.New(chain[0])
	if err != nil {
		return fmt.Errorf("%w: first root: %v", ErrChain, err)
	}
	ch := Channel(tm.Root)
	for i, b := range chain[1:] {
		if _, err := tm.UpdateRoot(b); err != nil {
			return fmt.Errorf("%w: root at position %d: %v", ErrChain, i+2, err)
		}
		if c := Channel(tm.Root); c != ch {
			return fmt.Errorf("%w: root version %d changes the channel from %q to %q", ErrChain, tm.Root.Signed.Version, ch, c)
		}
	}
	return nil
}

// SigningKeys returns the keys and threshold of root's targets role.
func SigningKeys(root *metadata.Metadata[metadata.RootType]) ([]crypto.PublicKey, int, error) {
	return RoleKeys(root, metadata.TARGETS)
}

// RoleKeys returns the keys and threshold of one of root's roles.
func RoleKeys(root *metadata.Metadata[metadata.RootType], name string) ([]crypto.PublicKey, int, error) {
	role := root.Signed.Roles[name]
	if role == nil {
		return nil, 0, fmt.Errorf("root has no %s role", name)
	}
	var out []crypto.PublicKey
	for _, id := range role.KeyIDs {
		k, ok := root.Signed.Keys[id]
		if !ok {
			return nil, 0, fmt.Errorf("root lists key %s for %s but does not define it", id, name)
		}
		pub, err := k.ToPublicKey()
		if err != nil {
			return nil, 0, fmt.Errorf("key %s: %w", id, err)
		}
		out = append(out, pub)
	}
	return out, role.Threshold, nil
}
