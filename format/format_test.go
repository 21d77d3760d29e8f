package format_test

import (
	"fmt"
	"testing"

	"github.com/ferry-dev/ferry/format"
	attv1 "github.com/in-toto/attestation/go/v1"
	"github.com/in-toto/in-toto-golang/in_toto"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	openvex "github.com/openvex/go-vex/pkg/vex"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
)

// TestUpstreamSpellings checks the names that an upstream library also
// defines against that library, so a typo here cannot make ferry write
// what cosign, in-toto or an OCI registry does not read.
func TestUpstreamSpellings(t *testing.T) {
	bundleType, err := sgbundle.MediaTypeString("0.3")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, ours, theirs string }{
		{"AnnotationRefName", format.AnnotationRefName, ocispec.AnnotationRefName},
		{"MediaInToto", format.MediaInToto, in_toto.PayloadType},
		{"InTotoStatementV01", format.InTotoStatementV01, in_toto.StatementInTotoV01},
		{"InTotoStatementV1", format.InTotoStatementV1, attv1.StatementTypeUri},
		{"PredicateOpenVEX", format.PredicateOpenVEX, openvex.Context},
		{"PredicateOpenVEXV020", format.PredicateOpenVEXV020, openvex.Context + "/v" + openvex.SpecVersion},
		{"MediaSigstoreBundle", format.MediaSigstoreBundle, bundleType},
	} {
		if c.ours != c.theirs {
			t.Errorf("format.%s = %q, upstream spells it %q", c.name, c.ours, c.theirs)
		}
	}
}

func TestIsOpenVEXPredicate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"https://openvex.dev/ns", true},
		{"https://openvex.dev/ns/v0.2.0", true},
		{"https://openvex.dev/ns/", true},
		{"https://openvex.dev/nsx", false},
		{"https://slsa.dev/provenance/v1", false},
		{"", false},
	} {
		if got := format.IsOpenVEXPredicate(c.in); got != c.want {
			t.Errorf("IsOpenVEXPredicate(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestIsInTotoStatement(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"https://in-toto.io/Statement/v0.1", true},
		{"https://in-toto.io/Statement/v1", true},
		{"https://in-toto.io/Statement/v2", false},
		{"", false},
	} {
		if got := format.IsInTotoStatement(c.in); got != c.want {
			t.Errorf("IsInTotoStatement(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func ExampleCosignTag() {
	fmt.Println(format.CosignTag("sha256", "0123abcd", format.SuffixAttestation))
	// Output: sha256-0123abcd.att
}
