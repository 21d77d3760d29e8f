// Package gatesite gathers what a gate decision is made of from the site's
// store and runs the gate: the subject's scan (storescan), the VEX
// consensus of its findings (vexsite), the offline checks of its required
// signatures and attestations (images, against what the kits carried), the
// store's active kit per channel, all read in one read transaction; then
// gate.Evaluate judges. Replay runs the same again from a record.
//
// Trust assumptions: the store holds only verified kits. The package opens
// the store read-only through the caller's *store.Store; it never writes a
// file, never opens a network connection and never reads the clock (the
// evaluation time comes in).
package gatesite
