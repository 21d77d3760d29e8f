package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/verify"
)

// A site verifies a kit against the channel root it pinned out of band, at
// a time it chooses: the same kit passes before its expiry and fails with
// a stable code after it. A failure is a report, not an error; the error
// is for what stops the check itself (a reader that fails).
func ExampleKit() {
	ch := fixtures.NewChannel("acme-feeds")
	kit := fixtures.Kit(ch, map[string][]byte{
		"docs/runbook.md":               []byte("# Runbook\n"),
		"advisories/govulndb/osv.jsonl": []byte("{}\n"),
	}, fixtures.KitOptions{Version: 3, Expires: 30 * 24 * time.Hour})
	trust := verify.Static(verify.Trust{Root: ch.Root()})

	for _, at := range []time.Time{fixtures.Created.Add(24 * time.Hour), fixtures.Created.AddDate(0, 2, 0)} {
		rep, err := verify.Kit(context.Background(), bytes.NewReader(kit), trust, verify.Options{At: at})
		if err != nil {
			fmt.Println(err)
			return
		}
		if rep.OK {
			fmt.Printf("at %s: ok, %s version %d, %d files\n", at.Format(time.DateOnly), rep.Channel, rep.Version, len(rep.Targets))
			continue
		}
		fmt.Printf("at %s: refused\n", at.Format(time.DateOnly))
		for _, f := range rep.Failures {
			fmt.Printf("  %s %s\n", f.Code, f.Entry)
		}
	}
	// Output:
	// at 2026-11-29: ok, acme-feeds version 3, 2 files
	// at 2027-01-28: refused
	//   KIT_EXPIRED tuf/timestamp.json
}
