package osv

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// sameMatchable checks that ParseMatchable gives what Parse gives of the
// fields a matcher reads (id, withdrawn, affected), and none of the others
// unless it had to parse the record whole; a record Parse refuses it
// refuses too, or reads only its matchable part.
func sameMatchable(t *testing.T, name string, data []byte) {
	t.Helper()
	full, fullErr := Parse(data)
	got, err := ParseMatchable(data)
	if fullErr != nil {
		return // no promise beyond Parse's: a matched record is parsed again
	}
	if err != nil {
		t.Fatalf("%s: ParseMatchable: %v; Parse accepts it", name, err)
	}
	want := &Vulnerability{Id: full.Id, Withdrawn: full.Withdrawn, Affected: full.Affected}
	if proto.Equal(got, full) {
		return // parsed whole: the fast decoder did not take it
	}
	if !proto.Equal(got, want) {
		t.Errorf("%s: (-Parse +ParseMatchable):\n%s", name, cmp.Diff(want, got, protocmp.Transform()))
	}
}

func TestParseMatchable(t *testing.T) {
	for _, r := range testRecords(t) {
		f, data := r.name, r.data
		sameMatchable(t, f, data)
		v, err := ParseMatchable(data)
		if err != nil {
			t.Fatal(err)
		}
		if v.Summary != "" || v.Details != "" || len(v.References) > 0 || len(v.Aliases) > 0 || v.Modified != nil {
			t.Errorf("%s: ParseMatchable decoded more than the matchable fields", f)
		}
	}
	const head = `{"id":"X-1","modified":"2024-01-01T00:00:00Z",`
	for name, rec := range map[string]string{
		"withdrawn":         head + `"withdrawn":"2024-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"}}]}`,
		"skipped nesting":   head + `"database_specific":{"a":[{"b":"]}"},[]]},"affected":[]}`,
		"affected first":    `{"affected":[{"package":{"ecosystem":"PyPI","name":"p"},"versions":["1"]}],"id":"X-1","modified":"2024-01-01T00:00:00Z"}`,
		"null summary":      head + `"summary":null}`,
		"unterminated skip": head + `"details":"abc`,
		"bad brackets":      head + `"references":[{"type":"WEB"]]}`,
		"trailing data":     head + `"summary":"s"} x`,
	} {
		sameMatchable(t, name, []byte(rec))
	}
	// A record that is not well-formed JSON where ParseMatchable skips is
	// refused, as Parse refuses it.
	if _, err := ParseMatchable([]byte(head + `"details":"abc`)); err == nil {
		t.Error("an unterminated string in a skipped field was accepted")
	}
}

func FuzzParseMatchable(f *testing.F) {
	for _, r := range testRecords(f) {
		f.Add(r.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameMatchable(t, "input", data)
	})
}
