package images_test

import (
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/format"
	"github.com/ferry-dev/ferry/images"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParseAttachment(t *testing.T) {
	sig := "sha256:" + strings.Repeat("b", 64)
	img := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		name, kind, digest, subject string
		want                        images.Attachment
		wantErr                     string
	}{
		{name: "signature", kind: format.KindSignature, digest: sig, subject: img,
			want: images.Attachment{Kind: format.KindSignature, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}, Subject: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}},
		{name: "malformed digest", kind: format.KindSignature, digest: "sha256:xyz", subject: img, wantErr: `signature "sha256:xyz"`},
		{name: "no subject", kind: format.KindAttestation, digest: sig, subject: "", wantErr: "attestation " + sig + `: subject ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := images.ParseAttachment(tc.kind, tc.digest, tc.subject)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
