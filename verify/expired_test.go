package verify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
)

// TestExpiredSaysWhen: KIT_EXPIRED names the time the metadata expired,
// for the timestamp and for the root.
func TestExpiredSaysWhen(t *testing.T) {
	ch, kit := sample(t)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{fixtures.Created.Add(31 * 24 * time.Hour), "expired at " + fixtures.Created.Add(30*24*time.Hour).UTC().Format(time.RFC3339)},
		{fixtures.Created.Add(2 * 365 * 24 * time.Hour), "expired at "},
	} {
		rep := run(t, kit, pinned(ch.Root()), c.at)
		found := false
		for _, f := range rep.Failures {
			if f.Code == bundle.CodeExpired {
				found = true
				if !strings.Contains(f.Message, c.want) {
					t.Errorf("at %s: message %q lacks %q", c.at, f.Message, c.want)
				}
			}
		}
		if !found {
			t.Errorf("at %s: no KIT_EXPIRED in %+v", c.at, rep.Failures)
		}
	}
}
