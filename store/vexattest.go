package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/ferry-dev/ferry/format"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/verify"
)

// ErrNoAttestationVerifier is returned (wrapped in an *IndexError) when a
// kit carries attestations and the store was given no AttestationVerifier
// to re-verify them with: the import fails rather than trust them unchecked.
var ErrNoAttestationVerifier = errors.New("no attestation verifier: the store cannot re-verify carried attestations (store.WithAttestationVerifier)")

// An AttestationVerifier re-verifies one carried attestation record
// offline. Package store cannot do it itself: sigstore-go links net/http,
// which store may not (internal/depcheck). images.AttestationRecord.Verify
// is the implementation; the CLI wires it in.
type AttestationVerifier interface {
	// VerifyAttestation verifies record (an images.AttestationRecord as
	// carried) against trust, the material the kit carried next to it: a
	// PEM public key when the record's mode is "key", a Sigstore
	// trusted_root.json when it is "keyless" (required identity and issuer
	// are the record's). It returns the verified signer: for keyless the
	// certificate's identity and issuer, for a key nothing (the store
	// names the key itself). It must not open a network connection and
	// must be safe for concurrent use.
	VerifyAttestation(ctx context.Context, record, trust []byte) (AttestationSigner, error)
}

// AttestationSigner is who an attestation verified as.
type AttestationSigner struct {
	Identity string
	Issuer   string
}

// attestationRecord is the part of a carried record the store checks.
type attestationRecord struct {
	Schema          string          `json:"schema"`
	Subject         string          `json:"subject"`
	Envelope        json.RawMessage `json:"envelope"`
	PredicateType   string          `json:"predicateType"`
	Predicate       string          `json:"predicate"`
	PredicateDigest string          `json:"predicateDigest"`
	Verified        struct {
		Mode        string `json:"mode"`
		Key         string `json:"key"`
		Identity    string `json:"identity"`
		Issuer      string `json:"issuer"`
		TrustedRoot string `json:"trustedRoot"`
	} `json:"verified"`
}

// Caps of what attestation checks read.
const (
	maxAttestationRecord = 64 << 20 // the envelope holds the predicate, base64
	maxTrustMaterial     = 4 << 20  // a public key or trusted_root.json
)

// verifiedAttestation is a record that re-verified.
type verifiedAttestation struct {
	predicate    string // kit path of the predicate document
	signer       string
	signerIssuer string
}

// Finish implements Finisher: it re-verifies every attestation record
// (vex/<source>/attestations/*.json) against the key or trusted root the
// kit carries for it under vex/<source>/trust/, checks that the signed
// statement's predicate is the document carried for it, and that each
// document naming an attestation names the signer that verified. Any
// failure fails the import.
func (x VEXIndexer) Finish(ctx context.Context, kit IndexKit, _ *IndexWriter) error {
	verified := map[string]verifiedAttestation{}
	byPath := map[string]verify.Target{}
	for _, t := range kit.Targets {
		byPath[t.Path] = t
	}
	for _, t := range kit.Targets {
		rest, ok := strings.CutPrefix(t.Path, "vex/")
		source, name, _ := strings.Cut(rest, "/attestations/")
		if !ok || source == "" || strings.Contains(source, "/") || name == "" || strings.Contains(name, "/") || path.Ext(name) != ".json" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		va, err := x.verifyRecord(ctx, kit.Files, byPath, source, t)
		if err != nil {
			return &IndexError{Indexer: vexIndex, Path: t.Path, Err: fmt.Errorf("attestation does not re-verify: %w", err)}
		}
		verified[t.Path] = va
	}
	for _, t := range kit.Targets {
		if bundleType(t.Path) != "vex" || len(t.Custom) == 0 {
			continue
		}
		att, err := parseCustom(t.Custom)
		if err != nil {
			return &IndexError{Indexer: vexIndex, Path: t.Path, Err: err}
		}
		if att.Attestation == "" {
			continue
		}
		va, ok := verified[att.Attestation]
		switch {
		case !ok:
			return &IndexError{Indexer: vexIndex, Path: t.Path, Err: fmt.Errorf("names attestation %s, which the kit does not carry", att.Attestation)}
		case va.predicate != t.Path:
			return &IndexError{Indexer: vexIndex, Path: t.Path, Err: fmt.Errorf("names attestation %s, whose predicate is %s", att.Attestation, va.predicate)}
		case att.Signer != va.signer || att.SignerIssuer != va.signerIssuer:
			return &IndexError{Indexer: vexIndex, Path: t.Path, Err: fmt.Errorf("claims signer %q (issuer %q), but attestation %s verified as %q (issuer %q)",
				att.Signer, att.SignerIssuer, att.Attestation, va.signer, va.signerIssuer)}
		}
	}
	return nil
}

func bundleType(p string) string {
	top, _, _ := strings.Cut(p, "/")
	return top
}

func (x VEXIndexer) verifyRecord(ctx context.Context, files fs.FS, byPath map[string]verify.Target, source string, t verify.Target) (verifiedAttestation, error) {
	var va verifiedAttestation
	data, err := readKitFile(files, t.Path, maxAttestationRecord)
	if err != nil {
		return va, err
	}
	var rec attestationRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return va, fmt.Errorf("not an attestation record: %w", err)
	}
	if rec.Schema != format.AttestationSchema {
		return va, fmt.Errorf("schema %q, want %q", rec.Schema, format.AttestationSchema)
	}
	trustDir := "vex/" + source + "/trust/"
	var trustPath string
	switch rec.Verified.Mode {
	case "key":
		trustPath = rec.Verified.Key
	case "keyless":
		trustPath = rec.Verified.TrustedRoot
		if rec.Verified.Identity == "" || rec.Verified.Issuer == "" {
			return va, errors.New("keyless, but the record names no identity and issuer")
		}
	default:
		return va, fmt.Errorf("verification mode %q", rec.Verified.Mode)
	}
	if !strings.HasPrefix(trustPath, trustDir) {
		return va, fmt.Errorf("trust material %q is not the source's (%s)", trustPath, trustDir)
	}
	if _, ok := byPath[trustPath]; !ok {
		return va, fmt.Errorf("trust material %s is not carried", trustPath)
	}
	trust, err := readKitFile(files, trustPath, maxTrustMaterial)
	if err != nil {
		return va, err
	}
	if x.Attestations == nil {
		return va, ErrNoAttestationVerifier
	}
	signer, err := x.Attestations.VerifyAttestation(ctx, data, trust)
	if err != nil {
		return va, fmt.Errorf("against %s: %w", trustPath, err)
	}
	if rec.Verified.Mode == "key" {
		block, _ := pem.Decode(trust)
		if block == nil {
			return va, fmt.Errorf("%s: not PEM", trustPath)
		}
		if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
			return va, fmt.Errorf("%s: %w", trustPath, err)
		}
		sum := sha256.Sum256(block.Bytes)
		va.signer = "key sha256:" + hex.EncodeToString(sum[:])
	} else {
		if signer.Identity != rec.Verified.Identity || signer.Issuer != rec.Verified.Issuer {
			return va, fmt.Errorf("verified as %q (issuer %q), the record claims %q (issuer %q)",
				signer.Identity, signer.Issuer, rec.Verified.Identity, rec.Verified.Issuer)
		}
		va.signer, va.signerIssuer = signer.Identity, signer.Issuer
	}
	// The predicate: the signed statement's, byte-exact, is the document
	// carried beside it.
	pred, err := signedPredicate(rec.Envelope)
	if err != nil {
		return va, err
	}
	sum := sha256.Sum256(pred)
	got := hex.EncodeToString(sum[:])
	if rec.PredicateDigest != "sha256:"+got {
		return va, fmt.Errorf("the signed predicate is sha256:%s, the record says %s", got, rec.PredicateDigest)
	}
	if rec.Predicate != "vex/"+source+"/"+got+".json" {
		return va, fmt.Errorf("predicate path %q is not vex/%s/%s.json", rec.Predicate, source, got)
	}
	if doc, ok := byPath[rec.Predicate]; !ok || doc.SHA256 != got {
		return va, fmt.Errorf("the predicate document %s is not carried as signed", rec.Predicate)
	}
	va.predicate = rec.Predicate
	return va, nil
}

// signedPredicate returns the predicate of the in-toto statement in a DSSE
// envelope, as it sits in the payload. Call it only for a verified
// envelope.
func signedPredicate(envelope []byte) ([]byte, error) {
	var env struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("envelope payload: %w", err)
	}
	var st struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil || len(st.Predicate) == 0 {
		return nil, fmt.Errorf("envelope payload is not an in-toto statement with a predicate")
	}
	return bytes.Clone(st.Predicate), nil
}

// readKitFile reads a small kit file, refusing more than max bytes.
func readKitFile(files fs.FS, name string, max int64) ([]byte, error) {
	f, err := files.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, max)
	}
	return data, nil
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
