package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ForEachVEXStatement calls fn with every VEX statement of every channel,
// by channel and then source document and statement order. fn's
// statement belongs to it.
func (r *Reader) ForEachVEXStatement(fn func(VEXStatement) error) error {
	if err := r.check(); err != nil {
		return err
	}
	for _, cb := range r.vex {
		err := scanPrefix(cb.b, []byte{'s'}, func(ref, v []byte) error {
			var st VEXStatement
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("channel %s: vex index: statement %q: %w", cb.channel, ref, err)
			}
			st.Channel = cb.channel
			return fn(st)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TrustFile is a file of a channel's trust material, with its bytes.
type TrustFile struct {
	Channel string `json:"channel"`
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Data    []byte `json:"-"`
}

// maxTrustFile caps what TrustFiles reads of one file.
const maxTrustFile = 4 << 20

// TrustFiles returns the trust/issuers.json and trust/keys/*.pub files of
// every channel's active kit, by channel and path. The bytes are copies
// and belong to the caller.
func (r *Reader) TrustFiles() ([]TrustFile, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	var out []TrustFile
	for _, k := range r.roots {
		ch := k.channel
		err := k.eachFile(func(p string, f fileRec) error {
			keyFile := strings.HasPrefix(p, "trust/keys/") && strings.HasSuffix(p, ".pub") && strings.Count(p, "/") == 2
			if p != "trust/issuers.json" && !keyFile {
				return nil
			}
			if f.Length > maxTrustFile {
				return fmt.Errorf("channel %s: %s: larger than %d bytes", ch, p, maxTrustFile)
			}
			b, err := r.blob(f.SHA256)
			if err != nil {
				return fmt.Errorf("channel %s: %s: %w", ch, p, err)
			}
			out = append(out, TrustFile{Channel: ch, Path: p, SHA256: f.SHA256, Data: bytes.Clone(b)})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
