// Package attestverify connects verify to images: it re-verifies the
// attestation records a kit carries (images.AttestationRecord) for
// verify.Kit's carried trust check, run by ferry verify and ferry import
// alike; verify and store cannot link sigstore-go themselves (sigstore-go
// links net/http, and they are offline packages).
//
// Trust assumptions: only the record and the trust material the store
// hands over are used. It never opens a network connection.
package attestverify
