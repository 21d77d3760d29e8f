// Package attestverify connects the store to images: it re-verifies the
// attestation records a kit carries (images.AttestationRecord) for
// store.VEXIndexer, which cannot link sigstore-go itself (sigstore-go links
// net/http, and the store is an offline package).
//
// Trust assumptions: only the record and the trust material the store
// hands over are used. It never opens a network connection.
package attestverify
