package parallel_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/parallel"
	"github.com/google/go-cmp/cmp"
)

func TestMapOrderAndLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int
		n     int
	}{
		{"serial", 1, 20},
		{"zero limit is serial", 0, 5},
		{"two", 2, 50},
		{"more workers than items", 16, 3},
		{"one item", 4, 1},
		{"empty", 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := make([]int, tc.n)
			want := make([]string, tc.n)
			for i := range in {
				in[i] = i
				want[i] = fmt.Sprint(i * i)
			}
			var running, most atomic.Int64
			got, err := parallel.Map(t.Context(), tc.limit, in, func(_ context.Context, v int) (string, error) {
				n := running.Add(1)
				defer running.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				// Later items finish first: the order must not follow.
				time.Sleep(time.Duration(tc.n-v) * 100 * time.Microsecond)
				return fmt.Sprint(v * v), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if limit := max(tc.limit, 1); most.Load() > int64(limit) {
				t.Errorf("%d calls at once, limit %d", most.Load(), limit)
			}
		})
	}
}

func TestMapFirstErrorStopsTheRest(t *testing.T) {
	errBad := errors.New("bad item")
	for _, tc := range []struct {
		name    string
		limit   int
		fail    map[int]time.Duration // item -> how long before it fails
		wantErr string
	}{
		{"serial", 1, map[int]time.Duration{3: 0}, "item 3: bad item"},
		{"parallel", 4, map[int]time.Duration{3: 0}, "item 3: bad item"},
		// Item 7 fails first in time; item 2 was started before it and
		// finishes what it does: its error is the one a serial loop meets.
		{"lowest index wins", 4, map[int]time.Duration{2: 20 * time.Millisecond, 3: 0}, "item 2: bad item"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 200
			in := make([]int, n)
			for i := range in {
				in[i] = i
			}
			var calls atomic.Int64
			_, err := parallel.Map(t.Context(), tc.limit, in, func(ctx context.Context, v int) (int, error) {
				calls.Add(1)
				if d, ok := tc.fail[v]; ok {
					time.Sleep(d)
					return 0, fmt.Errorf("item %d: %w", v, errBad)
				}
				// The others take a while, and give up when cancelled;
				// long enough that a failing call held up a few
				// milliseconds on a loaded machine does not let the
				// other workers start many more.
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
				return v, nil
			})
			if !errors.Is(err, errBad) || err.Error() != tc.wantErr {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			// The failing items are among the first few: the pool must
			// not go on to start the remaining ones.
			if c := calls.Load(); c > 20 {
				t.Errorf("%d of %d items started after an early failure", c, n)
			}
			after := calls.Load()
			time.Sleep(5 * time.Millisecond)
			if c := calls.Load(); c != after {
				t.Errorf("%d calls started after Map returned", c-after)
			}
		})
	}
}

func TestMapCancelsRunningCalls(t *testing.T) {
	errBad := errors.New("bad")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := parallel.Map(t.Context(), 2, []int{0, 1}, func(ctx context.Context, v int) (int, error) {
			if v == 1 {
				return 0, errBad
			}
			<-ctx.Done() // blocks for ever unless the pool cancels it
			return 0, ctx.Err()
		})
		if !errors.Is(err, errBad) {
			t.Errorf("error %v, want %v", err, errBad)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a running call was not cancelled after another failed")
	}
}

func TestMapCallerCancels(t *testing.T) {
	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			var calls, after atomic.Int64
			var cancelled atomic.Bool
			got, err := parallel.Map(ctx, limit, make([]int, 100), func(ctx context.Context, _ int) (int, error) {
				if cancelled.Load() {
					after.Add(1)
				}
				switch n := calls.Add(1); {
				case n == 5:
					cancel()
					cancelled.Store(true)
				case n > 5:
					// Later calls end only once the caller has cancelled,
					// so the items cannot all finish first.
					for !cancelled.Load() {
						runtime.Gosched()
					}
				}
				return 1, nil
			})
			if !errors.Is(err, context.Canceled) || got != nil {
				t.Fatalf("got %v, %v; want nil, context.Canceled", got, err)
			}
			// Calls that start once cancel has returned: only workers
			// that had already taken an item, at most one each.
			if a := after.Load(); a > int64(limit) {
				t.Errorf("%d calls started after the caller cancelled (limit %d)", a, limit)
			}
		})
	}
}

func ExampleMap() {
	words := []string{"ferry", "kit", "store"}
	lens, err := parallel.Map(context.Background(), 2, words, func(_ context.Context, w string) (int, error) {
		return len(w), nil
	})
	fmt.Println(lens, err)
	// Output: [5 3 5] <nil>
}
