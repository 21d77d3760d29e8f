// Package consensus decides, for each (vulnerability, product), one VEX
// status from every statement the site holds — the algorithm consensus/v1
// of docs/vex-consensus.md — and explains the decision: the deciding
// statement, every statement that agreed, conflicted or dissented, and
// every statement that was dropped with a stable reason code.
//
// Evaluate is a pure function: statements, issuer tiers, alias groups and
// an evaluation time in, results out. Trust assumptions: the caller says
// which signer verified a statement (Input.Signer); the package trusts
// that, and nothing a document claims about itself beyond it.
//
// Package consensus never reads the clock, the file system or the store,
// and never opens a network connection. Its results depend only on its
// inputs, not on their order. It is safe for concurrent use.
package consensus
