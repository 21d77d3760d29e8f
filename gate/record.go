package gate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gowebpki/jcs"
)

// RecordSchema identifies the decision record format; it is also the
// in-toto predicate type of a signed record.
const RecordSchema = "https://ferry.dev/gate/decision/v1"

// The verdicts.
const (
	VerdictPass  = "pass"
	VerdictBlock = "block"
)

// The outcomes of one rule.
const (
	OutcomePass  = "pass"
	OutcomeBlock = "block"
	// OutcomeOff is a rule the policy does not switch on.
	OutcomeOff = "off"
)

// Record is a decision: what was decided, on which inputs, and why. Its
// canonical JSON (Marshal) is what is hashed, signed and replayed.
type Record struct {
	Schema   string           `json:"schema"`
	Inputs   Inputs           `json:"inputs"`
	Verdict  string           `json:"verdict"`
	Reasons  []string         `json:"reasons"`
	Rules    []RuleOutcome    `json:"rules"`
	Findings []FindingOutcome `json:"findings"`
	Waivers  []WaiverOutcome  `json:"waivers"`
	// NotEvaluated lists what the scan could not decide (a GIT range, an
	// unparseable version), for the auditor.
	NotEvaluated []string `json:"notEvaluated"`
}

// Inputs are everything the verdict depends on.
type Inputs struct {
	Subject Subject `json:"subject"`
	// Channels are the kits the store had active, per channel.
	Channels     []Channel `json:"channels"`
	Policy       PolicyRef `json:"policy"`
	Environment  string    `json:"environment"`
	Rules        Rules     `json:"rules"`
	FerryVersion string    `json:"ferryVersion"`
	EvaluatedAt  time.Time `json:"evaluatedAt"`
	// Consensus names the VEX consensus algorithm the findings carry.
	Consensus string `json:"consensus"`
	// LocalVEX and Issuers are the site's own inputs to the consensus:
	// its OpenVEX statements (--vex DIR) and its issuer tiers (--issuers
	// FILE), as paths and content digests.
	LocalVEX *LocalFiles `json:"localVex,omitempty"`
	Issuers  *LocalFiles `json:"issuers,omitempty"`
}

// LocalFiles are files of the site that a decision read: the path as
// given and the sha256 of each file, sorted.
type LocalFiles struct {
	Path    string   `json:"path"`
	Digests []string `json:"digests"`
}

// Subject is what was gated.
type Subject struct {
	// Ref is the target as given (sha256:…, oci:DIR, docker-archive:F).
	Ref string `json:"ref"`
	// Digest is "sha256:<hex>" of the image manifest (or of the file).
	Digest   string `json:"digest"`
	Platform string `json:"platform,omitempty"`
	Kind     string `json:"kind"`
}

// Channel is one channel's active kit in the store.
type Channel struct {
	Name          string    `json:"name"`
	Version       int64     `json:"version"`
	TargetsSHA256 string    `json:"targetsSha256"`
	Created       time.Time `json:"created"`
	// Kinds are the kinds of data the kit carried (advisories, enrich,
	// vex, images, …), sorted.
	Kinds []string `json:"kinds"`
	// DataTimes are when each kind's data was fetched, where the kit
	// says; else Created stands for it.
	DataTimes []DataTime `json:"dataTimes,omitempty"`
}

// DataTime is when one kind of data was fetched.
type DataTime struct {
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
}

// PolicyRef is the policy of a decision, embedded so that replay needs
// nothing else.
type PolicyRef struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Source string `json:"source"`
}

// RuleOutcome is one rule's result with its numbers.
type RuleOutcome struct {
	Rule    string `json:"rule"`
	Code    Code   `json:"code"`
	Outcome string `json:"outcome"`
	// Summary says it in words, with the numbers: "3 findings at or above
	// HIGH (affected, conflict, under_investigation or unknown); 0 allowed".
	Summary string `json:"summary"`
	Count   int    `json:"count"`
	// Limit is how many the rule allows, where it counts.
	Limit *int `json:"limit,omitempty"`
	// Findings are the keys of the findings that count against the rule.
	Findings []string `json:"findings,omitempty"`
	// Checks are the signature or attestation checks of the rule.
	Checks []Check `json:"checks,omitempty"`
	// Verification is set when the rule blocked because a required
	// signature or attestation is missing or bad (exit code 3).
	Verification bool `json:"verification,omitempty"`
}

// FindingOutcome is a finding as the gate judged it.
type FindingOutcome struct {
	Finding
	// Key names the finding in rule outcomes: "ID purl".
	Key string `json:"key"`
	// Effective is the status the rules used: the consensus status, or
	// unknown when the policy does not let tier-analysis VEX suppress.
	Effective string `json:"effective"`
	Waived    bool   `json:"waived"`
	// Waiver is the policy line of the waiver that applied or expired.
	Waiver int `json:"waiver,omitempty"`
	// Blocking names the rules the finding blocks under.
	Blocking []string `json:"blocking,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// The waiver statuses.
const (
	WaiverApplied = "applied"
	WaiverExpired = "expired"
	WaiverUnused  = "unused"
	// WaiverOtherEnvironment is a waiver for other environments only.
	WaiverOtherEnvironment = "other_environment"
)

// WaiverOutcome says what became of a waiver.
type WaiverOutcome struct {
	Waiver
	Status   string   `json:"status"`
	Findings []string `json:"findings,omitempty"`
}

// Marshal returns the record's canonical JSON (RFC 8785).
func (r *Record) Marshal() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding decision record: %w", err)
	}
	return jcs.Transform(b)
}

// ID returns the decision id: "sha256:<hex>" of the canonical JSON.
func ID(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseRecord reads a record written by Marshal. It refuses bytes that are
// not the record's canonical form (an edited record usually is not), with
// ErrRecordTampered, and records of another schema.
func ParseRecord(data []byte) (*Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: not a decision record: %v", ErrRecordTampered, err)
	}
	if r.Schema != RecordSchema {
		return nil, fmt.Errorf("%w: schema %q is not %s", ErrRecordTampered, r.Schema, RecordSchema)
	}
	canon, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, bytes.TrimSuffix(data, []byte("\n"))) {
		return nil, fmt.Errorf("%w: the bytes are not the record's canonical form (edited?)", ErrRecordTampered)
	}
	return &r, nil
}
