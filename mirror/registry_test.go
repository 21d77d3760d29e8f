package mirror_test

import (
	"errors"
	"testing"

	"github.com/ferry-dev/ferry/mirror"
)

func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm/v7", "windows/amd64:10.0.17763.1234", "linux//", ":", "a/b/c/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := mirror.ParsePlatform(s)
		if err != nil {
			if !errors.Is(err, mirror.ErrUnknownPlatform) {
				t.Fatalf("%q: error %v does not wrap ErrUnknownPlatform", s, err)
			}
			return
		}
		again, err := mirror.ParsePlatform(p.String())
		if err != nil || again.String() != p.String() {
			t.Fatalf("%q parsed as %q, which does not parse back: %v", s, p, err)
		}
	})
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"registry.example.com/app/api:1.4", "localhost:5000/a@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "debian:12", "a.b/c:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := mirror.ParseReference(s, false)
		if err != nil {
			if !errors.Is(err, mirror.ErrInvalidReference) {
				t.Fatalf("%q: error %v does not wrap ErrInvalidReference", s, err)
			}
			return
		}
		if ref.Context().RegistryStr() == "" || ref.Identifier() == "" {
			t.Fatalf("%q: accepted without registry or tag/digest: %v", s, ref)
		}
	})
}
