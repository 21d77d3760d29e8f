// Package version holds ferry's version, written into kits and records.
package version

// Version is ferry's version. Release builds set it with
// -ldflags "-X github.com/ferry-dev/ferry/internal/version.Version=…".
var Version = "0.1.0-dev"
