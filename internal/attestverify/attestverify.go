package attestverify

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/format"

	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/store"
)

// Verifier is a store.AttestationVerifier backed by
// images.AttestationRecord.Verify. The zero value is ready; it is safe for
// concurrent use.
type Verifier struct{}

var _ store.AttestationVerifier = Verifier{}

// VerifyAttestation implements store.AttestationVerifier: trust is a PEM
// public key (mode "key") or a Sigstore trusted_root.json (mode
// "keyless", with the record's identity and issuer required).
func (Verifier) VerifyAttestation(ctx context.Context, record, trust []byte) (store.AttestationSigner, error) {
	var rec images.AttestationRecord
	if err := json.Unmarshal(record, &rec); err != nil {
		return store.AttestationSigner{}, fmt.Errorf("attestation record: %w", err)
	}
	if rec.Schema != format.AttestationSchema {
		return store.AttestationSigner{}, fmt.Errorf("attestation record: schema %q", rec.Schema)
	}
	var o images.VerifyOptions
	switch rec.Verified.Mode {
	case "key":
		block, _ := pem.Decode(trust)
		if block == nil {
			return store.AttestationSigner{}, errors.New("public key: not PEM")
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return store.AttestationSigner{}, fmt.Errorf("public key: %w", err)
		}
		o.Key = pub
	case "keyless":
		o.Identity, o.Issuer, o.TrustedRoot = rec.Verified.Identity, rec.Verified.Issuer, trust
	default:
		return store.AttestationSigner{}, fmt.Errorf("verification mode %q", rec.Verified.Mode)
	}
	res, err := rec.Verify(ctx, o)
	if err != nil {
		return store.AttestationSigner{}, err
	}
	return store.AttestationSigner{Identity: res.Identity, Issuer: res.Issuer}, nil
}
