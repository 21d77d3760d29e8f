package store_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/fixtures"
	"github.com/ferry-dev/ferry/store"
)

func TestSigstoreTrustedRoot(t *testing.T) {
	at := fixtures.Created.Add(time.Hour)
	one := tufKitFiles(t)
	trusted := one["trust/sigstore/targets/trusted_root.json"]
	two := maps.Clone(one)
	for name, data := range one {
		if rest, ok := strings.CutPrefix(name, "trust/sigstore/"); ok {
			two["trust/other/"+rest] = data
		}
	}
	for _, tc := range []struct {
		name    string
		files   map[string][]byte
		damage  bool
		want    []byte
		wantErr string
		is      error
	}{
		{name: "one", files: one, want: trusted},
		{name: "none", files: map[string][]byte{"kit.json": []byte(`{"schema":"ferry.dev/kit/v1"}` + "\n")}, is: store.ErrNoTrustedRoot},
		{name: "two", files: two, wantErr: "2 Sigstore trusted roots (site:trust/other/targets/trusted_root.json, site:trust/sigstore/targets/trusted_root.json)"},
		{name: "damaged blob", files: one, damage: true, wantErr: "trust/sigstore/targets/trusted_root.json (channel site): the stored blob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := importFiles(t, tc.files, at)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if tc.damage {
				sum := sha256.Sum256(trusted)
				p, err := s.BlobPath(hex.EncodeToString(sum[:]))
				if err != nil {
					t.Fatal(err)
				}
				damaged := bytes.Replace(trusted, []byte("trustedroot"), []byte("trustedrooT"), 1)
				if err := os.WriteFile(p, damaged, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.WriteFile(p, trusted, 0o644) }) // for the store check at cleanup
			}
			got, err := s.SigstoreTrustedRoot(t.Context())
			switch {
			case tc.is != nil:
				if !errors.Is(err, tc.is) {
					t.Fatalf("error %v, want %v", err, tc.is)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case !bytes.Equal(got, tc.want):
				t.Errorf("got %q, want %q", got, tc.want)
			}
			var amb *store.AmbiguousTrustedRootError
			if errors.As(err, &amb) != (tc.name == "two") {
				t.Errorf("error %v: *AmbiguousTrustedRootError %v, want %v", err, errors.As(err, &amb), tc.name == "two")
			}
		})
	}
}
