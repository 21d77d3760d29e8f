package parallel

import (
	"context"
	"errors"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Map calls fn for every item of in, at most limit at a time, and returns
// the results indexed like in.
//
// Items are taken in the order of in, and an item taken is always called.
// On the first error Map cancels the context of the calls that are
// running, takes no more, waits for every call to return, and returns the
// error of the lowest-index item that failed, leaving out the errors of
// calls that only saw that cancellation: when fn finishes what it started,
// that is the error a serial loop over in would meet first. When ctx is done before every
// item ran, Map returns ctx's error. On error the results are nil.
//
// With limit 1 (or less), or fewer than two items, fn runs on the calling
// goroutine. fn must be safe to call concurrently otherwise; it may write
// nothing shared without its own locking.
func Map[T, R any](ctx context.Context, limit int, in []T, fn func(context.Context, T) (R, error)) ([]R, error) {
	out := make([]R, len(in))
	if limit <= 1 || len(in) <= 1 {
		for i, v := range in {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r, err := fn(ctx, v)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	// limit workers take items in the order of in from a shared counter,
	// and a worker that took an item always runs fn on it. (One goroutine
	// per item through errgroup's SetLimit would not do: the scheduler
	// runs the newest goroutine first, so item 0 could still wait while
	// later ones ran, and a cancellation could skip it.)
	errs := make([]error, len(in))
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range min(limit, len(in)) {
		g.Go(func() error {
			for gctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(in) {
					return nil
				}
				r, err := fn(gctx, in[i])
				out[i], errs[i] = r, err
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	_ = g.Wait() // the errors are in errs, by position
	for _, err := range errs {
		if err != nil && !isCancel(err) {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil && int(next.Load()) < len(in) {
		return nil, err // items were left because the caller cancelled
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// isCancel reports whether err is a context's error: what a call returns
// when the pool (or the caller) cancelled it.
func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
