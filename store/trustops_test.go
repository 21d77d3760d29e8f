package store

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/trust"
	"github.com/ferry-dev/ferry/verify"
)

// TestImportPinnedClockIsAudited: a kit that has expired by the real time
// of the import passes only on a pinned clock (At before Now), which needs
// a reason; the receipt, the log and the channel's state then carry the
// real time, the clock, the reason and the operator.
func TestImportPinnedClockIsAudited(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	created := fixtures.Created.Add(24 * time.Hour)
	expired := fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2, Created: created, Expires: 48 * time.Hour})
	realTime := fixtures.Created.Add(10 * 24 * time.Hour)
	clock := created.Add(time.Hour)
	before := snapshotDir(t, s.Dir())

	_, err := s.Import(context.Background(), bytes.NewReader(expired), ImportOptions{At: realTime, Now: realTime, Operator: "carol"})
	if bundle.CodeOf(err) != bundle.CodeExpired {
		t.Fatalf("expired kit on the real clock: %v, want KIT_EXPIRED", err)
	}
	_, err = s.Import(context.Background(), bytes.NewReader(expired), ImportOptions{At: clock, Now: realTime, Operator: "carol"})
	if !errors.Is(err, ErrClockReasonRequired) {
		t.Fatalf("pinned clock without a reason: %v, want ErrClockReasonRequired", err)
	}
	if diff := diff(before, snapshotDir(t, s.Dir())); diff != "" {
		t.Fatalf("a refused import changed the store:\n%s", diff)
	}
	if _, err := s.Import(context.Background(), bytes.NewReader(expired), ImportOptions{At: clock, Now: realTime, DryRun: true}); err != nil {
		t.Errorf("a dry run on a pinned clock needs no reason (it records nothing): %v", err)
	}

	res := mustImport(t, s, expired, ImportOptions{At: clock, Now: realTime, Reason: "kit expired in transit, INC-9", Operator: "carol"})
	rc := res.Receipt
	if res.Outcome != OutcomeActivated || !rc.Time.Equal(realTime) || !rc.VerifiedAt.Equal(clock) ||
		rc.Reason != "kit expired in transit, INC-9" || rc.Operator != "carol" {
		t.Errorf("receipt: outcome %s, time %s, verifiedAt %s, reason %q, operator %q", res.Outcome, rc.Time, rc.VerifiedAt, rc.Reason, rc.Operator)
	}
	if !slices.Contains(rc.Checks, CheckExpiryPinnedClock) || slices.Contains(rc.Checks, CheckExpiry) {
		t.Errorf("checks %v: want %s in place of %s", rc.Checks, CheckExpiryPinnedClock, CheckExpiry)
	}
	log, err := s.Log(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || !log[0].VerifiedAt.IsZero() || !log[1].Time.Equal(realTime) || !log[1].VerifiedAt.Equal(clock) || !log[0].Time.Before(log[1].Time) {
		t.Errorf("log: %+v", log)
	}
	in, err := s.Info(context.Background(), realTime)
	if err != nil {
		t.Fatal(err)
	}
	ch := in.Channels[0]
	if !ch.ImportedAt.Equal(realTime) || !ch.VerifiedAt.Equal(clock) || ch.Reason != rc.Reason || ch.Operator != "carol" || !ch.Expired {
		t.Errorf("info: importedAt %s, verifiedAt %s, reason %q, operator %q, expired %v", ch.ImportedAt, ch.VerifiedAt, ch.Reason, ch.Operator, ch.Expired)
	}
	// Not pinned: the reason is refused, as it would be logged for nothing.
	if _, err := s.Import(context.Background(), bytes.NewReader(expired), ImportOptions{At: realTime, Now: realTime, Reason: "why"}); !errors.Is(err, ErrReasonWithoutForce) {
		t.Errorf("a reason on the real clock: %v, want ErrReasonWithoutForce", err)
	}
}

// TestImportPinnedClockThenGenuineNewerKit: an expired kit imported on a
// pinned clock, with a reason, does not make the genuine newer kit that
// follows look like a rollback: the newer kit imports on the real clock,
// and the log lists the imports in the order they happened.
func TestImportPinnedClockThenGenuineNewerKit(t *testing.T) {
	c := fixtures.NewChannel("acme")
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: c.Root()})
	created := fixtures.Created.Add(24 * time.Hour)
	expired := fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2, Created: created, Expires: 48 * time.Hour})
	real2 := fixtures.Created.Add(10 * 24 * time.Hour)
	mustImport(t, s, expired, ImportOptions{At: created.Add(time.Hour), Now: real2, Reason: "INC-9"})

	real3 := real2.Add(24 * time.Hour)
	genuine := fixtures.Kit(c, kitFiles(3), fixtures.KitOptions{Version: 3, Created: real3.Add(-time.Hour)})
	res, err := s.Import(context.Background(), bytes.NewReader(genuine), ImportOptions{At: real3, Now: real3, Operator: "tester"})
	if err != nil || res.Outcome != OutcomeActivated {
		t.Fatalf("the genuine newer kit after a pinned-clock import: %v", err)
	}
	if !res.Receipt.VerifiedAt.IsZero() || res.Receipt.Reason != "" {
		t.Errorf("a real-clock import records a pinned clock: %+v", res.Receipt)
	}
	log, _ := s.Log(context.Background())
	if len(log) != 3 || !slices.IsSortedFunc(log, func(a, b Receipt) int { return a.Time.Compare(b.Time) }) {
		t.Errorf("the log is not in the order of the real times: %+v", log)
	}
	if v := activeVersion(t, s, "acme"); v != 3 {
		t.Errorf("active version %d, want 3", v)
	}
}

// TestGivenRootDisagreesWithStore: a root given out of band for a channel
// the store knows is refused, by import and by verify --store, unless it
// is the store's root of that version; it is never silently ignored.
func TestGivenRootDisagreesWithStore(t *testing.T) {
	c := fixtures.NewChannel("acme")
	v1 := c.Root()
	s := newStore(t)
	mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: v1})
	c.Rotate()
	mustImport(t, s, fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2}), ImportOptions{})
	k3 := fixtures.Kit(c, kitFiles(3), fixtures.KitOptions{Version: 3})
	newer := *c
	newer.Chain = slices.Clone(c.Chain)
	newer.Rotate()

	for _, tc := range []struct {
		name string
		root []byte
		ok   bool
	}{
		{"the store's root", c.Root(), true},
		{"an older root of the store's chain", v1, true},
		{"another channel's root", fixtures.NewChannel("other").Root(), false},
		{"another chain of the same channel", fixtures.NewChannelN("acme", 2, 1, 1, 1).Root(), false},
		{"a root newer than the store's", newer.Root(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := verify.Kit(context.Background(), bytes.NewReader(k3), s.TrustSource(context.Background(), tc.root), verify.Options{At: at})
			if tc.ok != (err == nil && rep.OK) || !tc.ok && !errors.Is(err, ErrRootMismatch) {
				t.Errorf("verify with the store's trust: %v, want ok=%v or ErrRootMismatch", err, tc.ok)
			}
			res, err := s.Import(context.Background(), bytes.NewReader(k3), ImportOptions{At: at, Root: tc.root, DryRun: true})
			if tc.ok != (err == nil && res.Report.OK) || !tc.ok && !errors.Is(err, ErrRootMismatch) {
				t.Errorf("import: %v, want ok=%v or ErrRootMismatch", err, tc.ok)
			}
		})
	}
}

// TestSiteAcceptsRotationKeepingRootKeys: a 2-of-3 root rotated to keep
// two root keys and replace the third (with new signing keys), then a
// 1-of-1 root rotated to the same root key with a new signing key: kits
// signed under each new root verify against the root pinned before the
// rotation and import into the store that pinned it.
func TestSiteAcceptsRotationKeepingRootKeys(t *testing.T) {
	for _, tc := range []struct {
		name             string
		c                *fixtures.Channel
		old, kept, added []int
		threshold        int
	}{
		{"2 of 3, keep 2, replace 1", fixtures.NewChannelN("acme", 3, 2, 1, 1), []int{0, 1}, []int{0, 1}, []int{7}, 2},
		{"1 of 1, keep it", fixtures.NewChannel("acme"), []int{0}, []int{0}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			v1 := c.Root()
			s := newStore(t)
			mustImport(t, s, fixtures.Kit(c, kitFiles(1), fixtures.KitOptions{Version: 1}), ImportOptions{Root: v1})

			var old, next []crypto.Signer
			for _, i := range tc.old {
				old = append(old, c.RootKeys[i])
			}
			for _, i := range tc.kept {
				next = append(next, c.RootKeys[i])
			}
			for _, i := range tc.added {
				next = append(next, fixtures.Key("acme/root/new/"+string(rune('0'+i))))
			}
			signer := fixtures.Key("acme/signer/rotated")
			v2, err := trust.RotateKeeping(v1, trust.Rotation{OldRootKeys: old, NewRootKeys: next, Threshold: tc.threshold,
				SigningKeys: []crypto.PublicKey{signer.Public()}, Created: fixtures.Created})
			if err != nil {
				t.Fatalf("rotate: %v", err)
			}
			c.Chain = append(c.Chain, v2)
			c.RootKeys, c.Signers = next, []crypto.Signer{signer}
			k2 := fixtures.Kit(c, kitFiles(2), fixtures.KitOptions{Version: 2})

			rep, err := verify.Kit(context.Background(), bytes.NewReader(k2), verify.Static(verify.Trust{Root: v1}), verify.Options{At: at})
			if err != nil || !rep.OK || rep.RootVersion != 2 {
				t.Fatalf("verify against root v1: %v %+v", err, rep)
			}
			res := mustImport(t, s, k2, ImportOptions{})
			if res.Outcome != OutcomeActivated || res.Receipt.RootVersion != 2 {
				t.Errorf("import: outcome %s, root version %d", res.Outcome, res.Receipt.RootVersion)
			}
			// The old signing key no longer signs for the channel.
			c.Signers = []crypto.Signer{fixtures.Key("acme/signer/0")}
			stale := fixtures.Kit(c, kitFiles(3), fixtures.KitOptions{Version: 3})
			if _, err := s.Import(context.Background(), bytes.NewReader(stale), ImportOptions{At: at}); bundle.CodeOf(err) == "" {
				t.Errorf("a kit signed by the replaced signing key: %v, want a refusal", err)
			}
		})
	}
}
