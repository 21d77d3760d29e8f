package store

import (
	"encoding/json"
	"fmt"
)

// targetCustom is what the store reads of a target's custom object (the
// signed metadata package kit writes beside each file's digest): its media
// type and, for the predicate document of a VEX attestation, the
// attestation and the signer it verified as. Other fields are left alone.
type targetCustom struct {
	MediaType    string `json:"mediaType"`
	Attestation  string `json:"attestation"`
	Signer       string `json:"signer"`
	SignerIssuer string `json:"signerIssuer"`
}

// parseCustom reads a target's custom object. An object whose fields do
// not have the types above is an error, never a zero value: encoding/json
// fills the fields it can before it reports the one it cannot, so a
// malformed attestation beside a well-formed signer would otherwise record
// a signer nobody verified.
func parseCustom(raw json.RawMessage) (targetCustom, error) {
	var c targetCustom
	if len(raw) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return targetCustom{}, fmt.Errorf("the target's custom object: %w", err)
	}
	return c, nil
}
