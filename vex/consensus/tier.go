package consensus

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Tier is how far an issuer is trusted.
type Tier string

// The tiers, most trusted first. TierAnalysis holds statements a tool
// derived (Go symbol evidence); it ranks below every issuer.
const (
	TierSelf      Tier = "self"
	TierVendor    Tier = "vendor"
	TierDistro    Tier = "distro"
	TierCommunity Tier = "community"
	TierAnalysis  Tier = "analysis"
)

// Tiers lists the tiers, most trusted first.
var Tiers = []Tier{TierSelf, TierVendor, TierDistro, TierCommunity, TierAnalysis}

// Rank is the tier's position in Tiers (0 is the most trusted), or -1.
func (t Tier) Rank() int { return slices.Index(Tiers, t) }

// Issuer is one entry of the issuer list (trust/issuers.json or a local
// override): an issuer id as documents name it, its tier, and the signing
// identities that count as it. An issuer with Keys or Identities requires
// a signature: an unsigned statement naming it is dropped
// (ReasonSignatureRequired).
type Issuer struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Tier Tier   `json:"tier"`
	// Keys are the verified signers of key-signed attestations that count
	// as this issuer, as the store records them ("key sha256:<hex>" of the
	// public key's DER). A key the caller could not resolve stays a name
	// (it then matches nothing, but still makes a signature required).
	Keys []string `json:"keys,omitempty"`
	// Identities are keyless (Fulcio) identities.
	Identities []Identity `json:"identities,omitempty"`
}

// Identity is a keyless signing identity: the OIDC issuer and the
// certificate subject, exactly or as a regular expression.
type Identity struct {
	Issuer        string `json:"issuer"`
	Subject       string `json:"subject,omitempty"`
	SubjectRegexp string `json:"subjectRegexp,omitempty"`
}

// RequiresSignature reports whether the issuer names keys or identities.
func (i Issuer) RequiresSignature() bool { return len(i.Keys) > 0 || len(i.Identities) > 0 }

// Issuers is a validated issuer list.
type Issuers struct {
	byID   map[string]*issuer
	sorted []*issuer
}

type issuer struct {
	Issuer
	res []*regexp.Regexp // per identity; nil when exact
}

// NewIssuers validates list: ids unique and non-empty, tiers known (self,
// vendor, distro, community — analysis is for tools, not issuers),
// regular expressions compiling. It reports every problem.
func NewIssuers(list []Issuer) (*Issuers, error) {
	is := &Issuers{byID: map[string]*issuer{}}
	var errs []string
	for i, in := range list {
		switch {
		case in.ID == "":
			errs = append(errs, fmt.Sprintf("issuers[%d]: id is required", i))
			continue
		case is.byID[in.ID] != nil:
			errs = append(errs, fmt.Sprintf("issuers[%d]: id %q is listed twice", i, in.ID))
			continue
		case in.Tier.Rank() < 0 || in.Tier == TierAnalysis:
			errs = append(errs, fmt.Sprintf("issuers[%d] (%s): tier %q: want self, vendor, distro or community", i, in.ID, in.Tier))
			continue
		}
		x := &issuer{Issuer: in}
		for j, id := range in.Identities {
			var re *regexp.Regexp
			if id.SubjectRegexp != "" {
				r, err := regexp.Compile("^(?:" + id.SubjectRegexp + ")$")
				if err != nil {
					errs = append(errs, fmt.Sprintf("issuers[%d] (%s): identities[%d]: %v", i, in.ID, j, err))
				}
				re = r
			}
			x.res = append(x.res, re)
		}
		is.byID[in.ID] = x
		is.sorted = append(is.sorted, x)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrIssuers, strings.Join(errs, "; "))
	}
	slices.SortFunc(is.sorted, func(a, b *issuer) int { return cmp.Compare(a.ID, b.ID) })
	return is, nil
}

// List returns the issuers sorted by id.
func (is *Issuers) List() []Issuer {
	if is == nil {
		return nil
	}
	out := make([]Issuer, len(is.sorted))
	for i, x := range is.sorted {
		out[i] = x.Issuer
	}
	return out
}

// Override returns a list with the entries of over replacing those of the
// same id in is, the others kept.
func (is *Issuers) Override(over *Issuers) *Issuers {
	out := &Issuers{byID: map[string]*issuer{}}
	for _, src := range []*Issuers{is, over} {
		if src == nil {
			continue
		}
		for _, x := range src.sorted {
			out.byID[x.ID] = x
		}
	}
	for _, id := range sortedKeys(out.byID) {
		out.sorted = append(out.sorted, out.byID[id])
	}
	return out
}

// bySigner finds the listed issuer a verified signer counts as, in id
// order.
func (is *Issuers) bySigner(signer, oidcIssuer string) *issuer {
	if is == nil || signer == "" {
		return nil
	}
	for _, x := range is.sorted {
		if slices.Contains(x.Keys, signer) {
			return x
		}
		for i, id := range x.Identities {
			if id.Issuer != oidcIssuer {
				continue
			}
			if id.Subject != "" && id.Subject == signer || x.res[i] != nil && x.res[i].MatchString(signer) {
				return x
			}
		}
	}
	return nil
}

func (is *Issuers) get(id string) *issuer {
	if is == nil {
		return nil
	}
	return is.byID[id]
}
