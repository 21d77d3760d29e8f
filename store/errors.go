package store

import (
	"errors"
	"fmt"
)

// ErrNoStore is returned when a directory holds no store (no ferry.db).
var ErrNoStore = errors.New("no store here")

// ErrLocked is returned when another import (or gc) holds the store and
// did not finish within Options.LockTimeout.
var ErrLocked = errors.New("store is locked by another import")

// ErrBusy is returned when a read could not open the database within
// Options.LockTimeout because a commit held it.
var ErrBusy = errors.New("store is busy")

// ErrChanged is returned by Import when the trust state of the kit's
// channel changed between verification and commit (another writer that did
// not take the import lock).
var ErrChanged = errors.New("the store changed during the import")

// ErrReasonRequired is returned by Import for ForceActivate without a Reason.
var ErrReasonRequired = errors.New("a forced activation needs a reason")

// ErrRootMismatch is returned (wrapped, with both roots named) when a
// root given out of band for a channel the store already knows is not the
// store's trusted root of that version: the store's trust decides, and a
// root that disagrees with it is refused rather than ignored.
var ErrRootMismatch = errors.New("the root given disagrees with the store's trusted root")

// ErrClockReasonRequired is returned by Import for a pinned verification
// clock (ImportOptions.At other than Now) without a Reason: a pinned clock
// can activate a kit that has expired, which only an audited import may.
var ErrClockReasonRequired = errors.New("an import on a pinned verification clock needs a reason")

// ErrReasonWithoutForce is returned by Import for a Reason without
// ForceActivate or a pinned clock: the reason would be logged for nothing.
var ErrReasonWithoutForce = errors.New("a reason is only for a forced activation or a pinned clock")

// SchemaError reports a store whose schema this build cannot use as it is.
// errors.Is(err, ErrNewerSchema) matches a store written by a newer ferry.
// errors.Is(err, ErrOlderSchema) matches an older store that a read-only
// Open did not migrate.
type SchemaError struct {
	Dir   string
	Found int
	Want  int
	// ReadOnly is set when a read-only Open refused an older store
	// rather than migrating it.
	ReadOnly bool
}

// ErrNewerSchema matches a *SchemaError whose store is newer than this build.
var ErrNewerSchema = errors.New("store schema is newer than this ferry")

func (e *SchemaError) Error() string {
	if e.Found > e.Want {
		return fmt.Sprintf("%s: store schema %d was written by a newer ferry (this one reads schema %d): upgrade ferry; the store was not changed", e.Dir, e.Found, e.Want)
	}
	if e.ReadOnly {
		return fmt.Sprintf("%s: store schema %d is older than this ferry (schema %d), and this command only reads: run ferry store migrate --store %s (or import a kit) to upgrade it; the store was not changed", e.Dir, e.Found, e.Want, e.Dir)
	}
	return fmt.Sprintf("%s: store schema %d is not usable by this ferry (schema %d) and has no migration", e.Dir, e.Found, e.Want)
}

// Is makes errors.Is(err, ErrNewerSchema) and errors.Is(err,
// ErrOlderSchema) match.
func (e *SchemaError) Is(target error) bool {
	switch target {
	case ErrNewerSchema:
		return e.Found > e.Want
	case ErrOlderSchema:
		return e.Found < e.Want
	}
	return false
}

// IndexError reports an indexer that could not read a verified file.
type IndexError struct {
	Indexer string
	Path    string
	Err     error
}

func (e *IndexError) Error() string {
	return fmt.Sprintf("indexer %s: %s: %v", e.Indexer, e.Path, e.Err)
}

func (e *IndexError) Unwrap() error { return e.Err }

// ErrDamaged matches a *DamagedError: ferry.db or a blob is damaged.
var ErrDamaged = errors.New("store damaged")

// DamagedError reports a store whose database could not be read safely: a
// truncated or overwritten ferry.db (bad meta pages, pages beyond the end
// of the file, a corrupt page that bbolt refused with a panic or a memory
// fault). Nothing was changed. errors.Is(err, ErrDamaged) matches it.
type DamagedError struct {
	// Dir is the store directory.
	Dir string
	// Detail says what is damaged, e.g. "ferry.db is 8192 bytes, its
	// pages need 65536".
	Detail string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%s: %v: %s; run ferry store check --store %s", e.Dir, ErrDamaged, e.Detail, e.Dir)
}

// Is makes errors.Is(err, ErrDamaged) match.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// ErrOlderSchema matches a *SchemaError whose store is older than this
// build, returned by a read-only Open: reading never migrates.
var ErrOlderSchema = errors.New("store schema is older than this ferry")

// ErrReadOnly is returned by the writing methods (Import, GC) of a store
// opened with Options.ReadOnly.
var ErrReadOnly = errors.New("the store was opened read-only")
