package images

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/ferry-dev/ferry/format"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// AttestationRecord is one cosign attestation carried outside an image
// layout (a kit's vex/<source>/attestations/<sha256>.json): the DSSE
// envelope with the layer annotations that hold the keyless verification
// material (Fulcio certificate and chain, Rekor bundle, RFC 3161
// timestamp), and what it is attached to. It holds everything Verify
// needs besides the trust material; the kit carries that next to it.
type AttestationRecord struct {
	Schema string `json:"schema"`
	// Image is the subscribed reference as written; a tag is a label only.
	Image      string `json:"image"`
	Repository string `json:"repository"`
	// Subject is the manifest digest the statement is about (the image, or
	// one of its platform manifests).
	Subject string `json:"subject"`
	// Manifest is the digest of the attestation manifest: the cosign
	// sha256-<hex>.att tag's or the OCI referrer's.
	Manifest string `json:"manifest"`
	// Via is "tag" (cosign's .att tag) or "referrer" (OCI referrers).
	Via string `json:"via"`
	Tag string `json:"tag,omitempty"`
	// Layer is the layer's index in the manifest, LayerDigest the sha256
	// of its bytes as the registry served them. Envelope is the same JSON
	// value (re-encoded compactly: the DSSE signature covers the payload,
	// not the envelope's spelling).
	Layer       int               `json:"layer"`
	LayerDigest string            `json:"layerDigest"`
	MediaType   string            `json:"mediaType"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Envelope    json.RawMessage   `json:"envelope"`
	// PredicateType is the in-toto statement's; Predicate is the kit path
	// of the predicate document, carried byte-exact as it sits in the
	// statement, and PredicateDigest its sha256.
	PredicateType   string `json:"predicateType"`
	Predicate       string `json:"predicate,omitempty"`
	PredicateDigest string `json:"predicateDigest,omitempty"`
	// Verified says how the attestation was verified when it was carried.
	Verified AttestationCheck `json:"verified"`
}

// AttestationCheck records how an attestation was verified.
type AttestationCheck struct {
	// Mode is "key" or "keyless".
	Mode string `json:"mode"`
	// Key is the kit path of the public key (key mode).
	Key string `json:"key,omitempty"`
	// Identity and Issuer are the certificate identity and OIDC issuer
	// required (keyless); TrustedRoot the kit path of trusted_root.json.
	Identity    string `json:"identity,omitempty"`
	Issuer      string `json:"issuer,omitempty"`
	TrustedRoot string `json:"trustedRoot,omitempty"`
	// Tlog is what VerifyAttestation said about the transparency log.
	Tlog string `json:"tlog"`
}

// Verify re-verifies the record's envelope against o with
// VerifyAttestation, and checks that the envelope's statement names the
// record's predicate type.
func (r *AttestationRecord) Verify(ctx context.Context, o VerifyOptions) (SignatureRes, error) {
	subject, err := v1.NewHash(r.Subject)
	if err != nil {
		return SignatureRes{Error: err.Error()}, fmt.Errorf("subject: %w", err)
	}
	res, err := VerifyAttestation(ctx, r.Envelope, r.Annotations, subject, o)
	if err != nil {
		return res, err
	}
	if res.PredicateType != r.PredicateType {
		err := fmt.Errorf("the envelope's predicate type is %q, the record says %q", res.PredicateType, r.PredicateType)
		res.OK, res.Error = false, err.Error()
		return res, err
	}
	return res, nil
}

// Statement is the part of an in-toto statement (v0.1 or v1) that
// selecting and carrying an attestation needs.
type Statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// ParseEnvelope reads a DSSE envelope holding an in-toto statement,
// without verifying it. The statement's Predicate holds the exact bytes of
// the predicate as they sit in the signed payload.
func ParseEnvelope(envelope []byte) (*Statement, error) {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	if env.PayloadType != format.MediaInToto {
		return nil, fmt.Errorf("%w: payload type %q", ErrNotInToto, env.PayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("DSSE payload: %w", err)
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInToto, err)
	}
	if !format.IsInTotoStatement(st.Type) {
		return nil, fmt.Errorf("%w: statement type %q", ErrNotInToto, st.Type)
	}
	if st.PredicateType == "" {
		return nil, fmt.Errorf("%w: no predicateType", ErrNotInToto)
	}
	st.Predicate = bytes.Clone(st.Predicate)
	return &st, nil
}
