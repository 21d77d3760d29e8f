// Package vex reads VEX documents — OpenVEX (through go-vex,
// github.com/openvex/go-vex) and CSAF 2.0 (csaf_vex and
// csaf_security_advisory) — into one normalised Statement type that the store
// and the consensus engine use.
//
// Parsing is strict where a lenient reader would misread: a document whose
// header fields are in the wrong place, that carries no statements, names no
// author, or references a CSAF product its product tree does not define is
// refused with an error that names the field and the reason, never read as
// an empty or anonymous document. Duplicate JSON object keys are refused
// too (parsers disagree on which one wins).
//
// Statements come back in a deterministic order (see SortStatements), and
// CanonicalDigest hashes an RFC 8785 (JCS) form of a normalised OpenVEX
// document, so that key order, whitespace and statement order do not change
// a document's identity.
//
// Trust assumptions: none. The package reads bytes it is given; it does not
// verify signatures or decide whom to believe (that is the consensus
// engine's job, with the issuer trust levels a kit carries).
//
// Package vex never opens a network connection, never reads the clock and
// never touches the file system. It is safe for concurrent use.
package vex
