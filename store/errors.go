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

// ErrReasonWithoutForce is returned by Import for a Reason without
// ForceActivate: the reason would be logged for nothing.
var ErrReasonWithoutForce = errors.New("a reason is only for a forced activation")

// SchemaError reports a store whose schema this build cannot use as it is.
// errors.Is(err, ErrNewerSchema) matches a store written by a newer ferry.
type SchemaError struct {
	Dir   string
	Found int
	Want  int
}

// ErrNewerSchema matches a *SchemaError whose store is newer than this build.
var ErrNewerSchema = errors.New("store schema is newer than this ferry")

func (e *SchemaError) Error() string {
	if e.Found > e.Want {
		return fmt.Sprintf("%s: store schema %d was written by a newer ferry (this one reads schema %d): upgrade ferry; the store was not changed", e.Dir, e.Found, e.Want)
	}
	return fmt.Sprintf("%s: store schema %d is not usable by this ferry (schema %d) and has no migration", e.Dir, e.Found, e.Want)
}

// Is makes errors.Is(err, ErrNewerSchema) match.
func (e *SchemaError) Is(target error) bool {
	return target == ErrNewerSchema && e.Found > e.Want
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
