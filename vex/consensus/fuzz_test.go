package consensus

import "testing"

// FuzzMatching feeds arbitrary product ids and version ranges to the
// matcher: it must not panic, and a product always selects itself.
func FuzzMatching(f *testing.F) {
	f.Add("pkg:golang/golang.org%2Fx%2Ftext@v0.3.0", "pkg:golang/golang.org/x/text", "vers:golang/>=0.1.0|<0.4.0", "v0.3.0")
	f.Add("pkg:oci/app@sha256%3Aabc", "sha256:abc", "vers:generic/*", "1")
	f.Add("pkg:pypi/Django_Rest?a=b#x/y", "RHEL-8:kernel", "vers:npm/!=1.0.0|>2", "1.0.0")
	f.Fuzz(func(t *testing.T, a, b, rng, version string) {
		_ = Selects(a, b)
		_ = inRange(rng, "npm", version)
		if r, ok := parseRef(a); ok && r.rng == "" && !covers(r, r) && (r.raw != "" || r.digest != "") {
			t.Errorf("%q does not cover itself", a)
		}
	})
}
