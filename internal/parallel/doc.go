// Package parallel runs one function over the items of a slice on a bounded
// number of goroutines: limit workers of a golang.org/x/sync/errgroup take
// the items in order. Results come back in input order, whatever the
// scheduling; the first error cancels the context of the calls still
// running and no more are started; the error reported is the one a serial
// loop would meet first.
//
// It imports nothing of the project, so that every package may use it,
// bundle included (docs/design.md). It never logs and never reads the
// clock.
package parallel
