package images

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Attachment is a signature or attestation manifest carried for an image.
type Attachment struct {
	// Kind is format.KindSignature or format.KindAttestation (the
	// store's kinds); others are skipped.
	Kind string
	// Digest names the attachment's manifest.
	Digest v1.Hash
	// Subject is the image or platform manifest it is attached to.
	Subject v1.Hash
}

// VerifyOptions says what to trust. Exactly one of Key and Identity must
// be set.
type VerifyOptions struct {
	// Key is the signer's public key (cosign's cosign.pub).
	Key crypto.PublicKey
	// Identity and Issuer are the keyless signer: the certificate's
	// subject alternative name and OIDC issuer, matched exactly. The
	// certificate must chain to a Fulcio CA of TrustedRoot at a time a
	// transparency log entry (its signed entry timestamp) or an RFC 3161
	// timestamp of TrustedRoot vouches for.
	Identity string
	Issuer   string
	// TrustedRoot is a Sigstore trusted_root.json; required for keyless.
	TrustedRoot []byte
}

// VerifySchema names the JSON schema of VerifyResult.
const VerifySchema = "ferry.dev/images-verify/v1"

// VerifyResult is the outcome of Verify: one entry per signature or
// attestation layer, valid or not.
type VerifyResult struct {
	Schema   string `json:"schema"`
	Image    string `json:"image"`
	Verified bool   `json:"verified"`
	// Mode is "key" or "keyless".
	Mode         string         `json:"mode"`
	Signatures   []SignatureRes `json:"signatures"`
	Attestations []SignatureRes `json:"attestations"`
}

// SignatureRes is one checked signature or attestation.
type SignatureRes struct {
	Manifest string `json:"manifest"`
	Layer    int    `json:"layer"`
	Subject  string `json:"subject"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	// Identity and Issuer are the certificate's (keyless).
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	// PredicateType is an attestation's in-toto predicate type.
	PredicateType string `json:"predicateType,omitempty"`
	// Tlog says whether a transparency log entry was carried and checked.
	Tlog string `json:"tlog"`
}

// Verify checks every cosign signature and attestation in atts (those of
// image or of one of its platform manifests) against o. It reports each,
// and returns an error wrapping ErrNotVerified when no signature verified.
// With a key, a signature needs no timestamp (cosign sign
// --tlog-upload=false); a transparency log entry it carries is not
// checked then (there is no log key to check it with), and the result
// says so.
func Verify(ctx context.Context, b Blobs, image v1.Hash, atts []Attachment, o VerifyOptions) (*VerifyResult, error) {
	v, err := newVerifier(o)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{Schema: VerifySchema, Image: image.String(), Mode: v.mode, Signatures: []SignatureRes{}, Attestations: []SignatureRes{}}
	atts = slices.Clone(atts)
	slices.SortFunc(atts, func(a, b Attachment) int {
		return strings.Compare(a.Subject.String()+a.Digest.String(), b.Subject.String()+b.Digest.String())
	})
	for _, a := range atts {
		if a.Kind != format.KindSignature && a.Kind != format.KindAttestation {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rs, err := v.attachment(b, a)
		if err != nil {
			rs = []SignatureRes{{Manifest: a.Digest.String(), Subject: a.Subject.String(), Error: err.Error(), Tlog: "none"}}
		}
		if a.Kind == format.KindSignature {
			res.Signatures = append(res.Signatures, rs...)
		} else {
			res.Attestations = append(res.Attestations, rs...)
		}
	}
	for _, s := range res.Signatures {
		res.Verified = res.Verified || s.OK
	}
	if !res.Verified {
		return res, fmt.Errorf("%s: %w (%d signature(s) checked)", image, ErrNotVerified, len(res.Signatures))
	}
	return res, nil
}

type cosignVerifier struct {
	mode     string
	hint     string
	material root.TrustedMaterial
	identity sgverify.CertificateIdentity
	ctLogs   bool
}

func newVerifier(o VerifyOptions) (*cosignVerifier, error) {
	switch {
	case o.Key != nil && (o.Identity != "" || o.Issuer != ""):
		return nil, errors.New("give a key or a certificate identity and issuer, not both")
	case o.Key != nil:
		sv, err := signature.LoadVerifier(o.Key, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		der, err := x509.MarshalPKIXPublicKey(o.Key)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		sum := sha256.Sum256(der)
		hint := hex.EncodeToString(sum[:])
		tm := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{hint: root.NewExpiringKey(sv, time.Time{}, time.Time{})})
		return &cosignVerifier{mode: "key", hint: hint, material: tm}, nil
	case o.Identity == "" || o.Issuer == "":
		return nil, errors.New("keyless verification needs both a certificate identity and an OIDC issuer")
	case len(o.TrustedRoot) == 0:
		return nil, errors.New("keyless verification needs a Sigstore trusted root (trusted_root.json)")
	}
	tr, err := root.NewTrustedRootFromJSON(o.TrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	id, err := sgverify.NewShortCertificateIdentity(o.Issuer, "", o.Identity, "")
	if err != nil {
		return nil, err
	}
	return &cosignVerifier{mode: "keyless", material: tr, identity: id, ctLogs: len(tr.CTLogs()) > 0}, nil
}

// attachment checks every layer of one signature or attestation manifest.
func (v *cosignVerifier) attachment(b Blobs, a Attachment) ([]SignatureRes, error) {
	raw, err := readBlob(b, a.Digest)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", a.Digest, err)
	}
	var out []SignatureRes
	for i, l := range m.Layers {
		r := SignatureRes{Manifest: a.Digest.String(), Layer: i, Subject: a.Subject.String(), Tlog: "none"}
		if err := v.layer(b, a, l, &r); err != nil {
			r.Error = err.Error()
		} else {
			r.OK = true
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("manifest %s has no layers", a.Digest)
	}
	return out, nil
}

func (v *cosignVerifier) layer(b Blobs, a Attachment, l v1.Descriptor, r *SignatureRes) error {
	payload, err := readBlob(b, l.Digest)
	if err != nil {
		return err
	}
	return v.payload(a.Kind, a.Subject, payload, l.Annotations, r)
}

// VerifyAttestation checks one cosign attestation given as bytes, outside
// any store: envelope is the DSSE envelope (the content of an attestation
// layer), annotations are that layer's annotations (for keyless: cosign's
// certificate, Rekor bundle and RFC 3161 timestamp), subject is the
// manifest digest the in-toto statement must name. It returns the result
// (with the predicate type and, keyless, the certificate's identity and
// issuer) and an error when the attestation does not verify against o.
// It is safe for concurrent use.
func VerifyAttestation(ctx context.Context, envelope []byte, annotations map[string]string, subject v1.Hash, o VerifyOptions) (SignatureRes, error) {
	r := SignatureRes{Subject: subject.String(), Tlog: "none"}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	v, err := newVerifier(o)
	if err != nil {
		return r, err
	}
	if err := v.payload(format.KindAttestation, subject, envelope, annotations, &r); err != nil {
		r.Error = err.Error()
		return r, err
	}
	r.OK = true
	return r, nil
}

// payload checks one signature (a simple-signing payload) or attestation
// (a DSSE envelope) with the layer annotations it came with.
func (v *cosignVerifier) payload(kind string, subject v1.Hash, payload []byte, annotations map[string]string, r *SignatureRes) error {
	a := Attachment{Kind: kind, Subject: subject}
	l := v1.Descriptor{Annotations: annotations}
	if digest, _, err := v1.SHA256(bytes.NewReader(payload)); err == nil {
		l.Digest = digest
	}
	ent := &legacyEntity{}
	if v.mode == "key" {
		ent.vc = &keyContent{hint: v.hint}
	} else {
		cert, err := leafCertificate(l.Annotations[format.AnnotationCosignCertificate])
		if err != nil {
			return err
		}
		ent.vc = bundle.NewCertificate(cert)
		if err := ent.readTimestamps(l.Annotations); err != nil {
			return err
		}
		if len(ent.tlog) > 0 {
			r.Tlog = "checked"
		}
	}
	if v.mode == "key" && l.Annotations[format.AnnotationCosignBundle] != "" {
		r.Tlog = "carried, not checked (key mode)"
	}
	var pb sgverify.PolicyBuilder
	var idOpt sgverify.PolicyOption
	if v.mode == "key" {
		idOpt = sgverify.WithKey()
	} else {
		idOpt = sgverify.WithCertificateIdentity(v.identity)
	}
	switch a.Kind {
	case format.KindSignature:
		if err := checkSimpleSigning(payload, a.Subject); err != nil {
			return err
		}
		sig, err := base64.StdEncoding.DecodeString(l.Annotations[format.AnnotationCosignSignature])
		if err != nil || len(sig) == 0 {
			return fmt.Errorf("layer %s: no or malformed %s annotation", l.Digest, format.AnnotationCosignSignature)
		}
		sum := sha256.Sum256(payload)
		ent.sig = bundle.NewMessageSignature(sum[:], "SHA2_256", sig)
		pb = sgverify.NewPolicy(sgverify.WithArtifact(bytes.NewReader(payload)), idOpt)
	case format.KindAttestation:
		var env ssldsse.Envelope
		if err := json.Unmarshal(payload, &env); err != nil {
			return fmt.Errorf("layer %s: not a DSSE envelope: %w", l.Digest, err)
		}
		if len(env.Signatures) == 0 {
			return fmt.Errorf("layer %s: DSSE envelope without signatures", l.Digest)
		}
		ent.env = &bundle.Envelope{Envelope: &env}
		want, _ := hex.DecodeString(a.Subject.Hex)
		pb = sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", want), idOpt)
	}
	var opts []sgverify.VerifierOption
	if v.mode == "key" {
		opts = append(opts, sgverify.WithNoObserverTimestamps())
	} else {
		opts = append(opts, sgverify.WithObserverTimestamps(1))
		if len(ent.tlog) > 0 {
			opts = append(opts, sgverify.WithTransparencyLog(1))
		}
		if v.ctLogs {
			opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
		}
	}
	sv, err := sgverify.NewVerifier(v.material, opts...)
	if err != nil {
		return err
	}
	vr, err := sv.Verify(ent, pb)
	if err != nil {
		return err
	}
	if vr.Signature != nil && vr.Signature.Certificate != nil {
		r.Identity = vr.Signature.Certificate.SubjectAlternativeName
		r.Issuer = vr.Signature.Certificate.Issuer
	}
	if vr.Statement != nil {
		r.PredicateType = vr.Statement.PredicateType
	}
	return nil
}

// checkSimpleSigning checks that a cosign signature payload names subject:
// a valid signature of another image, copied beside this one, must fail.
func checkSimpleSigning(payload []byte, subject v1.Hash) error {
	var p struct {
		Critical struct {
			Identity struct {
				DockerReference string `json:"docker-reference"`
			} `json:"identity"`
			Image struct {
				DockerManifestDigest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("signature payload is not simple-signing JSON: %w", err)
	}
	if !strings.EqualFold(p.Critical.Type, "cosign container image signature") {
		return fmt.Errorf("signature payload type %q is not a cosign container image signature", p.Critical.Type)
	}
	if p.Critical.Image.DockerManifestDigest != subject.String() {
		return fmt.Errorf("signature payload signs %q, not %s", p.Critical.Image.DockerManifestDigest, subject)
	}
	return nil
}

func leafCertificate(pemText string) (*x509.Certificate, error) {
	if pemText == "" {
		return nil, fmt.Errorf("no %s annotation: not a keyless signature (verify it with --key)", format.AnnotationCosignCertificate)
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(pemText))
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("%s: not a PEM certificate", format.AnnotationCosignCertificate)
	}
	return certs[0], nil
}

// legacyEntity is a cosign legacy signature or attestation layer as a
// sigstore-go SignedEntity.
type legacyEntity struct {
	vc   sgverify.VerificationContent
	sig  *bundle.MessageSignature
	env  *bundle.Envelope
	tlog []*tlog.Entry
	tsa  [][]byte
}

var _ sgverify.SignedEntity = (*legacyEntity)(nil)

func (e *legacyEntity) HasInclusionPromise() bool { return len(e.tlog) > 0 }
func (e *legacyEntity) HasInclusionProof() bool   { return false }
func (e *legacyEntity) Version() (string, error)  { return "v0.3", nil }
func (e *legacyEntity) Timestamps() ([][]byte, error) {
	return e.tsa, nil
}
func (e *legacyEntity) TlogEntries() ([]*tlog.Entry, error) { return e.tlog, nil }
func (e *legacyEntity) VerificationContent() (sgverify.VerificationContent, error) {
	return e.vc, nil
}
func (e *legacyEntity) SignatureContent() (sgverify.SignatureContent, error) {
	if e.env != nil {
		return e.env, nil
	}
	return e.sig, nil
}

// readTimestamps reads cosign's Rekor bundle and RFC 3161 annotations.
func (e *legacyEntity) readTimestamps(ann map[string]string) error {
	if s := ann[format.AnnotationCosignBundle]; s != "" {
		var rb struct {
			SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
			Payload              struct {
				Body           string `json:"body"`
				IntegratedTime int64  `json:"integratedTime"`
				LogIndex       int64  `json:"logIndex"`
				LogID          string `json:"logID"`
			} `json:"Payload"`
		}
		if err := json.Unmarshal([]byte(s), &rb); err != nil {
			return fmt.Errorf("%s: %w", format.AnnotationCosignBundle, err)
		}
		body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
		if err != nil {
			return fmt.Errorf("%s: body: %w", format.AnnotationCosignBundle, err)
		}
		logID, err := hex.DecodeString(rb.Payload.LogID)
		if err != nil {
			return fmt.Errorf("%s: logID: %w", format.AnnotationCosignBundle, err)
		}
		entry, err := tlog.NewEntry(body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, logID, rb.SignedEntryTimestamp, nil) //nolint:staticcheck // cosign's legacy bundle is a Rekor v1 entry
		if err != nil {
			return fmt.Errorf("%s: %w", format.AnnotationCosignBundle, err)
		}
		e.tlog = append(e.tlog, entry)
	}
	if s := ann[format.AnnotationCosignRFC3161]; s != "" {
		var ts struct {
			SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
		}
		if err := json.Unmarshal([]byte(s), &ts); err != nil {
			return fmt.Errorf("%s: %w", format.AnnotationCosignRFC3161, err)
		}
		e.tsa = append(e.tsa, ts.SignedRFC3161Timestamp)
	}
	return nil
}

// keyContent is the verification content of a key-signed entity: the key
// is looked up in the trusted material by hint.
type keyContent struct{ hint string }

var _ sgverify.VerificationContent = (*keyContent)(nil)

func (k *keyContent) CompareKey(key any, tm root.TrustedMaterial) bool {
	v, err := tm.PublicKeyVerifier(k.hint)
	if err != nil {
		return false
	}
	pub, err := v.PublicKey()
	if err != nil {
		return false
	}
	return cryptoutils.EqualKeys(pub, key) == nil
}

func (k *keyContent) ValidAtTime(t time.Time, tm root.TrustedMaterial) bool {
	v, err := tm.PublicKeyVerifier(k.hint)
	return err == nil && v.ValidAtTime(t)
}

func (k *keyContent) Certificate() *x509.Certificate        { return nil }
func (k *keyContent) Intermediates() []*x509.Certificate    { return nil }
func (k *keyContent) PublicKey() sgverify.PublicKeyProvider { return hintOnly(k.hint) }

type hintOnly string

func (h hintOnly) Hint() string { return string(h) }
