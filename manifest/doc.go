// Package manifest is kit.json, the manifest inside every kit: what the kit
// is (name, channel, version, times, freshness budgets) and where each
// source's content came from. Both sides use it: the connected side writes
// it (package kit), the offline side reads it (store, inspect), so it
// imports nothing that opens a network connection.
package manifest
