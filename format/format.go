package format

import "strings"

// Media types of a kit's files, as the custom object of their target in
// targets.json names them ("mediaType").
const (
	// MediaKit is kit.json, the kit's description and provenance.
	MediaKit = "application/vnd.ferry.kit.v1+json"
	// MediaOSVJSONL is advisories/<source>/osv.jsonl: one OSV record a line.
	MediaOSVJSONL = "application/vnd.ferry.osv+jsonl"
	// MediaKEV is the CISA Known Exploited Vulnerabilities catalog.
	MediaKEV = "application/vnd.cisa.kev+json"
	// MediaEPSS is a FIRST EPSS scores file (CSV, optionally gzipped).
	MediaEPSS = "text/csv; profile=epss"
	// MediaOpenVEX is an OpenVEX document.
	MediaOpenVEX = "application/openvex+json"
	// MediaCSAF is a CSAF 2.0 document (csaf_vex profile).
	MediaCSAF = "application/csaf+json"
	// MediaAttestation is a carried attestation record (AttestationSchema).
	MediaAttestation = "application/vnd.ferry.attestation+json"
	// MediaTrustedRoot is a Sigstore trusted_root.json.
	MediaTrustedRoot = "application/vnd.dev.sigstore.trustedroot+json"
	// MediaTUFMeta is a TUF metadata file of a carried TUF repository.
	MediaTUFMeta = "application/vnd.ferry.tuf-metadata+json"
	// MediaPublicKey is a PEM public key.
	MediaPublicKey = "application/x-pem-file"
	// MediaIssuers is trust/issuers.json, the VEX issuer trust levels.
	MediaIssuers = "application/vnd.ferry.issuers+json"
)

// AttestationSchema names the JSON schema of a carried attestation record:
// a cosign attestation with its verification material, kept outside an
// image layout (images.AttestationRecord writes it, the store re-verifies
// it).
const AttestationSchema = "ferry.dev/attestation/v1"

// Annotations on the descriptors of a kit's images/index.json. An image's
// descriptor carries AnnotationRefName (the reference as kit.yaml wrote it,
// a tag kept only as a label), AnnotationRepository and
// AnnotationResolvedDigest, and AnnotationPlatforms when only some
// platforms were mirrored. A signature, attestation, SBOM or referrer
// carries AnnotationRepository, AnnotationSubject (the digest it belongs
// to) and AnnotationKind, and a legacy cosign one AnnotationTag.
const (
	// AnnotationRefName is the OCI image layout's name of a descriptor.
	AnnotationRefName        = "org.opencontainers.image.ref.name"
	AnnotationRepository     = "dev.ferry.image.repository"
	AnnotationResolvedDigest = "dev.ferry.image.resolved-digest"
	AnnotationPlatforms      = "dev.ferry.image.platforms"
	AnnotationSubject        = "dev.ferry.attachment.subject"
	AnnotationKind           = "dev.ferry.attachment.kind"
	AnnotationTag            = "dev.ferry.attachment.tag"
)

// Attachment kinds: the values of AnnotationKind.
const (
	KindSignature   = "signature"   // cosign sha256-<hex>.sig
	KindAttestation = "attestation" // cosign sha256-<hex>.att
	KindSBOM        = "sbom"        // cosign sha256-<hex>.sbom
	KindReferrer    = "referrer"    // OCI 1.1 referrer (API or referrers tag)
)

// Cosign's tag suffixes for what it attaches to a digest, as in
// sha256-<hex>.sig (see CosignTag).
const (
	SuffixSignature   = ".sig"
	SuffixAttestation = ".att"
	SuffixSBOM        = ".sbom"
)

// CosignTag returns the tag under which cosign keeps what it attached to
// the digest algorithm:hex: "sha256-<hex>" followed by suffix (one of the
// Suffix constants).
func CosignTag(algorithm, hex, suffix string) string {
	return algorithm + "-" + hex + suffix
}

// Annotations of cosign's signature and attestation layers.
const (
	AnnotationCosignSignature   = "dev.cosignproject.cosign/signature"
	AnnotationCosignCertificate = "dev.sigstore.cosign/certificate"
	AnnotationCosignChain       = "dev.sigstore.cosign/chain"
	AnnotationCosignBundle      = "dev.sigstore.cosign/bundle"
	AnnotationCosignRFC3161     = "dev.sigstore.cosign/rfc3161timestamp"
	// AnnotationPredicateType is the predicate type on a cosign
	// attestation layer.
	AnnotationPredicateType = "predicateType"
	// AnnotationBundlePredicateType is the predicate type on a layer that
	// holds a Sigstore bundle (cosign's --new-bundle-format referrers).
	AnnotationBundlePredicateType = "dev.sigstore.bundle.predicateType"
)

// Media types of cosign's layers and of what they hold.
const (
	// MediaCosignSimpleSigning is the payload of a cosign signature.
	MediaCosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// MediaDSSE is a DSSE envelope: the layer of a cosign attestation.
	MediaDSSE = "application/vnd.dsse.envelope.v1+json"
	// MediaSigstoreBundle is a layer holding a Sigstore bundle.
	MediaSigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// MediaInToto is the DSSE payload type of an in-toto statement.
	MediaInToto = "application/vnd.in-toto+json"
	// MediaOCIArtifactManifest is the artifact manifest of the OCI 1.1
	// release candidates, which some registries still serve as referrers.
	MediaOCIArtifactManifest = "application/vnd.oci.artifact.manifest.v1+json"
)

// In-toto statement types (the statement's "_type").
const (
	InTotoStatementV01 = "https://in-toto.io/Statement/v0.1"
	InTotoStatementV1  = "https://in-toto.io/Statement/v1"
)

// IsInTotoStatement reports whether t is an in-toto statement type ferry
// reads.
func IsInTotoStatement(t string) bool {
	return t == InTotoStatementV01 || t == InTotoStatementV1
}

// Predicate types of OpenVEX attestations. cosign writes PredicateOpenVEX
// for `cosign attest --type openvex`; vexctl writes the versioned one.
const (
	PredicateOpenVEX     = "https://openvex.dev/ns"
	PredicateOpenVEXV020 = "https://openvex.dev/ns/v0.2.0"
)

// IsOpenVEXPredicate reports whether t is an OpenVEX predicate type:
// https://openvex.dev/ns, optionally followed by /v<version>.
func IsOpenVEXPredicate(t string) bool {
	t = strings.TrimSuffix(t, "/")
	rest, ok := strings.CutPrefix(t, PredicateOpenVEX)
	return ok && (rest == "" || strings.HasPrefix(rest, "/v"))
}
