package verify

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
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/ferry-dev/ferry/format"
)

// The carried trust check: the trust material a kit carries for the site
// (TUF repositories of trust sources, OCI VEX attestations with the key or
// Sigstore trusted root they were verified with on the connected side) is
// re-verified offline, as part of verifying the kit. ferry verify and
// ferry import run the same check (Kit, after the content pass), so a kit
// that verifies imports; the store only records the results (Carried).

// ErrNoAttestationVerifier is returned by Kit and CheckCarried when a kit
// carries attestations and no AttestationVerifier was given to re-verify
// them with: the check fails rather than trust them unchecked.
var ErrNoAttestationVerifier = errors.New("no attestation verifier: carried attestations cannot be re-verified (verify.Options.Attestations)")

// An AttestationVerifier re-verifies one carried attestation record
// offline. Package verify cannot do it itself: sigstore-go links net/http,
// which verify may not (internal/depcheck). internal/attestverify is the
// implementation, backed by images; the CLI wires it in.
type AttestationVerifier interface {
	// VerifyAttestation verifies record (an images.AttestationRecord as
	// carried) against trust, the material the kit carried next to it: a
	// PEM public key when the record's mode is "key", a Sigstore
	// trusted_root.json when it is "keyless" (required identity and issuer
	// are the record's). It returns the verified signer: for keyless the
	// certificate's identity and issuer, for a key nothing (the key is
	// named by its digest). It must not open a network connection and must
	// be safe for concurrent use.
	VerifyAttestation(ctx context.Context, record, trust []byte) (AttestationSigner, error)
}

// AttestationSigner is who an attestation verified as.
type AttestationSigner struct {
	Identity string
	Issuer   string
}

// TUF repository states at the reference time of a check.
const (
	TUFStateFresh   = "fresh"
	TUFStateExpired = "expired"
)

// TUFStatus is the outcome of re-verifying one carried TUF repository.
type TUFStatus struct {
	// Repository is the repository's folder in the kit (trust/sigstore).
	Repository string `json:"repository"`
	Channel    string `json:"channel,omitempty"`
	// Roots are the root versions followed, the pinned one first.
	Roots            []int64     `json:"roots"`
	TimestampVersion int64       `json:"timestampVersion"`
	SnapshotVersion  int64       `json:"snapshotVersion"`
	TargetsVersion   int64       `json:"targetsVersion"`
	Targets          []TUFTarget `json:"targets"`
	// VerifiedAt is the kit's creation time, at which everything
	// verified, expiry included.
	VerifiedAt time.Time `json:"verifiedAt"`
	// CheckedAt is the reference time of the check (--at); State is
	// TUFStateFresh or TUFStateExpired at it, Expired the roles expired then.
	CheckedAt time.Time    `json:"checkedAt"`
	State     string       `json:"state"`
	Expired   []TUFFailure `json:"expired,omitempty"`
	// Expires is the earliest expiry of the final root, timestamp,
	// snapshot and targets.
	Expires time.Time `json:"expires"`
}

// String says the state at the check: "fresh until …" or which role expired.
func (s TUFStatus) String() string {
	if s.State == TUFStateFresh {
		return "fresh until " + s.Expires.UTC().Format(time.RFC3339)
	}
	var parts []string
	for _, f := range s.Expired {
		parts = append(parts, f.Entry+" "+f.Message)
	}
	if len(parts) == 0 {
		return "expired at " + s.Expires.UTC().Format(time.RFC3339)
	}
	return strings.Join(parts, "; ")
}

// VerifiedAttestation is a carried attestation record that re-verified.
type VerifiedAttestation struct {
	// Path is the record's path in the kit, Predicate that of the VEX
	// document it signs.
	Path      string `json:"path"`
	Predicate string `json:"predicate"`
	// Signer is the verified signer: "key sha256:<digest of the public
	// key>", or the certificate identity (with SignerIssuer) for keyless.
	Signer       string `json:"signer"`
	SignerIssuer string `json:"signerIssuer,omitempty"`
}

// Carried is what the carried trust check verified, for the store to
// record.
type Carried struct {
	TUF          []TUFStatus           `json:"tuf,omitempty"`
	Attestations []VerifiedAttestation `json:"attestations,omitempty"`
}

// CarriedOptions configures CheckCarried.
type CarriedOptions struct {
	// Created is the kit's creation time: carried TUF repositories must
	// verify at it, expiry included (what the connected side checked).
	Created time.Time
	// At is the reference time: expiry then is recorded in TUFStatus,
	// never a failure (what the site trusts is the kit's signature).
	At time.Time
	// Attestations re-verifies carried attestation records.
	Attestations AttestationVerifier
}

// Caps of what the carried trust check reads.
const (
	maxAttestationRecord = 64 << 20 // the envelope holds the predicate, base64
	maxTrustMaterial     = 4 << 20  // a public key or trusted_root.json
	// maxCarried caps the carried trust files Kit holds in memory for
	// the check; beyond it the kit fails with KIT_TOO_LARGE.
	maxCarried = 256 << 20
)

// CheckCarried re-verifies the trust material of a kit whose content
// verified: files holds its files by kit path, targets are its signed
// targets. Every TUF repository (a folder trust/<name>/ or vex/<name>/trust/
// holding metadata/N.root.json) must verify with TUFRepo from the oldest
// root it carries at opts.Created; every attestation record
// (vex/<source>/attestations/*.json) must verify against the key or trusted
// root carried for it under vex/<source>/trust/, sign the predicate
// document carried beside it, and each document naming an attestation must
// name the signer it verified as. It returns what verified and a failure
// per problem, each naming the entry; err is non-nil only for failures
// outside the kit (ErrNoAttestationVerifier, a cancelled context).
func CheckCarried(ctx context.Context, files fs.FS, targets []Target, opts CarriedOptions) (*Carried, []*bundle.Error, error) {
	c := &Carried{}
	var fails []*bundle.Error
	created, at := opts.Created, opts.At
	if created.IsZero() {
		created = at
	}
	for _, repo := range tufRepositories(targets) {
		st, fs, err := checkTUFRepo(ctx, files, repo, created, at)
		if err != nil {
			return nil, nil, err
		}
		if len(fs) > 0 {
			fails = append(fails, fs...)
			continue
		}
		c.TUF = append(c.TUF, *st)
	}
	atts, afails, err := checkAttestations(ctx, files, targets, opts.Attestations)
	if err != nil {
		return nil, nil, err
	}
	c.Attestations = atts
	fails = append(fails, afails...)
	return c, fails, nil
}

// tufRepositories lists the folders of carried TUF repositories, sorted.
func tufRepositories(targets []Target) []string {
	var out []string
	for _, t := range targets {
		dir, base, ok := cutLast(t.Path)
		if !ok || !strings.HasSuffix(base, ".root.json") {
			continue
		}
		repo, md, ok := cutLast(dir)
		if !ok || md != TUFMetadataDir {
			continue
		}
		parts := strings.Split(repo, "/")
		switch {
		case len(parts) == 2 && parts[0] == "trust",
			len(parts) == 3 && parts[0] == "vex" && parts[2] == "trust":
			out = append(out, repo)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func cutLast(p string) (dir, base string, ok bool) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", "", false
	}
	return p[:i], p[i+1:], true
}

// carriedFile reports whether the carried trust check reads the kit file
// p: a file of a carried TUF repository (repos), an attestation record, or
// a VEX source's trust material.
func carriedFile(p string, repos []string) bool {
	for _, r := range repos {
		if strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	if _, ok := attestationSource(p); ok {
		return true
	}
	rest, ok := strings.CutPrefix(p, "vex/")
	source, _, found := strings.Cut(rest, "/trust/")
	return ok && found && source != "" && !strings.Contains(source, "/")
}

// attestationSource returns the VEX source of an attestation record's path
// vex/<source>/attestations/<name>.json.
func attestationSource(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "vex/")
	source, name, _ := strings.Cut(rest, "/attestations/")
	if !ok || source == "" || strings.Contains(source, "/") || name == "" || strings.Contains(name, "/") || path.Ext(name) != ".json" {
		return "", false
	}
	return source, true
}

// tufKitCode maps a TUFRepo failure to the kit failure code it reports as.
func tufKitCode(c TUFCode) bundle.Code {
	switch c {
	case TUFSignature, TUFRootChain:
		return bundle.CodeSignatureInvalid
	case TUFExpired:
		return bundle.CodeExpired
	case TUFTargetMismatch:
		return bundle.CodeDigestMismatch
	}
	return bundle.CodeMalformed
}

func checkTUFRepo(ctx context.Context, files fs.FS, repo string, created, at time.Time) (*TUFStatus, []*bundle.Error, error) {
	sub, err := fs.Sub(files, repo)
	if err != nil {
		return nil, nil, err
	}
	rep, err := TUFRepo(ctx, sub, TUFRepoOptions{At: created})
	if err != nil {
		return nil, nil, err
	}
	if !rep.OK {
		var fails []*bundle.Error
		for _, f := range rep.Failures {
			entry := repo
			if f.Entry != "" {
				entry = repo + "/" + f.Entry
			}
			fails = append(fails, bundle.Errorf(tufKitCode(f.Code), entry, "carried TUF repository %s does not re-verify at the kit's creation %s: %s: %s",
				repo, created.UTC().Format(time.RFC3339), f.Code, f.Message))
		}
		return nil, fails, nil
	}
	st := &TUFStatus{Repository: repo, Roots: rep.Roots, TimestampVersion: rep.TimestampVersion,
		SnapshotVersion: rep.SnapshotVersion, TargetsVersion: rep.TargetsVersion, Targets: rep.Targets,
		VerifiedAt: created.UTC(), CheckedAt: created.UTC(), State: TUFStateFresh}
	if rep.Expires != nil {
		st.Expires = *rep.Expires
	}
	if at.IsZero() || at.Equal(created) {
		return st, nil, nil
	}
	// Again at the reference time: only expiry can differ, and it is
	// recorded, not a failure.
	now, err := TUFRepo(ctx, sub, TUFRepoOptions{At: at})
	if err != nil {
		return nil, nil, err
	}
	st.CheckedAt = at.UTC()
	for _, f := range now.Failures {
		if f.Code != TUFExpired {
			entry := repo
			if f.Entry != "" {
				entry = repo + "/" + f.Entry
			}
			return nil, []*bundle.Error{bundle.Errorf(tufKitCode(f.Code), entry, "carried TUF repository %s does not re-verify at %s: %s: %s",
				repo, at.UTC().Format(time.RFC3339), f.Code, f.Message)}, nil
		}
		st.State = TUFStateExpired
		st.Expired = append(st.Expired, f)
	}
	return st, nil, nil
}

// attestationRecord is the part of a carried record the check reads.
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

// targetCustom is what the check reads of a VEX document's custom object:
// the attestation that signs it and the signer it claims.
type targetCustom struct {
	Attestation  string `json:"attestation"`
	Signer       string `json:"signer"`
	SignerIssuer string `json:"signerIssuer"`
}

func checkAttestations(ctx context.Context, files fs.FS, targets []Target, av AttestationVerifier) ([]VerifiedAttestation, []*bundle.Error, error) {
	byPath := map[string]Target{}
	for _, t := range targets {
		byPath[t.Path] = t
	}
	var out []VerifiedAttestation
	var fails []*bundle.Error
	verified := map[string]VerifiedAttestation{}
	for _, t := range targets {
		source, ok := attestationSource(t.Path)
		if !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		va, err := verifyRecord(ctx, files, byPath, source, t, av)
		if errors.Is(err, ErrNoAttestationVerifier) {
			return nil, nil, err
		}
		if err != nil {
			fails = append(fails, bundle.Errorf(bundle.CodeSignatureInvalid, t.Path, "attestation does not re-verify: %v", err))
			continue
		}
		verified[t.Path] = va
		out = append(out, va)
	}
	for _, t := range targets {
		if top, _, _ := strings.Cut(t.Path, "/"); top != "vex" || len(t.Custom) == 0 {
			continue
		}
		var att targetCustom
		if err := json.Unmarshal(t.Custom, &att); err != nil {
			fails = append(fails, bundle.Errorf(bundle.CodeMalformed, t.Path, "the target's custom object: %v", err))
			continue
		}
		if att.Attestation == "" {
			continue
		}
		va, ok := verified[att.Attestation]
		switch {
		case !ok:
			fails = append(fails, bundle.Errorf(bundle.CodeSignatureInvalid, t.Path, "names attestation %s, which the kit does not carry verified", att.Attestation))
		case va.Predicate != t.Path:
			fails = append(fails, bundle.Errorf(bundle.CodeSignatureInvalid, t.Path, "names attestation %s, whose predicate is %s", att.Attestation, va.Predicate))
		case att.Signer != va.Signer || att.SignerIssuer != va.SignerIssuer:
			fails = append(fails, bundle.Errorf(bundle.CodeSignatureInvalid, t.Path, "claims signer %q (issuer %q), but attestation %s verified as %q (issuer %q)",
				att.Signer, att.SignerIssuer, att.Attestation, va.Signer, va.SignerIssuer))
		}
	}
	return out, fails, nil
}

func verifyRecord(ctx context.Context, files fs.FS, byPath map[string]Target, source string, t Target, av AttestationVerifier) (VerifiedAttestation, error) {
	va := VerifiedAttestation{Path: t.Path}
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
	if av == nil {
		return va, ErrNoAttestationVerifier
	}
	signer, err := av.VerifyAttestation(ctx, data, trust)
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
		va.Signer = "key sha256:" + hex.EncodeToString(sum[:])
	} else {
		if signer.Identity != rec.Verified.Identity || signer.Issuer != rec.Verified.Issuer {
			return va, fmt.Errorf("verified as %q (issuer %q), the record claims %q (issuer %q)",
				signer.Identity, signer.Issuer, rec.Verified.Identity, rec.Verified.Issuer)
		}
		va.Signer, va.SignerIssuer = signer.Identity, signer.Issuer
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
	va.Predicate = rec.Predicate
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

// carriedFiles holds the carried trust files Kit meets in the content
// pass, in memory (fstest.MapFS, a plain map that serves fs.FS with
// directories; it links nothing of package testing), up to maxCarried
// bytes in all: they are small (metadata, keys, trusted roots, records).
type carriedFiles struct {
	repos []string
	files fstest.MapFS
	size  int64
}

func newCarriedFiles(paths []string) *carriedFiles {
	targets := make([]Target, len(paths))
	for i, p := range paths {
		targets[i].Path = p
	}
	return &carriedFiles{repos: tufRepositories(targets), files: fstest.MapFS{}}
}

// wants reports whether the check reads the file at p.
func (c *carriedFiles) wants(p string) bool { return carriedFile(p, c.repos) }
