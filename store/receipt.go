package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
)

// Outcomes of an import, as Receipt.Outcome and ImportResult.Outcome.
const (
	// OutcomeActivated: the kit became the channel's active kit.
	OutcomeActivated = "activated"
	// OutcomeForceActivated: an older kit (or the same version with other
	// content) became active by --force-activate; the reason is recorded.
	OutcomeForceActivated = "force-activated"
	// OutcomeUnchanged: the kit is the channel's active kit already.
	OutcomeUnchanged = "unchanged"
)

// Checks are the checks a verified kit passed, in the order verify runs
// them. CheckRollback is replaced by CheckRollbackOverridden when a kit was
// force-activated, CheckExpiry by CheckExpiryPinnedClock when it was
// verified on a pinned clock.
var Checks = []string{
	"root-chain", "signatures", "thresholds", CheckExpiry, CheckRollback,
	"safe-paths", "entry-types", "no-duplicates", "no-unexpected-entries",
	"sizes", "digests", "complete",
}

// The rollback and expiry check names.
const (
	CheckRollback           = "rollback"
	CheckRollbackOverridden = "rollback-overridden"
	CheckExpiry             = "expiry"
	// CheckExpiryPinnedClock: expiry was checked as of Receipt.VerifiedAt,
	// not as of the import's real time.
	CheckExpiryPinnedClock = "expiry-at-pinned-clock"
)

// ReceiptSchema names the JSON schema of a Receipt.
const ReceiptSchema = "ferry.dev/store-receipt/v1"

// Receipt records one import in the store's log. Time is always the real
// time of the import; VerifiedAt is set only when the kit was verified on
// a pinned clock (ferry import --at), with the Reason for it.
type Receipt struct {
	Schema          string                      `json:"schema"`
	Seq             uint64                      `json:"seq"`
	Time            time.Time                   `json:"time"`
	VerifiedAt      time.Time                   `json:"verifiedAt,omitzero"`
	Operator        string                      `json:"operator"`
	Source          string                      `json:"source,omitempty"`
	Outcome         string                      `json:"outcome"`
	Reason          string                      `json:"reason,omitempty"`
	Channel         string                      `json:"channel"`
	Name            string                      `json:"name"`
	Version         int64                       `json:"version"`
	PreviousVersion int64                       `json:"previousVersion,omitempty"`
	PinnedRoot      bool                        `json:"pinnedRoot,omitempty"`
	RootVersion     int64                       `json:"rootVersion"`
	KitSHA256       string                      `json:"kitSha256"`
	KitBytes        int64                       `json:"kitBytes"`
	TargetsSHA256   string                      `json:"targetsSha256"`
	SignerKeyIDs    []string                    `json:"signerKeyIds"`
	Checks          []string                    `json:"checks"`
	Counts          map[string]verify.TypeCount `json:"counts"`

	// DeltaOf is the base of a delta kit (KitSHA256 is then the delta's,
	// TargetsSHA256 the full kit's it stood for); nil for a full kit.
	DeltaOf *bundle.Base `json:"deltaOf,omitempty"`
}

// Log returns every import receipt in the order the imports were committed
// (their sequence numbers), which is the order of their real times.
func (s *Store) Log(ctx context.Context) ([]Receipt, error) {
	out := []Receipt{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLog).ForEach(func(k, v []byte) error {
			var r Receipt
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("log entry %x: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func seqKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
