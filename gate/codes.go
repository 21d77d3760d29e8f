package gate

// Code is the stable code of a gate rule. Scripts and dashboards depend on
// these strings: never rename one.
type Code string

// The rule codes, in the order the rules are evaluated.
const (
	// CodeNoAdvisoryData: the image holds packages of an ecosystem for
	// which the store has no advisories, so nothing was checked (fail
	// closed).
	CodeNoAdvisoryData Code = "GATE_NO_ADVISORY_DATA"
	// CodeSeverity: findings at or above the policy's severity whose
	// consensus is affected, under_investigation, conflict or unknown.
	CodeSeverity Code = "GATE_SEVERITY"
	// CodeKEV: findings in CISA's Known Exploited Vulnerabilities catalog.
	CodeKEV Code = "GATE_KEV"
	// CodeEPSS: findings whose EPSS probability is at or above the policy's.
	CodeEPSS Code = "GATE_EPSS"
	// CodeUnknowns: more findings with consensus unknown than the budget.
	CodeUnknowns Code = "GATE_UNKNOWNS"
	// CodeSignature: a required image signature is missing or bad.
	CodeSignature Code = "GATE_SIGNATURE"
	// CodeAttestation: a required attestation is missing or bad.
	CodeAttestation Code = "GATE_ATTESTATION"
	// CodeDataAge: the site's advisory, VEX, KEV or EPSS data is older than
	// the policy allows, or absent.
	CodeDataAge Code = "GATE_DATA_AGE"
)

// Codes lists every rule code in evaluation order.
var Codes = []Code{CodeNoAdvisoryData, CodeSeverity, CodeKEV, CodeEPSS, CodeUnknowns, CodeSignature, CodeAttestation, CodeDataAge}
