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
	"github.com/ferry-dev/ferry/verify"
)

// Verifier is a verify.AttestationVerifier backed by
// images.AttestationRecord.Verify. The zero value is ready; it is safe for
// concurrent use.
type Verifier struct{}

var _ verify.AttestationVerifier = Verifier{}

// VerifyAttestation implements verify.AttestationVerifier: trust is a PEM
// public key (mode "key") or a Sigstore trusted_root.json (mode
// "keyless", with the record's identity and issuer required).
func (Verifier) VerifyAttestation(ctx context.Context, record, trust []byte) (verify.AttestationSigner, error) {
	var rec images.AttestationRecord
	if err := json.Unmarshal(record, &rec); err != nil {
		return verify.AttestationSigner{}, fmt.Errorf("attestation record: %w", err)
	}
	if rec.Schema != format.AttestationSchema {
		return verify.AttestationSigner{}, fmt.Errorf("attestation record: schema %q", rec.Schema)
	}
	var o images.VerifyOptions
	switch rec.Verified.Mode {
	case "key":
		block, _ := pem.Decode(trust)
		if block == nil {
			return verify.AttestationSigner{}, errors.New("public key: not PEM")
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return verify.AttestationSigner{}, fmt.Errorf("public key: %w", err)
		}
		o.Key = pub
	case "keyless":
		o.Identity, o.Issuer, o.TrustedRoot = rec.Verified.Identity, rec.Verified.Issuer, trust
	default:
		return verify.AttestationSigner{}, fmt.Errorf("verification mode %q", rec.Verified.Mode)
	}
	res, err := rec.Verify(ctx, o)
	if err != nil {
		return verify.AttestationSigner{}, err
	}
	return verify.AttestationSigner{Identity: res.Identity, Issuer: res.Issuer}, nil
}
