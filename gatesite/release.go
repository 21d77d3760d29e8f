package gatesite

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ferry-dev/ferry/gate"
	"github.com/ferry-dev/ferry/internal/parallel"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/storescan"
	"go.yaml.in/yaml/v3"
)

// ReleaseAPIVersion is the release file format this package reads.
const ReleaseAPIVersion = "ferry.dev/release/v1"

// Release is a set of images promoted together.
type Release struct {
	Name string `yaml:"name"`
	// Images are gate targets (sha256:… of images in the store, oci:DIR,
	// docker-archive:FILE); relative paths are resolved against the
	// release file's directory.
	Images []string `yaml:"images"`
}

// ParseRelease reads a release file strictly: unknown keys are errors.
func ParseRelease(name string, data []byte) (*Release, error) {
	var doc struct {
		APIVersion string `yaml:"apiVersion"`
		Release    `yaml:",inline"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("release %s: %w", name, err)
	}
	if doc.APIVersion != ReleaseAPIVersion {
		return nil, fmt.Errorf("release %s: apiVersion %q: want %s", name, doc.APIVersion, ReleaseAPIVersion)
	}
	if len(doc.Images) == 0 {
		return nil, fmt.Errorf("release %s: images: the release names no image", name)
	}
	seen := map[string]bool{}
	for i, im := range doc.Images {
		kind, path, ok := strings.Cut(im, ":")
		if ok && (kind == "oci" || kind == "docker-archive" || kind == "sbom" || kind == "dir") && !filepath.IsAbs(path) {
			doc.Images[i] = kind + ":" + filepath.Join(filepath.Dir(name), path)
		}
		if seen[doc.Images[i]] {
			return nil, fmt.Errorf("release %s: images[%d]: %s is listed twice", name, i, im)
		}
		seen[doc.Images[i]] = true
	}
	return &doc.Release, nil
}

// ReleaseDecision is the decisions of a release's images and the release's
// verdict: the worst of them.
type ReleaseDecision struct {
	Schema  string            `json:"schema"`
	Name    string            `json:"name"`
	Verdict string            `json:"verdict"`
	Images  []ReleaseImage    `json:"images"`
	Records []*gate.Record    `json:"-"`
	Canon   map[string][]byte `json:"-"`
}

// ReleaseImage is one image's decision in a release.
type ReleaseImage struct {
	Target   string `json:"target"`
	Digest   string `json:"digest"`
	Decision string `json:"decision"`
	Verdict  string `json:"verdict"`
	// Verification is set when a required signature or attestation failed.
	Verification bool `json:"verification,omitempty"`
}

// ReleaseSchema identifies the JSON form of a ReleaseDecision.
const ReleaseSchema = "https://ferry.dev/gate/release/v1"

// DecideRelease gates every image of rel under pol. The images are decided
// side by side, one per CPU (each decision reads the store in a read
// transaction of its own and is the same as alone); the decision lists
// them in the release's order.
func DecideRelease(ctx context.Context, st *store.Store, rel *Release, pol *gate.Policy, o Options) (*ReleaseDecision, error) {
	d := &ReleaseDecision{Schema: ReleaseSchema, Name: rel.Name, Verdict: gate.VerdictPass, Canon: map[string][]byte{}}
	o.parsed = storescan.NewParsed()
	type decided struct {
		rec   *gate.Record
		canon []byte
	}
	all, err := parallel.Map(ctx, runtime.GOMAXPROCS(0), rel.Images, func(ctx context.Context, target string) (decided, error) {
		rec, err := Decide(ctx, st, target, pol, o)
		if err != nil {
			return decided{}, fmt.Errorf("%s: %w", target, err)
		}
		canon, err := rec.Marshal()
		return decided{rec, canon}, err
	})
	if err != nil {
		return nil, err
	}
	for i, target := range rel.Images {
		rec, canon := all[i].rec, all[i].canon
		id := gate.ID(canon)
		d.Records = append(d.Records, rec)
		d.Canon[id] = canon
		d.Images = append(d.Images, ReleaseImage{Target: target, Digest: rec.Inputs.Subject.Digest, Decision: id,
			Verdict: rec.Verdict, Verification: rec.VerificationFailed()})
		if rec.Verdict == gate.VerdictBlock {
			d.Verdict = gate.VerdictBlock
		}
	}
	return d, nil
}
