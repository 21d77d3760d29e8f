package store_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/store"
)

// A scanner reads every package's advisories in one read transaction.
func ExampleStore_View() {
	dir, _ := os.MkdirTemp("", "ferry-example-")
	defer os.RemoveAll(dir)
	ch := fixtures.NewChannel("feeds")
	kitData := fixtures.Kit(ch, map[string][]byte{
		"advisories/govulndb/osv.jsonl": []byte(`{"id":"GO-2026-0001","modified":"2026-11-01T00:00:00Z","aliases":["CVE-2026-0001"],"affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},"versions":["1.0.0"]}]}` + "\n"),
	}, fixtures.KitOptions{})
	s, _ := store.Open(context.Background(), filepath.Join(dir, "store"), store.Options{})
	if _, err := s.Import(context.Background(), bytes.NewReader(kitData), store.ImportOptions{At: importAt, Root: ch.Root()}); err != nil {
		fmt.Println(err)
		return
	}

	packages := [][2]string{{"Go", "example.com/lib"}, {"Go", "example.com/other"}, {"npm", "left-pad"}}
	err := s.View(context.Background(), func(r *store.Reader) error {
		for _, p := range packages {
			if ok, err := r.HasAdvisoryData(p[0]); err != nil || !ok {
				fmt.Printf("%s/%s: NO_ADVISORY_DATA\n", p[0], p[1])
				continue
			}
			advs, err := r.AdvisoriesForPackage(p[0], p[1])
			if err != nil {
				return err
			}
			for _, a := range advs {
				v, err := a.Vulnerability()
				if err != nil {
					return err
				}
				fmt.Printf("%s/%s: %s %v (%s/%s)\n", p[0], p[1], v.GetId(), v.GetAliases(), a.Channel, a.Source)
			}
			if len(advs) == 0 {
				fmt.Printf("%s/%s: no advisories\n", p[0], p[1])
			}
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// Go/example.com/lib: GO-2026-0001 [CVE-2026-0001] (feeds/govulndb)
	// Go/example.com/other: no advisories
	// npm/left-pad: NO_ADVISORY_DATA
}
