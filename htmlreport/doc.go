// Package htmlreport renders the reports a person reads and files: the
// verification of a kit (Verify) and a gate decision (Decision), each one
// self-contained HTML file — inline CSS, no external assets, no scripts —
// readable on screen and printed on A4.
//
// It renders what verify and gate decided and decides nothing itself: a
// report states the checks, failures and evidence its input holds, in a
// fixed order, so the same input gives the same bytes. It never reads the
// clock, a file or the network.
package htmlreport
