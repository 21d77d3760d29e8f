package kit

import (
	"fmt"
	"strings"
)

// SpecCode is a stable code for a kit.yaml mistake. Scripts depend on these
// strings: never rename one.
type SpecCode string

// The spec codes.
const (
	SpecInvalidYAML       SpecCode = "SPEC_INVALID_YAML"
	SpecUnknownField      SpecCode = "SPEC_UNKNOWN_FIELD"
	SpecUnknownSource     SpecCode = "SPEC_UNKNOWN_SOURCE"
	SpecMissingName       SpecCode = "SPEC_MISSING_NAME"
	SpecInvalidName       SpecCode = "SPEC_INVALID_NAME"
	SpecMissingChannel    SpecCode = "SPEC_MISSING_CHANNEL"
	SpecInvalidChannel    SpecCode = "SPEC_INVALID_CHANNEL"
	SpecMissingVersion    SpecCode = "SPEC_MISSING_VERSION"
	SpecInvalidVersion    SpecCode = "SPEC_INVALID_VERSION"
	SpecInvalidCreated    SpecCode = "SPEC_INVALID_CREATED"
	SpecInvalidExpires    SpecCode = "SPEC_INVALID_EXPIRES"
	SpecInvalidFreshness  SpecCode = "SPEC_INVALID_FRESHNESS"
	SpecMissingSrc        SpecCode = "SPEC_MISSING_SRC"
	SpecMissingDest       SpecCode = "SPEC_MISSING_DEST"
	SpecInvalidDest       SpecCode = "SPEC_INVALID_DEST"
	SpecReservedPath      SpecCode = "SPEC_RESERVED_PATH"
	SpecSourceNotFound    SpecCode = "SPEC_SOURCE_NOT_FOUND"
	SpecUnsupportedFile   SpecCode = "SPEC_UNSUPPORTED_FILE_TYPE"
	SpecDuplicatePath     SpecCode = "SPEC_DUPLICATE_PATH"
	SpecPrivateKeyGiven   SpecCode = "SPEC_PRIVATE_KEY_GIVEN"
	SpecOutsideSpecDir    SpecCode = "SPEC_OUTSIDE_SPEC_DIR"
	SpecMissingSourceKind SpecCode = "SPEC_MISSING_SOURCE_KIND"
	SpecInvalidURL        SpecCode = "SPEC_INVALID_URL"
	SpecInsecureURL       SpecCode = "SPEC_INSECURE_URL"

	// Images and registries (images.go).
	SpecInvalidImageReference SpecCode = "SPEC_INVALID_IMAGE_REFERENCE"
	SpecHTTPRegistryBlocked   SpecCode = "SPEC_HTTP_REGISTRY_BLOCKED"
	SpecUnknownPlatform       SpecCode = "SPEC_UNKNOWN_PLATFORM"
	SpecInvalidRegistry       SpecCode = "SPEC_INVALID_REGISTRY"
)

// SpecError is one mistake in a kit spec.
type SpecError struct {
	File  string   // the spec file
	Line  int      // 1-based line, 0 if unknown
	Field string   // e.g. "files[0].dest"
	Code  SpecCode // stable code
	Msg   string
}

func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %s: %s", e.Code, e.Msg)
	return b.String()
}

// SpecErrors is every mistake found in a spec, in file order.
type SpecErrors []*SpecError

func (es SpecErrors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems in the kit spec:", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Codes returns the codes of es, in order.
func (es SpecErrors) Codes() []SpecCode {
	out := make([]SpecCode, len(es))
	for i, e := range es {
		out[i] = e.Code
	}
	return out
}

// Spec codes of trust sources (trust_sources.go).
const (
	SpecMissingTUFRoot    SpecCode = "SPEC_MISSING_TUF_ROOT"
	SpecInvalidTUFRoot    SpecCode = "SPEC_INVALID_TUF_ROOT"
	SpecMissingTUFTargets SpecCode = "SPEC_MISSING_TUF_TARGETS"
	SpecInvalidTUFTarget  SpecCode = "SPEC_INVALID_TUF_TARGET"
	SpecInvalidKey        SpecCode = "SPEC_INVALID_KEY"
	SpecInvalidIssuers    SpecCode = "SPEC_INVALID_ISSUERS"
)

// Spec codes of OCI VEX attestation sources (vex_oci.go). SPEC_INVALID_IMAGE_REFERENCE,
// SPEC_HTTP_REGISTRY_BLOCKED and SPEC_MISSING_TUF_ROOT are shared with images and trust.
const (
	SpecMissingImageSubscriptions SpecCode = "SPEC_MISSING_IMAGE_SUBSCRIPTIONS"
	SpecMissingCosignKey          SpecCode = "SPEC_MISSING_COSIGN_KEY"
	SpecMissingCosignIssuer       SpecCode = "SPEC_MISSING_COSIGN_ISSUER"
	SpecMissingCosignSubject      SpecCode = "SPEC_MISSING_COSIGN_SUBJECT"
	SpecInvalidCosignMode         SpecCode = "SPEC_INVALID_COSIGN_MODE"
	SpecInvalidTrustedRoot        SpecCode = "SPEC_INVALID_TRUSTED_ROOT"
)
