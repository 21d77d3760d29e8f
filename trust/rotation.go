package trust

import (
	"crypto"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Rotation says what root version N+1 changes. What it leaves empty stays
// as the current root has it: a rotation may replace the root keys, the
// signing keys, or only extend the expiry.
type Rotation struct {
	// OldRootKeys are private keys of the current root: enough of them to
	// meet its threshold sign the new root.
	OldRootKeys []crypto.Signer
	// NewRootKeys replace the root keys and sign the new root too. None:
	// the current root keys stay.
	NewRootKeys []crypto.Signer
	// Threshold is the new root role's threshold. 0: the current one when
	// the root keys stay, else 1.
	Threshold int
	// SigningKeys replace the keys of the targets, snapshot and timestamp
	// roles. None: the current signing keys stay.
	SigningKeys []crypto.PublicKey
	// SigningThreshold is their threshold. 0: the current one when the
	// signing keys stay, else 1.
	SigningThreshold int
	// Created and Expires as in Options.
	Created, Expires time.Time
}

// RotateKeeping returns root v(N+1) after current as r says, keeping what
// r leaves empty, signed by r's old and new root keys (see Rotate).
func RotateKeeping(current []byte, r Rotation) ([]byte, error) {
	cur, err := Parse(current)
	if err != nil {
		return nil, err
	}
	o := Options{Threshold: r.Threshold, SigningKeys: r.SigningKeys, SigningThreshold: r.SigningThreshold,
		Created: r.Created, Expires: r.Expires}
	signers := append([]crypto.Signer(nil), r.OldRootKeys...)
	if len(r.NewRootKeys) > 0 {
		for _, k := range r.NewRootKeys {
			o.RootKeys = append(o.RootKeys, k.Public())
		}
		signers = append(signers, r.NewRootKeys...)
	} else {
		keys, threshold, err := RoleKeys(cur, metadata.ROOT)
		if err != nil {
			return nil, err
		}
		o.RootKeys = keys
		if o.Threshold == 0 {
			o.Threshold = threshold
		}
	}
	if len(o.SigningKeys) == 0 {
		keys, threshold, err := SigningKeys(cur)
		if err != nil {
			return nil, err
		}
		o.SigningKeys = keys
		if o.SigningThreshold == 0 {
			o.SigningThreshold = threshold
		}
	}
	return Rotate(current, signers, o)
}
