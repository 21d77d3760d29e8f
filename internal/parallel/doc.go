// Package parallel runs one function over the items of a slice on a bounded
// number of goroutines (golang.org/x/sync/errgroup with SetLimit). Results
// come back in input order, whatever the scheduling, and the first error
// cancels the context of the calls still running and starts no more.
//
// It imports nothing of the project, so that every package may use it,
// bundle included (docs/design.md). It never logs and never reads the
// clock.
package parallel
