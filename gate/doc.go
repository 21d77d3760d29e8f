// Package gate decides whether a release may pass: a policy (YAML,
// ferry.dev/policy/v1) evaluated over an image's findings, their VEX
// consensus, the checks of its signatures and attestations, and the age of
// the site's data, into a decision record that says why.
//
// Evaluate is a pure function of its Input: the same input gives a
// byte-identical record (RFC 8785 canonical JSON), whose sha256 is the
// decision id. Every rule is evaluated, in a fixed order, and the verdict is
// the worst outcome. Signing (an in-toto Statement in a DSSE envelope),
// verification, explanation and the diff of two records sit beside it.
//
// Trust assumptions: the findings, consensus and check results in Input come
// from the caller, which took them from a verified store; this package
// judges them, it does not gather them.
//
// The package never opens a network connection, never reads the clock (the
// evaluation time comes in) and never writes a file: only the CLI does.
package gate
