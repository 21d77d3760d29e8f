// Package verify checks a kit offline before anything uses it: the TUF
// metadata against a pinned root (and the store's trust state, for rollback),
// then every content entry against the signed targets, in one streaming pass
// with bounded memory.
//
// The TUF rules (signatures, thresholds, versions, expiry, root rotation) are
// go-tuf/v2's trustedmetadata, the reviewed implementation; this package adds
// the kit's own rules and maps every failure to a stable code of package
// bundle. A verifier reports every failure it can find, not only the first.
//
// Every byte of the metadata is authenticated: each entry must be the
// canonical form bundle.EncodeMetadata writes (go-tuf signs only the signed
// part as it re-encodes it), every signature must be by a listed key and
// verify, and roots the trust holds a copy of must equal it. Trust state is
// compared by what was signed, never by bytes.
//
// Every trust decision about a kit is made here, so that ferry verify and
// ferry import agree: after the content pass, the trust material the kit
// carries (TUF repositories of trust sources, OCI VEX attestations) is
// re-verified (CheckCarried) and the result goes into the report, which
// the store only records. Attestations are checked through an injected
// AttestationVerifier: sigstore-go links net/http, which this package
// does not.
//
// Trust assumptions: the root given in Trust was pinned out of band (or comes
// from the store, which pinned it). Time comes in through Options.At; the
// package never reads the clock. It never opens a network connection.
package verify
