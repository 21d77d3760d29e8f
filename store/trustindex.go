package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/verify"
	bolt "go.etcd.io/bbolt"
)

// tufIndex names the index of carried TUF repositories.
const tufIndex = "tuf"

// TUFIndexer re-verifies every TUF repository a kit carries, offline, with
// verify.TUFRepo from the oldest root it carries (the root the connected
// side pinned): the root chain, signatures and thresholds, versions, and
// the length and hashes of every carried target. A repository is the
// folder above a metadata/N.root.json: trust/<name>/ (a trust source) or
// vex/<name>/trust/ (the Sigstore TUF material of an OCI VEX source).
//
// Expiry is checked twice. At the kit's creation time, what the connected
// side checked: a failure there, or any other failure, fails the import
// with a *TUFError. At the import's reference time (--at), which is only
// recorded: Sigstore's timestamp metadata lives for days, a kit may cross
// the air gap in weeks, and what the site trusts is the kit's signature,
// so an expired role makes the import's status "expired" (shown by
// ferry store info), never a failure. Entries of a channel's "tuf" index:
//
//	repository folder -> TUFStatus (JSON)
//
// All its work is done in Finish; it reads no file through Index.
type TUFIndexer struct{}

var (
	_ Indexer  = TUFIndexer{}
	_ Finisher = TUFIndexer{}
)

// Name implements Indexer.
func (TUFIndexer) Name() string { return tufIndex }

// Accepts implements Indexer: no file one at a time.
func (TUFIndexer) Accepts(string) bool { return false }

// Index implements Indexer; it is never called.
func (TUFIndexer) Index(context.Context, verify.Target, io.Reader, *IndexWriter) error { return nil }

// TUF repository states at the import's reference time.
const (
	TUFFresh   = "fresh"
	TUFExpired = "expired"
)

// TUFStatus is the outcome of re-verifying one carried TUF repository.
type TUFStatus struct {
	// Repository is the repository's folder in the kit (trust/sigstore).
	Repository string `json:"repository"`
	Channel    string `json:"channel,omitempty"`
	// Roots are the root versions followed, the pinned one first.
	Roots            []int64            `json:"roots"`
	TimestampVersion int64              `json:"timestampVersion"`
	SnapshotVersion  int64              `json:"snapshotVersion"`
	TargetsVersion   int64              `json:"targetsVersion"`
	Targets          []verify.TUFTarget `json:"targets"`
	// VerifiedAt is the kit's creation time, at which everything
	// verified, expiry included.
	VerifiedAt time.Time `json:"verifiedAt"`
	// CheckedAt is the import's reference time; State is TUFFresh or
	// TUFExpired at it, Expired the roles expired then.
	CheckedAt time.Time           `json:"checkedAt"`
	State     string              `json:"state"`
	Expired   []verify.TUFFailure `json:"expired,omitempty"`
	// Expires is the earliest expiry of the final root, timestamp,
	// snapshot and targets.
	Expires time.Time `json:"expires"`
}

// String says the state at import: "fresh until …" or which role expired.
func (s TUFStatus) String() string {
	if s.State == TUFFresh {
		return "fresh until " + s.Expires.UTC().Format(time.RFC3339)
	}
	var parts []string
	for _, f := range s.Expired {
		parts = append(parts, f.Entry+" "+f.Message)
	}
	if len(parts) == 0 {
		return "expired at " + s.Expires.UTC().Format(time.RFC3339)
	}
	return strings.Join(parts, "; ")
}

// TUFError reports a carried TUF repository that does not re-verify at the
// kit's creation time. Failures are verify.TUFRepo's, with entries relative
// to Repository.
type TUFError struct {
	Repository string
	At         time.Time
	Failures   []verify.TUFFailure
}

func (e *TUFError) Error() string {
	msgs := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		msgs[i] = fmt.Sprintf("%s/%s: %s: %s", e.Repository, f.Entry, f.Code, f.Message)
		if f.Entry == "" {
			msgs[i] = fmt.Sprintf("%s: %s: %s", e.Repository, f.Code, f.Message)
		}
	}
	return fmt.Sprintf("TUF repository %s does not re-verify at the kit's creation %s: %s",
		e.Repository, e.At.UTC().Format(time.RFC3339), strings.Join(msgs, "; "))
}

// tufRepositories lists the folders of carried TUF repositories, sorted.
func tufRepositories(targets []verify.Target) []string {
	var out []string
	for _, t := range targets {
		dir, base, ok := cutLast(t.Path)
		if !ok || !strings.HasSuffix(base, ".root.json") {
			continue
		}
		repo, md, ok := cutLast(dir)
		if !ok || md != verify.TUFMetadataDir {
			continue
		}
		parts := strings.Split(repo, "/")
		switch {
		case len(parts) == 2 && parts[0] == "trust",
			len(parts) == 3 && parts[0] == "vex" && parts[2] == "trust":
			out = append(out, repo)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func cutLast(p string) (dir, base string, ok bool) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", "", false
	}
	return p[:i], p[i+1:], true
}

// Finish implements Finisher.
func (TUFIndexer) Finish(ctx context.Context, kit IndexKit, w *IndexWriter) error {
	for _, repo := range tufRepositories(kit.Targets) {
		st, err := checkTUFRepo(ctx, kit, repo)
		if err != nil {
			return &IndexError{Indexer: tufIndex, Path: repo, Err: err}
		}
		v, err := json.Marshal(st)
		if err != nil {
			return err
		}
		if err := w.Put([]byte(repo), v); err != nil {
			return err
		}
	}
	return nil
}

func checkTUFRepo(ctx context.Context, kit IndexKit, repo string) (*TUFStatus, error) {
	sub, err := fs.Sub(kit.Files, repo)
	if err != nil {
		return nil, err
	}
	created, at := kit.Created, kit.At
	if created.IsZero() {
		created = at
	}
	if created.IsZero() {
		return nil, fmt.Errorf("no reference time to check expiry at")
	}
	rep, err := verify.TUFRepo(ctx, sub, verify.TUFRepoOptions{At: created})
	if err != nil {
		return nil, err
	}
	if !rep.OK {
		return nil, &TUFError{Repository: repo, At: created, Failures: rep.Failures}
	}
	st := &TUFStatus{Repository: repo, Roots: rep.Roots, TimestampVersion: rep.TimestampVersion,
		SnapshotVersion: rep.SnapshotVersion, TargetsVersion: rep.TargetsVersion, Targets: rep.Targets,
		VerifiedAt: created.UTC(), CheckedAt: created.UTC(), State: TUFFresh}
	if rep.Expires != nil {
		st.Expires = *rep.Expires
	}
	if at.IsZero() || at.Equal(created) {
		return st, nil
	}
	// Again at the import's time: only expiry can differ, and it is
	// recorded, not fatal.
	now, err := verify.TUFRepo(ctx, sub, verify.TUFRepoOptions{At: at})
	if err != nil {
		return nil, err
	}
	st.CheckedAt = at.UTC()
	for _, f := range now.Failures {
		if f.Code != verify.TUFExpired {
			return nil, &TUFError{Repository: repo, At: at, Failures: now.Failures}
		}
		st.State = TUFExpired
		st.Expired = append(st.Expired, f)
	}
	return st, nil
}

// TUFRepositories lists the carried TUF repositories of every channel's
// active kit with their state at import, by channel and folder.
func (r *Reader) TUFRepositories() ([]TUFStatus, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	out := []TUFStatus{}
	chs, err := r.Channels()
	if err != nil {
		return nil, err
	}
	for _, ch := range chs {
		sts, err := channelTUF(r.tx, ch)
		if err != nil {
			return nil, err
		}
		out = append(out, sts...)
	}
	return out, nil
}

// channelTUF reads a channel's "tuf" index, by folder.
func channelTUF(tx *bolt.Tx, channel string) ([]TUFStatus, error) {
	out := []TUFStatus{}
	ib := tx.Bucket(bucketIndex).Bucket([]byte(tufIndex))
	if ib == nil {
		return out, nil
	}
	b := ib.Bucket([]byte(channel))
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(_, v []byte) error {
		st, err := decodeTUFStatus(channel, v)
		out = append(out, st)
		return err
	})
	return out, err
}

func decodeTUFStatus(channel string, v []byte) (TUFStatus, error) {
	var st TUFStatus
	if err := json.Unmarshal(v, &st); err != nil {
		return st, fmt.Errorf("channel %s: tuf index: %w", channel, err)
	}
	st.Channel = channel
	return st, nil
}
