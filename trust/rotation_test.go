package trust

import (
	"crypto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func TestRotateKeeping(t *testing.T) {
	r1, r2, r3 := key("r1"), key("r2"), key("r3")
	n1, n2 := key("n1"), key("n2")
	s1, s2 := key("signer"), key("s2")
	o := opts("acme", r1, r2, r3)
	o.Threshold = 2
	o.SigningKeys = []crypto.PublicKey{s1.Public(), s2.Public()}
	o.SigningThreshold = 2
	v1 := initRoot(t, o, r1, r2, r3)
	ids := func(ks ...crypto.Signer) []string {
		var out []string
		for _, k := range ks {
			mk, err := metadata.KeyFromPublicKey(k.Public())
			if err != nil {
				t.Fatal(err)
			}
			id, err := mk.ID()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		return out
	}
	type role struct {
		Keys      []string
		Threshold int
	}
	for _, tc := range []struct {
		name          string
		r             Rotation
		root, targets role
		wantErr       string
	}{
		{
			name:    "only the expiry: every key and threshold stays",
			r:       Rotation{OldRootKeys: []crypto.Signer{r1, r2}},
			root:    role{ids(r1, r2, r3), 2},
			targets: role{ids(s1, s2), 2},
		},
		{
			name:    "a threshold given for the kept root keys",
			r:       Rotation{OldRootKeys: []crypto.Signer{r1, r2, r3}, Threshold: 3},
			root:    role{ids(r1, r2, r3), 3},
			targets: role{ids(s1, s2), 2},
		},
		{
			name:    "new root keys: threshold 1 unless given",
			r:       Rotation{OldRootKeys: []crypto.Signer{r1, r3}, NewRootKeys: []crypto.Signer{n1, n2}},
			root:    role{ids(n1, n2), 1},
			targets: role{ids(s1, s2), 2},
		},
		{
			name:    "new signing keys: threshold 1 unless given",
			r:       Rotation{OldRootKeys: []crypto.Signer{r1, r2}, SigningKeys: []crypto.PublicKey{n2.Public()}},
			root:    role{ids(r1, r2, r3), 2},
			targets: role{ids(n2), 1},
		},
		{
			name:    "a signing threshold given for the kept signing keys",
			r:       Rotation{OldRootKeys: []crypto.Signer{r1, r2}, SigningThreshold: 1},
			root:    role{ids(r1, r2, r3), 2},
			targets: role{ids(s1, s2), 1},
		},
		{
			name:    "keep 2 of 3 root keys, replace the third: kept keys sign once",
			r:       Rotation{OldRootKeys: []crypto.Signer{r1, r2}, NewRootKeys: []crypto.Signer{r1, r2, n1}, Threshold: 2},
			root:    role{ids(r1, r2, n1), 2},
			targets: role{ids(s1, s2), 2},
		},
		{
			name:    "keep 2 of 3, the old threshold met by a kept key given only as new",
			r:       Rotation{OldRootKeys: []crypto.Signer{r1}, NewRootKeys: []crypto.Signer{r1, r2, n1}, Threshold: 3},
			root:    role{ids(r1, r2, n1), 3},
			targets: role{ids(s1, s2), 2},
		},
		{
			name:    "keep 1 of 3: the old threshold of 2 not met",
			r:       Rotation{OldRootKeys: []crypto.Signer{r1}, NewRootKeys: []crypto.Signer{r1, n1, n2}, Threshold: 2},
			wantErr: "current threshold of 2",
		},
		{
			name:    "too few old keys",
			r:       Rotation{OldRootKeys: []crypto.Signer{r1}},
			wantErr: "current threshold of 2",
		},
		{
			name:    "a threshold above the kept keys",
			r:       Rotation{OldRootKeys: []crypto.Signer{r1, r2}, Threshold: 4},
			wantErr: "threshold 4",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Created = created.Add(24 * time.Hour)
			v2, err := RotateKeeping(v1, tc.r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyChain([][]byte{v1, v2}); err != nil {
				t.Fatalf("chain v1→v2: %v", err)
			}
			root, err := Parse(v2)
			if err != nil {
				t.Fatal(err)
			}
			if Channel(root) != "acme" || root.Signed.Version != 2 {
				t.Errorf("channel %q version %d, want acme 2", Channel(root), root.Signed.Version)
			}
			for name, want := range map[string]role{metadata.ROOT: tc.root, metadata.TARGETS: tc.targets} {
				r := root.Signed.Roles[name]
				got := role{append([]string(nil), r.KeyIDs...), r.Threshold}
				if diff := cmp.Diff(want, got, cmp.Transformer("sorted", sortedCopy)); diff != "" {
					t.Errorf("%s role (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

// TestRotateKeepingTheOnlyRootKey: a 1-of-1 root rotated to the same root
// key with a new signing key set: the key is old and new, and signs once.
func TestRotateKeepingTheOnlyRootKey(t *testing.T) {
	r1, s2 := key("r1"), key("s2")
	v1 := initRoot(t, opts("acme", r1), r1)
	v2, err := RotateKeeping(v1, Rotation{OldRootKeys: []crypto.Signer{r1}, NewRootKeys: []crypto.Signer{r1},
		SigningKeys: []crypto.PublicKey{s2.Public()}, Created: created.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain([][]byte{v1, v2}); err != nil {
		t.Fatal(err)
	}
	root := mustParse(t, v2)
	if len(root.Signatures) != 1 || len(root.Signed.Roles[metadata.ROOT].KeyIDs) != 1 || root.Signed.Roles[metadata.ROOT].KeyIDs[0] != root.Signatures[0].KeyID {
		t.Errorf("root v2: signatures %v, root keys %v", root.Signatures, root.Signed.Roles[metadata.ROOT].KeyIDs)
	}
	keys, threshold, err := SigningKeys(root)
	if err != nil || len(keys) != 1 || threshold != 1 {
		t.Errorf("signing keys %v threshold %d: %v", keys, threshold, err)
	}
}

func sortedCopy(in []string) []string { return slices.Sorted(slices.Values(in)) }
