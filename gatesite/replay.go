package gatesite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/ferry-dev/ferry/gate"
	"github.com/ferry-dev/ferry/store"
	"github.com/ferry-dev/ferry/vexsite"
)

// localFiles describes the site's own consensus inputs for the record.
func localFiles(o Options) (vexFiles, issuers *gate.LocalFiles, err error) {
	if o.VEXDir != "" {
		inputs, err := vexsite.ReadLocal(o.VEXDir)
		if err != nil {
			return nil, nil, err
		}
		vexFiles = &gate.LocalFiles{Path: o.VEXDir, Digests: []string{}}
		for _, in := range inputs {
			vexFiles.Digests = append(vexFiles.Digests, in.Statement.DocumentDigest)
		}
	}
	if o.IssuersFile != "" {
		data, err := os.ReadFile(o.IssuersFile)
		if err != nil {
			return nil, nil, err
		}
		sum := sha256.Sum256(data)
		issuers = &gate.LocalFiles{Path: o.IssuersFile, Digests: []string{"sha256:" + hex.EncodeToString(sum[:])}}
	}
	return vexFiles, issuers, nil
}

// Replay is the outcome of re-evaluating a recorded decision.
type Replay struct {
	// Identical is set when the recomputed record is byte for byte the
	// recorded one.
	Identical bool
	// InputsChanged lists the inputs that are not what the record used
	// (a kit version the store no longer holds, another ferry version,
	// changed site files): the decision cannot be reproduced, which is not
	// tampering.
	InputsChanged []string
	// Since lists the kits imported since the decision ("channel X v41 →
	// v42"). The replay reads the recorded versions, which the store keeps
	// until store gc --keep drops them, so this is information, not a
	// difference.
	Since []string
	// Gone is set when a recorded kit version is no longer in the store;
	// the replay then ran against the active kits.
	Gone *store.VersionGoneError
	// Pointers are the JSON pointers at which the records differ.
	Pointers []string
	// Record and Canonical are the recomputed decision.
	Record    *gate.Record
	Canonical []byte
}

// Tampered reports a replay whose inputs are the record's own and whose
// outcome is not: with deterministic evaluation, the record was edited.
func (r *Replay) Tampered() bool { return !r.Identical && len(r.InputsChanged) == 0 }

// ReplayRecord re-evaluates rec (parsed from canonical) against the store
// at the record's kit versions, with the recorded subject, policy,
// environment, site files and evaluation time, and says whether it gives
// the same bytes. When the store no longer holds a recorded version the
// replay runs against the active kits and reports the change.
func ReplayRecord(ctx context.Context, st *store.Store, rec *gate.Record, canonical []byte, ferryVersion string) (*Replay, error) {
	in := rec.Inputs
	pol, err := gate.ParsePolicy(in.Policy.Name, []byte(in.Policy.Source))
	if err != nil {
		return nil, fmt.Errorf("the record's policy: %w", err)
	}
	if pol.Digest != in.Policy.Digest {
		return &Replay{InputsChanged: []string{"the record's policy text does not match its digest"}}, nil
	}
	o := Options{Environment: in.Environment, At: in.EvaluatedAt, FerryVersion: ferryVersion}
	if in.LocalVEX != nil {
		o.VEXDir = in.LocalVEX.Path
	}
	if in.Issuers != nil {
		o.IssuersFile = in.Issuers.Path
	}
	r := &Replay{}
	pins := make(map[string]store.Pin, len(in.Channels))
	for _, c := range in.Channels {
		pins[c.Name] = store.Pin{Version: c.Version, TargetsSHA256: c.TargetsSHA256}
	}
	again, err := Decide(ctx, st.AtVersions(pins), in.Subject.Ref, pol, o)
	if errors.As(err, &r.Gone) {
		again, err = Decide(ctx, st, in.Subject.Ref, pol, o)
	}
	if err != nil {
		return nil, err
	}
	if r.Gone == nil {
		info, err := st.Info(ctx, in.EvaluatedAt)
		if err != nil {
			return nil, err
		}
		now := in
		now.Channels = gateChannels(info)
		r.Since = gate.InputChanges(in, now)
	}
	canon, err := again.Marshal()
	if err != nil {
		return nil, err
	}
	r.Record, r.Canonical, r.Identical = again, canon, bytes.Equal(canon, canonical)
	if r.Identical {
		return r, nil
	}
	r.InputsChanged = gate.InputChanges(in, again.Inputs)
	if r.Gone != nil {
		r.InputsChanged = append(r.InputsChanged, fmt.Sprintf("channel %s v%d is no longer in the store (store gc --keep drops old versions): replayed against the active kits", r.Gone.Channel, r.Gone.Version))
	}
	if r.Pointers, err = gate.Pointers(canonical, canon); err != nil {
		return nil, err
	}
	return r, nil
}
