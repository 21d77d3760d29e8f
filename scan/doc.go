// Package scan takes the package inventory of a target — an image (OCI
// layout, docker save tarball, or an image in the store), a root
// filesystem directory, or a CycloneDX/SPDX JSON SBOM — and matches it
// against OSV advisories, producing findings that carry their evidence.
//
// Inventory uses small extractors of its own (Go build info, dpkg including
// distroless status.d, apk, rpm through go-rpmdb, npm, PyPI, Maven):
// osv-scalibr's extractors link net/http, which this package may not (see
// docs/scan.md). Image layers are applied in order with whiteouts honoured.
// Matching follows the OSV schema with osv-scalibr's semantic version
// comparators for every ecosystem.
//
// Trust assumptions: the advisories come from a verified kit through the
// store (or from files the caller chose); the target is untrusted input:
// paths are cleaned and never escape the scratch directory, sizes are
// capped.
//
// With Options.Evidence, each finding in a Go binary says whether the
// vulnerable symbols its records list are in the binary (Evidence),
// read from the binary's line table, stripped binaries included, by
// govulncheck's binary-mode rules.
//
// Scanning fails closed: an ecosystem present in the target without any
// advisory data is reported as NO_ADVISORY_DATA, never as "no
// vulnerabilities".
//
// Package scan never opens a network connection and never reads the
// clock: the report's time comes from Options.Time.
package scan
