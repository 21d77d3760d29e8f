package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// A kit is written from a list of files and read back as a stream: the
// TUF metadata first (every root version, then timestamp, snapshot and
// targets), then the content sorted by path. Reading it this way checks
// only the format's safety rules; verify.Kit checks the signatures.
func Example() {
	ch := fixtures.NewChannel("acme-feeds") // deterministic ed25519 keys
	created := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	var kit bytes.Buffer
	w, err := bundle.Write(context.Background(), &kit, bundle.WriteOptions{
		Info:    bundle.Info{Name: "acme", Channel: "acme-feeds", Version: 3, Created: created, Expires: created.AddDate(0, 0, 30)},
		Roots:   ch.Chain,
		Signers: ch.SigningKeys(),
	}, fixtures.Files(map[string][]byte{
		"docs/runbook.md":                    []byte("# Runbook\n"),
		"advisories/govulndb/osv.jsonl":      []byte("{}\n"),
		"trust/keys/release-signing-key.pub": []byte("-----BEGIN PUBLIC KEY-----\n"),
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("wrote version %d with %d targets\n", w.Info.Version, w.Targets)

	r, err := bundle.NewReader(&kit)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		if strings.HasPrefix(e.Name, bundle.MetaDir) {
			fmt.Println(e.Name) // TUF metadata
			continue
		}
		data, err := r.ReadAll(1 << 20)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %q\n", e.Name, data)
	}
	// Output:
	// wrote version 3 with 3 targets
	// tuf/1.root.json
	// tuf/timestamp.json
	// tuf/snapshot.json
	// tuf/targets.json
	// advisories/govulndb/osv.jsonl: "{}\n"
	// docs/runbook.md: "# Runbook\n"
	// trust/keys/release-signing-key.pub: "-----BEGIN PUBLIC KEY-----\n"
}
