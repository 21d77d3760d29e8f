package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bundle"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// expiresOf is the signed expiry of TUF metadata, or "" when data has
// none that parses.
func expiresOf(data []byte) string {
	var m struct {
		Signed struct {
			Expires time.Time `json:"expires"`
		} `json:"signed"`
	}
	if json.Unmarshal(data, &m) != nil || m.Signed.Expires.IsZero() {
		return ""
	}
	return m.Signed.Expires.UTC().Format(time.RFC3339)
}

// tufFail maps an error of go-tuf's trustedmetadata to a failure code.
// delegator is the root that should have signed data for role.
func (v *verifier) tufFail(entry string, err error, delegator *metadata.Metadata[metadata.RootType], role string, data []byte) {
	hasState := v.trust.Timestamp != nil
	switch {
	case errors.Is(err, &metadata.ErrExpiredMetadata{}):
		expired, need := "", "a newer kit of the channel is needed"
		if strings.Contains(err.Error(), "root") && delegator != nil {
			entry = bundle.RootPath(delegator.Signed.Version)
			expired, need = delegator.Signed.Expires.UTC().Format(time.RFC3339), "the channel's root must be renewed with ferry trust rotate"
		} else if e := expiresOf(data); e != "" {
			expired = e
		}
		if expired != "" {
			v.fail(bundle.CodeExpired, entry, "expired at %s (checked at %s; %s): %v", expired, v.opts.At.UTC().Format(time.RFC3339), need, err)
			return
		}
		v.fail(bundle.CodeExpired, entry, "expired (checked at %s): %v", v.opts.At.UTC().Format(time.RFC3339), err)
	case errors.Is(err, &metadata.ErrBadVersionNumber{}):
		if hasState {
			v.fail(bundle.CodeRollback, entry, "older than the trusted state of the channel: %v", err)
		} else {
			v.fail(bundle.CodeMalformed, entry, "version does not match the metadata that lists it: %v", err)
		}
	case errors.Is(err, &metadata.ErrLengthOrHashMismatch{}):
		v.fail(bundle.CodeDigestMismatch, entry, "does not match the length and sha256 that signed metadata gives for it: %v", err)
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		code, msg := classifySignatures(delegator, role, data)
		v.fail(code, entry, "%s", msg)
	default:
		v.fail(bundle.CodeMalformed, entry, "%v", err)
	}
}

// classifySignatures tells a bad signature from too few signatures, after
// go-tuf found that data is not signed by the threshold of role's keys.
func classifySignatures(root *metadata.Metadata[metadata.RootType], role string, data []byte) (bundle.Code, string) {
	var env struct {
		Signatures []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(data, &env); err != nil || root == nil {
		return bundle.CodeSignatureInvalid, "signature check failed"
	}
	r := root.Signed.Roles[role]
	if r == nil {
		return bundle.CodeSignatureInvalid, fmt.Sprintf("the root defines no %s role", role)
	}
	var listed, unknown []string
	for _, s := range env.Signatures {
		if s.Sig == "" {
			continue
		}
		if slices.Contains(r.KeyIDs, s.KeyID) {
			listed = append(listed, s.KeyID)
		} else {
			unknown = append(unknown, s.KeyID)
		}
	}
	switch {
	case len(listed) >= r.Threshold:
		return bundle.CodeSignatureInvalid, fmt.Sprintf("a %s signature does not verify (%d present from trusted keys, threshold %d)", role, len(listed), r.Threshold)
	case len(listed) == 0 && len(unknown) > 0:
		return bundle.CodeSignatureInvalid, fmt.Sprintf("signed only by keys the root does not list for %s: %s", role, strings.Join(short(unknown), ", "))
	}
	return bundle.CodeThresholdNotMet, fmt.Sprintf("%d valid %s signature(s) from trusted keys, the root requires %d", countValid(root, role, data), role, r.Threshold)
}

func countValid(root *metadata.Metadata[metadata.RootType], role string, data []byte) int {
	var ids []string
	switch role {
	case metadata.ROOT:
		if m, err := metadata.Root().FromBytes(data); err == nil {
			ids = validSigners(root, role, m)
		}
	case metadata.TIMESTAMP:
		if m, err := metadata.Timestamp().FromBytes(data); err == nil {
			ids = validSigners(root, role, m)
		}
	case metadata.SNAPSHOT:
		if m, err := metadata.Snapshot().FromBytes(data); err == nil {
			ids = validSigners(root, role, m)
		}
	case metadata.TARGETS:
		if m, err := metadata.Targets().FromBytes(data); err == nil {
			ids = validSigners(root, role, m)
		}
	}
	return len(ids)
}

// validSigners returns the ids of role's keys whose signature on m verifies,
// sorted. Each key is checked alone, with go-tuf's VerifyDelegate.
func validSigners[T metadata.Roles](root *metadata.Metadata[metadata.RootType], role string, m *metadata.Metadata[T]) []string {
	r := root.Signed.Roles[role]
	if r == nil {
		return nil
	}
	var ids []string
	for _, sig := range m.Signatures {
		if !slices.Contains(r.KeyIDs, sig.KeyID) || slices.Contains(ids, sig.KeyID) {
			continue
		}
		one := *root
		one.Signed.Roles = map[string]*metadata.Role{role: {KeyIDs: []string{sig.KeyID}, Threshold: 1}}
		if one.VerifyDelegate(role, m) == nil {
			ids = append(ids, sig.KeyID)
		}
	}
	slices.Sort(ids)
	return ids
}

func short(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if len(id) > 16 {
			id = id[:16]
		}
		out[i] = id
	}
	return out
}
