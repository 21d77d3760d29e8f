package cli

import "time"

// SetMirrorClock pins the clock mirror checks expiry against and returns a
// function that restores it.
func SetMirrorClock(at time.Time) (restore func()) {
	old := mirrorClock
	mirrorClock = func() time.Time { return at }
	return func() { mirrorClock = old }
}
