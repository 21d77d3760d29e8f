// Package vexsite gathers what the VEX consensus of a site is computed
// from — every VEX statement of the store (documents, CSAF product
// statuses, verified OCI attestations with their signers), the site's own
// OpenVEX files (--vex DIR), the issuer tiers of the kits' trust/issuers.json
// with a local override, and the alias groups of the store's advisories —
// and runs package vex/consensus over it, for `ferry vex` and `ferry scan`.
//
// Trust assumptions: the store verified what it holds at import (kit
// signatures, attestation signers); local files are the site's own and
// trusted as tier self. vexsite reads the store only through the small
// interfaces below, never opens bbolt itself and never reads the clock:
// the evaluation time comes in.
package vexsite
