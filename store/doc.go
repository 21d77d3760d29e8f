// Package store is the offline store: a bbolt database (DIR/ferry.db) for
// trust state, the active kit of each channel, indexes and the import log,
// beside a content-addressed blob directory (DIR/blobs/sha256/<hex>).
//
// An import verifies a kit in one streaming pass (package verify), staging
// each content entry into DIR/tmp while it is hashed; only after the whole
// kit verified are the staged files renamed into blobs/, and then ONE bbolt
// write transaction switches the channel's trust state, file map, indexes
// and log. A crash at any point leaves the previous state readable; Store.GC
// removes blobs and temp files that no channel references.
//
// Locking. Two locks protect a store:
//
//   - DIR/lock, an exclusive flock held by an import (and by GC and schema
//     migration) for its whole run, so a second importer waits up to
//     Options.LockTimeout and then fails with ErrLocked;
//   - bbolt's own flock on ferry.db: a writer takes it exclusively only for
//     the commit transaction; every read opens the database read-only
//     (shared lock) for one transaction and closes it again.
//
// So readers (store info, scan, gate) work during an import: they see the
// old state until the commit and the new one after it, never a mix, and
// wait at most for the commit itself (well under a second). A reader never
// keeps the database open between calls, because a held shared lock would
// stop the next import's commit.
//
// Typed indexes. Indexers (one per content type: files, advisories,
// enrich, vex, sources, images) run over the verified files at import and
// their entries are replaced with the channel's active kit in the same
// transaction. Store.View gives consumers (scan, VEX consensus, gate) a
// Reader over one read transaction: advisories by id, alias and package,
// the ecosystems that have data, KEV and EPSS entries, VEX documents and
// statements by vulnerability and product (docs/store.md).
//
// Trust assumptions: a channel's first root comes from the caller (pinned
// out of band); afterwards the store's trust state is the only trust. Blobs
// are placed only after the kit they came from verified; a blob that is
// already present is reused only when its bytes equal the verified ones.
// Time comes in through options; the package never reads the clock and
// never opens a network connection. Locking uses flock, so the package is
// for unix systems.
//
// What it is not: it renders nothing for people and names no command-line
// flags in its errors (the CLI does both, recognising failures by their
// codes and sentinels); feed formats are parsed by their packages (osv,
// enrich, vex). A file or target's custom object of a verified kit that an
// indexer cannot read fails the import with an *IndexError naming it;
// nothing a kit carries is skipped silently.
package store
