package publish

import (
	"context"
	"time"
)

// Follow runs step now and then every interval until ctx is done, and
// returns nil then. An error from step goes to refused (a refusal, such as
// a tag moved to an older kit, or an unreachable registry) and Follow
// keeps going.
func Follow(ctx context.Context, every time.Duration, step func(context.Context) error, refused func(error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := step(ctx); err != nil && ctx.Err() == nil {
			refused(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
