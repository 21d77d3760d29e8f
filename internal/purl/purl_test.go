package purl

import "testing"

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"pkg:golang/golang.org%2Fx%2Ftext@v0.3.5":              "pkg:golang/golang.org/x/text@v0.3.5",
		"pkg:golang/golang.org/x/text@v0.3.5":                  "pkg:golang/golang.org/x/text@v0.3.5",
		"pkg:GOLANG/golang.org/x/text@v0.3.5":                  "pkg:golang/golang.org/x/text@v0.3.5",
		"pkg:golang/std@go1.22.0":                              "pkg:golang/std@go1.22.0",
		"pkg:pypi/Some_Pkg@1.0":                                "pkg:pypi/some-pkg@1.0",
		"pkg:deb/debian/openssl@3?distro=debian-12&arch=amd64": "pkg:deb/debian/openssl@3?arch=amd64&distro=debian-12",
		"pkg:npm/%40scope/pkg@1.0.0":                           "pkg:npm/%40scope/pkg@1.0.0",
	} {
		got, ok := Normalize(in)
		if !ok || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "golang.org/x/text", "pkg:", "pkg:golang/"} {
		if got, ok := Normalize(bad); ok {
			t.Errorf("Normalize(%q) = %q, accepted", bad, got)
		}
	}
}

func TestNew(t *testing.T) {
	if got, want := New("golang", "", "golang.org/x/text", "v0.3.5", nil, ""), "pkg:golang/golang.org/x/text@v0.3.5"; got != want {
		t.Errorf("New = %q, want %q", got, want)
	}
	if got, want := New("deb", "debian", "openssl", "3", map[string]string{"distro": "debian-12", "arch": "", "a": "b"}, ""), "pkg:deb/debian/openssl@3?a=b&distro=debian-12"; got != want {
		t.Errorf("New = %q, want %q", got, want)
	}
}

func TestBase(t *testing.T) {
	if got, want := Base("pkg:golang/golang.org%2Fx%2Ftext@v0.3.5"), "pkg:golang/golang.org/x/text"; got != want {
		t.Errorf("Base = %q, want %q", got, want)
	}
	if got := Base("pkg:golang/golang.org/x/text"); got != "" {
		t.Errorf("Base of a versionless purl = %q, want empty", got)
	}
}
