package cli

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"

	"github.com/ferry-dev/ferry/keys"
	"github.com/ferry-dev/ferry/trust"
)

// fileKind names what data looks like, for errors about a file passed
// where another kind was expected: "a public key", "a private key", "a
// kit", "TUF timestamp metadata", "a JSON document", or "".
func fileKind(data []byte) string {
	if keys.IsPrivatePEM(data) {
		return "a private key"
	}
	if b, _ := pem.Decode(data); b != nil {
		if strings.Contains(b.Type, "PUBLIC KEY") {
			return "a public key"
		}
		return "a PEM " + strings.ToLower(b.Type)
	}
	if bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return "a kit (zstd-compressed)"
	}
	var m struct {
		Signed struct {
			Type string `json:"_type"`
		} `json:"signed"`
	}
	if json.Unmarshal(data, &m) == nil {
		if m.Signed.Type != "" {
			return "TUF " + m.Signed.Type + " metadata"
		}
		return "a JSON document"
	}
	return ""
}

// readRootFile reads the file given as --root: a channel's TUF root. A
// file recognised as another kind (a key, a kit, other TUF metadata) is a
// usage error that names it; anything else goes to the verifier, which
// reports it as KIT_MALFORMED.
func readRootFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := trust.Parse(data); err != nil {
		if k := fileKind(data); k != "" && k != "TUF root metadata" && k != "a JSON document" {
			return nil, usagef("--root %s: this is %s, not a channel root (the root.json that ferry trust init writes)", path, k)
		}
	}
	return data, nil
}

// keyFileError names the kind of file a key option was given when it is not
// a key at all (a root, a kit).
func keyFileError(ref string, err error) error {
	if err == nil || strings.HasPrefix(ref, "env:") {
		return err
	}
	data, rerr := os.ReadFile(ref)
	if rerr != nil {
		return err
	}
	if k := fileKind(data); k != "" && !strings.HasSuffix(k, "key") {
		return usagef("%s: this is %s, not a key (%v)", ref, k, err)
	}
	return err
}
