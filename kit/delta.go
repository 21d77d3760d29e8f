package kit

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/verify"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// DeltaFromKit verifies the kit at path as the base of a delta of channel:
// it must be a kit of that channel (full or itself a delta) that verifies
// under roots, the channel's root chain that the mirror holds, at its own
// creation time (an old base may have expired since); attestations
// re-verifies the attestation records it carries, as ferry verify does. It returns the
// base's files, by the full kit's targets when the base is a delta.
func DeltaFromKit(ctx context.Context, path string, roots [][]byte, channel string, attestations verify.AttestationVerifier) (*bundle.DeltaFrom, error) {
	if len(roots) == 0 {
		return nil, fmt.Errorf("base %s: no channel root to verify it against", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("base kit: %w", err)
	}
	info, err := peekInfo(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("base kit %s: %w", path, err)
	}
	if info.Channel != channel {
		return nil, fmt.Errorf("base kit %s is of channel %q, the kit of channel %q", path, info.Channel, channel)
	}
	f, err = os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("base kit: %w", err)
	}
	defer f.Close()
	rep, err := verify.Kit(ctx, f, verify.Static(verify.Trust{Root: roots[0]}), verify.Options{At: info.Created, Attestations: attestations})
	if err != nil {
		return nil, fmt.Errorf("base kit %s: %w", path, err)
	}
	if !rep.OK {
		return nil, fmt.Errorf("base kit %s does not verify under the channel's root: %w", path, rep.Err())
	}
	if rep.Channel != channel {
		return nil, fmt.Errorf("base kit %s is of channel %q, the kit of channel %q", path, rep.Channel, channel)
	}
	targets, sum := rep.Targets, rep.TargetsSHA256
	if rep.Delta != nil {
		targets, sum = rep.Delta.Full, rep.Delta.TargetsSHA256
	}
	from := &bundle.DeltaFrom{
		Base:  bundle.Base{Channel: rep.Channel, Version: rep.Version, TargetsSHA256: sum},
		Files: make(map[string]string, len(targets)),
	}
	for _, t := range targets {
		if t.Path == bundle.DeltaPath {
			continue
		}
		from.Files[t.Path] = t.SHA256
	}
	return from, nil
}

// HaveSchema is the schema of a have-list: ferry store inventory's output.
const HaveSchema = "ferry.dev/store-inventory/v1"

// haveList is the part of a store inventory that a delta is made against.
type haveList struct {
	Schema   string `json:"schema"`
	Channels []struct {
		Channel       string            `json:"channel"`
		Version       int64             `json:"version"`
		TargetsSHA256 string            `json:"targetsSha256"`
		Files         map[string]string `json:"files"`
	} `json:"channels"`
	Images []string `json:"images"`
}

// DeltaFromHave reads a have-list (ferry store inventory at the site) and
// returns what a delta of channel leaves out: every content the site
// holds, of any channel, and its image blobs. The have-list is signed by
// nobody: it only decides what the delta leaves out; the delta verifies on
// its own, and an import onto a store that lacks something it left out
// fails with KIT_BLOB_MISSING.
func DeltaFromHave(r io.Reader, name, channel string) (*bundle.DeltaFrom, error) {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("have-list %s: %w", name, err)
	}
	var h haveList
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("have-list %s: %w", name, err)
	}
	if h.Schema != HaveSchema {
		return nil, fmt.Errorf("have-list %s: schema %q is not %q (write it with ferry store inventory --have)", name, h.Schema, HaveSchema)
	}
	from := &bundle.DeltaFrom{Base: bundle.Base{Channel: channel, Have: true}, Files: map[string]string{}, Have: map[string]bool{}}
	for i, c := range h.Channels {
		for p, d := range c.Files {
			if !isHex256(d) {
				return nil, fmt.Errorf("have-list %s: channels[%d] (%s): files[%q]: %q is not a hex sha256", name, i, c.Channel, p, d)
			}
			if c.Channel == channel {
				from.Files[p] = d
			} else {
				from.Have[d] = true
			}
		}
		if c.Channel == channel {
			from.Base.Version, from.Base.TargetsSHA256 = c.Version, c.TargetsSHA256
		}
	}
	for i, d := range h.Images {
		hexd, ok := strings.CutPrefix(d, "sha256:")
		if !ok || !isHex256(hexd) {
			return nil, fmt.Errorf("have-list %s: images[%d]: %q is not sha256:<hex>", name, i, d)
		}
		from.Have[hexd] = true
	}
	return from, nil
}

func isHex256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && s == strings.ToLower(s)
}

// peekInfo reads the kit description from the (not yet verified) signed
// targets of a kit, which come before any content: only the time to
// verify the base at is taken from it.
func peekInfo(r io.Reader) (bundle.Info, error) {
	br, err := bundle.NewReader(r)
	if err != nil {
		return bundle.Info{}, err
	}
	defer br.Close()
	for {
		e, err := br.Next()
		if err == io.EOF {
			return bundle.Info{}, errors.New("no tuf/targets.json")
		}
		if err != nil {
			return bundle.Info{}, err
		}
		if !strings.HasPrefix(e.Name, bundle.MetaDir) {
			return bundle.Info{}, errors.New("no tuf/targets.json before the content")
		}
		if e.Name != bundle.TargetsPath {
			continue
		}
		data, err := br.ReadAll(bundle.MaxMetadataSize)
		if err != nil {
			return bundle.Info{}, err
		}
		t, err := metadata.Targets().FromBytes(data)
		if err != nil {
			return bundle.Info{}, fmt.Errorf("%s: %w", e.Name, err)
		}
		return bundle.KitInfo(t)
	}
}
