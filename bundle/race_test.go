//go:build race

package bundle_test

// raceEnabled: the race detector changes what is allocated and how fast.
const raceEnabled = true
