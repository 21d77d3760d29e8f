package gate

import (
	"bytes"
	"crypto"
	"encoding/json"

	"fmt"
	"strings"

	"github.com/gowebpki/jcs"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
)

// PayloadType is the DSSE payload type of a signed decision: an in-toto
// Statement, as cosign writes attestations.
const PayloadType = "application/vnd.in-toto+json"

// StatementType is the in-toto Statement version.
const StatementType = "https://in-toto.io/Statement/v1"

// statement is an in-toto Statement v1 whose predicate is a record.
type statement struct {
	Type          string          `json:"_type"`
	Subject       []subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement returns the in-toto Statement of a record (canonical JSON):
// its subjects are the gated image (by digest) and the record itself (by
// its decision id), so that cosign's verify-blob-attestation can check the
// record file against the envelope; its predicate is the record.
func Statement(rec *Record, canonical []byte) ([]byte, error) {
	st := statement{Type: StatementType, PredicateType: RecordSchema, Predicate: canonical}
	if alg, hex, ok := strings.Cut(rec.Inputs.Subject.Digest, ":"); ok && hex != "" {
		name := rec.Inputs.Subject.Ref
		if name == "" {
			name = rec.Inputs.Subject.Digest
		}
		st.Subject = append(st.Subject, subject{Name: name, Digest: map[string]string{alg: hex}})
	}
	id := ID(canonical)
	st.Subject = append(st.Subject, subject{Name: "decision", Digest: map[string]string{"sha256": strings.TrimPrefix(id, "sha256:")}})
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding in-toto statement: %w", err)
	}
	return jcs.Transform(b)
}

// Sign signs a record (its canonical JSON) with priv and returns the DSSE
// envelope, one line of JSON, as cosign writes an attestation. An ed25519
// key gives the same bytes every time; ECDSA signatures are randomised.
func Sign(priv crypto.Signer, rec *Record, canonical []byte) ([]byte, error) {
	st, err := Statement(rec, canonical)
	if err != nil {
		return nil, err
	}
	s, err := signature.LoadSigner(priv, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("gate signing key: %w", err)
	}
	env, err := dsse.WrapSigner(s, PayloadType).SignMessage(bytes.NewReader(st))
	if err != nil {
		return nil, fmt.Errorf("signing decision: %w", err)
	}
	return append(env, '\n'), nil
}

// Verified is a signed decision that verified.
type Verified struct {
	Record *Record
	// Canonical is the record's canonical JSON (what record files hold).
	Canonical []byte
	// ID is the decision id.
	ID string
}

// VerifyEnvelope checks a DSSE envelope written by Sign against pub: the
// signature, the payload type, the statement and predicate types, the
// record's canonical form and that the statement names the record's
// decision id. Every failure wraps ErrRecordTampered.
func VerifyEnvelope(envelope []byte, pub crypto.PublicKey) (*Verified, error) {
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("gate verification key: %w", err)
	}
	var payload []byte
	dv := dsse.WrapVerifier(v, dsse.WithExpectedPayloadType(PayloadType), dsse.WithDecodedPayload(&payload))
	if err := dv.VerifySignature(bytes.NewReader(bytes.TrimSpace(envelope)), nil); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrRecordTampered, err)
	}
	var st statement
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: the signed payload is not an in-toto statement: %v", ErrRecordTampered, err)
	}
	if st.Type != StatementType || st.PredicateType != RecordSchema {
		return nil, fmt.Errorf("%w: statement %q with predicate %q is not a ferry decision", ErrRecordTampered, st.Type, st.PredicateType)
	}
	canonical, err := jcs.Transform(st.Predicate)
	if err != nil {
		return nil, fmt.Errorf("%w: predicate: %v", ErrRecordTampered, err)
	}
	rec, err := ParseRecord(canonical)
	if err != nil {
		return nil, err
	}
	id := ID(canonical)
	named := false
	for _, s := range st.Subject {
		if "sha256:"+s.Digest["sha256"] == id && s.Name == "decision" {
			named = true
		}
	}
	if !named {
		return nil, fmt.Errorf("%w: the statement does not name decision %s", ErrRecordTampered, id)
	}
	if d := rec.Inputs.Subject.Digest; d != "" {
		found := false
		for _, s := range st.Subject {
			if alg, hex, ok := strings.Cut(d, ":"); ok && s.Digest[alg] == hex && s.Name != "decision" {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: the statement's subject is not the record's image %s", ErrRecordTampered, d)
		}
	}
	return &Verified{Record: rec, Canonical: canonical, ID: id}, nil
}

// CheckRecordFile compares a record file with a verified envelope's record.
func (v *Verified) CheckRecordFile(data []byte) error {
	if !bytes.Equal(bytes.TrimSuffix(data, []byte("\n")), v.Canonical) {
		return fmt.Errorf("%w: the record file is not the record that was signed (decision %s, file %s)",
			ErrRecordTampered, v.ID, ID(bytes.TrimSuffix(data, []byte("\n"))))
	}
	return nil
}
