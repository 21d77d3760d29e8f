package gatesite

import (
	"cmp"
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/gate"
	"github.com/ferry-dev/ferry/images"
	"github.com/ferry-dev/ferry/keys"
	"github.com/ferry-dev/ferry/scan"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/storescan"
	"github.com/ferry-dev/ferry/vex/consensus"
	"github.com/ferry-dev/ferry/vexsite"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Options say how to decide.
type Options struct {
	// Environment picks the policy's environment ("" for the default).
	Environment string
	// At is the evaluation time. Required.
	At time.Time
	// FerryVersion is recorded in the decision.
	FerryVersion string
	// VEXDir is the site's own OpenVEX statements (issuer local, tier
	// self); "" for none.
	VEXDir string
	// IssuersFile overrides the kits' issuer tiers; "" for none.
	IssuersFile string

	// parsed shares parsed advisory records between the decisions of a
	// release.
	parsed *storescan.Parsed
}

// Decide gates target (sha256:… of an image in the store, oci:DIR,
// docker-archive:FILE, sbom:FILE, dir:DIR) under pol. A decision to block
// is a record with verdict block, not an error; errors are for what could
// not be read.
func Decide(ctx context.Context, st *store.Store, target string, pol *gate.Policy, o Options) (*gate.Record, error) {
	if o.At.IsZero() {
		return nil, errors.New("gatesite: no evaluation time")
	}
	rules, err := pol.For(o.Environment)
	if err != nil {
		return nil, err
	}
	localVEX, issuers, err := localFiles(o)
	if err != nil {
		return nil, err
	}
	var channels []gate.Channel
	then := func(r *store.Reader, rep *scan.Report) error {
		info, err := r.Info(o.At)
		if err != nil {
			return err
		}
		channels = gateChannels(info)
		return vexsite.ApplyToScan(ctx, r, rep, vexsite.Options{LocalDir: o.VEXDir, IssuersFile: o.IssuersFile, At: o.At, Analysis: vexsite.SymbolStatements(rep)})
	}
	rep, err := storescan.ScanShared(ctx, st, target, scan.Options{Time: o.At, Tool: "ferry " + o.FerryVersion, Evidence: true}, o.parsed, then)
	if err != nil {
		return nil, err
	}
	in := gate.Input{
		Subject:      gate.Subject{Ref: target, Digest: rep.Target.Digest, Kind: rep.Target.Kind},
		Channels:     channels,
		Policy:       pol,
		Environment:  o.Environment,
		At:           o.At,
		FerryVersion: o.FerryVersion,
		Consensus:    consensus.Algorithm,
		LocalVEX:     localVEX,
		Issuers:      issuers,
		Findings:     findings(rep),
	}
	in.NoAdvisoryData = slices.Clone(rep.Summary.NoAdvisoryData)
	for _, ne := range rep.NotEvaluated {
		in.NotEvaluated = append(in.NotEvaluated, notEvaluated(ne))
	}
	if len(rules.Signatures)+len(rules.Attestations) > 0 {
		in.SignatureChecks, in.AttestationChecks, err = checks(ctx, st, rep.Target, rules)
		if err != nil {
			return nil, err
		}
	}
	return gate.Evaluate(in)
}

func gateChannels(info *store.Info) []gate.Channel {
	out := make([]gate.Channel, 0, len(info.Channels))
	for _, c := range info.Channels {
		gc := gate.Channel{Name: c.Channel, Version: c.Version, TargetsSHA256: c.TargetsSHA256, Created: c.Created}
		for _, t := range c.Types {
			if t.Files == 0 {
				continue
			}
			gc.Kinds = append(gc.Kinds, t.Type)
			if !t.DataTime.IsZero() {
				gc.DataTimes = append(gc.DataTimes, gate.DataTime{Kind: t.Type, Time: t.DataTime})
			}
		}
		out = append(out, gc)
	}
	return out
}

func findings(rep *scan.Report) []gate.Finding {
	out := make([]gate.Finding, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		g := gate.Finding{
			ID: f.ID, IDs: slices.Clone(f.IDs), Severity: f.Severity.Rating, KEV: f.KEV, Fixed: f.Fixed,
			Package: gate.Package{Name: f.Package.Name, Version: f.Package.Version, Ecosystem: f.Package.Ecosystem, PURL: f.Package.PURL},
		}
		if f.Evidence != nil {
			g.Evidence = f.Evidence.Level
		}
		if f.EPSS != nil {
			p := f.EPSS.Score
			g.EPSS = &p
		}
		if v := f.VEX; v != nil {
			g.Consensus = gate.Consensus{Status: v.Status, Resolution: v.Resolution, Justification: v.Justification,
				Issuer: v.Issuer, Tier: v.Tier, Document: v.Document}
		} else {
			g.Consensus = gate.Consensus{Status: gate.StatusUnknown}
		}
		out = append(out, g)
	}
	return out
}

func notEvaluated(ne scan.NotEvaluated) string {
	p := ne.Package
	s := fmt.Sprintf("%s/%s@%s", p.Ecosystem, p.Name, p.Version)
	if ne.Advisory != "" {
		s = ne.Advisory + " " + s
	}
	return s + ": " + ne.Reason
}

// checks verifies every required signature and attestation of the subject
// offline, with what `ferry images verify` uses: the cosign signatures and
// attestations the kits carried, against a key or the Sigstore trusted
// root a kit carried. Only images in the store carry them.
func checks(ctx context.Context, st *store.Store, t scan.TargetInfo, rules gate.Rules) ([]gate.Check, []gate.Check, error) {
	sigs := make([]gate.Check, len(rules.Signatures))
	atts := make([]gate.Check, len(rules.Attestations))
	for i, r := range rules.Signatures {
		sigs[i] = gate.Check{Requirement: r.Identity.String()}
	}
	for i, r := range rules.Attestations {
		atts[i] = gate.Check{Requirement: r.Identity.String(), PredicateType: r.PredicateType}
	}
	fail := func(why string) ([]gate.Check, []gate.Check, error) {
		for i := range sigs {
			sigs[i].Detail = why
		}
		for i := range atts {
			atts[i].Detail = why
		}
		return sigs, atts, nil
	}
	if t.Kind != "image" || t.Digest == "" {
		return fail("the subject is not an image in the store: its signatures were not carried by a kit")
	}
	im, err := st.ResolveImage(ctx, t.Digest)
	if errors.Is(err, store.ErrImageNotFound) {
		return fail("image " + t.Digest + " is not in the store")
	}
	if err != nil {
		return nil, nil, err
	}
	h, err := v1.NewHash(im.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("image %s in the store: %w", im.Digest, err)
	}
	var attachments []images.Attachment
	for _, a := range im.Attachments {
		att, err := images.ParseAttachment(a.Kind, a.Digest, a.Subject)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s in the store: %w", im.Digest, err)
		}
		attachments = append(attachments, att)
	}
	var root []byte
	verifyWith := func(id gate.Identity) (*images.VerifyResult, string) {
		o := images.VerifyOptions{Identity: id.Identity, Issuer: id.Issuer}
		if id.KeyPath != "" {
			pub, err := loadPublic(id.KeyPath)
			if err != nil {
				return nil, err.Error()
			}
			o.Key = pub
		} else {
			if root == nil {
				if root, err = st.SigstoreTrustedRoot(ctx); err != nil {
					return nil, "no Sigstore trusted root to check a keyless signer: " + err.Error()
				}
			}
			o.TrustedRoot = root
		}
		res, err := images.Verify(ctx, st, h, attachments, o)
		if res == nil {
			return nil, err.Error()
		}
		return res, ""
	}
	for i, r := range rules.Signatures {
		res, why := verifyWith(r.Identity)
		switch {
		case res == nil:
			sigs[i].Detail = why
		case res.Verified:
			sigs[i].Verified = true
			sigs[i].Detail = signer(res.Signatures, "")
		default:
			sigs[i].Detail = failure(res.Signatures, "signature")
		}
	}
	for i, r := range rules.Attestations {
		res, why := verifyWith(r.Identity)
		if res == nil {
			atts[i].Detail = why
			continue
		}
		if s := signer(res.Attestations, r.PredicateType); s != "" {
			atts[i].Verified = true
			atts[i].Detail = s
			continue
		}
		var ofType []images.SignatureRes
		for _, a := range res.Attestations {
			if a.PredicateType == r.PredicateType {
				ofType = append(ofType, a)
			}
		}
		atts[i].Detail = failure(ofType, "attestation of predicate type "+r.PredicateType)
	}
	return sigs, atts, nil
}

// signer names the first valid signature (of predicateType, if given), ""
// when none is valid.
func signer(rs []images.SignatureRes, predicateType string) string {
	for _, r := range sortedRes(rs) {
		if !r.OK || (predicateType != "" && r.PredicateType != predicateType) {
			continue
		}
		if r.Identity != "" {
			return "verified: " + r.Identity + " (" + r.Issuer + ") on " + r.Subject
		}
		return "verified on " + r.Subject
	}
	return ""
}

func failure(rs []images.SignatureRes, what string) string {
	if len(rs) == 0 {
		return "no " + what + " carried for the image"
	}
	var why []string
	for _, r := range sortedRes(rs) {
		why = append(why, r.Error)
	}
	slices.Sort(why)
	return fmt.Sprintf("%d %s(s), none valid: %s", len(rs), what, strings.Join(slices.Compact(why), "; "))
}

func sortedRes(rs []images.SignatureRes) []images.SignatureRes {
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b images.SignatureRes) int {
		return cmp.Or(strings.Compare(a.Manifest, b.Manifest), cmp.Compare(a.Layer, b.Layer))
	})
	return out
}

func loadPublic(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy key %s: %w", filepath.Base(path), err)
	}
	return keys.ParsePublic(path, data)
}
