package parallel

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"
)

// Map calls fn for every item of in, at most limit at a time, and returns
// the results indexed like in.
//
// Items are started in the order of in. On the first error Map cancels the
// context of the calls that are running, starts no more, waits for every
// started call to return, and returns the error of the lowest-index item
// that failed, leaving out the errors of calls that only saw that
// cancellation: when fn finishes what it started, that is the error a
// serial loop over in would meet first. When ctx is done before every
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
	errs := make([]error, len(in))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, v := range in {
		if err := gctx.Err(); err != nil {
			errs[i] = err
			break
		}
		g.Go(func() error {
			// Go may have waited for a free slot while another call
			// failed: then this one does not start.
			if err := gctx.Err(); err != nil {
				errs[i] = err
				return nil
			}
			r, err := fn(gctx, v)
			out[i], errs[i] = r, err
			return err
		})
	}
	_ = g.Wait() // the errors are in errs, by position
	var canceled error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if !isCancel(err) {
			return nil, err
		}
		if canceled == nil {
			canceled = err
		}
	}
	if canceled != nil {
		return nil, canceled
	}
	return out, nil
}

// isCancel reports whether err is a context's error: what a call returns
// when the pool (or the caller) cancelled it.
func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
