package store

import (
	"github.com/ferry-dev/ferry/verify"
)

// ErrNoAttestationVerifier is returned when a kit carries attestations and
// the store was given no AttestationVerifier to re-verify them with: the
// import fails rather than trust them unchecked
// (verify.ErrNoAttestationVerifier).
var ErrNoAttestationVerifier = verify.ErrNoAttestationVerifier

// An AttestationVerifier re-verifies one carried attestation record
// offline (verify.AttestationVerifier). The store hands it to verify.Kit,
// which re-verifies carried attestations as part of the kit; package store
// never links sigstore-go (internal/depcheck). internal/attestverify is
// the implementation; the CLI wires it in.
type AttestationVerifier = verify.AttestationVerifier

// AttestationSigner is who an attestation verified as.
type AttestationSigner = verify.AttestationSigner

// attestations returns the verifier of the store's VEXIndexer, if any: the
// one imports and index rebuilds re-verify carried attestations with.
func (s *Store) attestations() AttestationVerifier {
	for _, ix := range s.indexers {
		if x, ok := ix.(VEXIndexer); ok && x.Attestations != nil {
			return x.Attestations
		}
	}
	return nil
}
