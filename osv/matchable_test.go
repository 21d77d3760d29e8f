package osv

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ossf/osv-schema/bindings/go/osvschema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"
)

// matchablePart is what ParseMatchable promises of the record v: its id
// and withdrawn, and of each affected entry the package, the ranges
// without their database_specific, the versions, and the goos and goarch
// of each import of ecosystem_specific.
func matchablePart(v *Vulnerability) *Vulnerability {
	out := &Vulnerability{Id: v.Id, Withdrawn: v.Withdrawn}
	for _, a := range v.Affected {
		m := &osvschema.Affected{Package: a.Package, Versions: a.Versions}
		for _, r := range a.Ranges {
			m.Ranges = append(m.Ranges, &osvschema.Range{Type: r.Type, Repo: r.Repo, Events: r.Events})
		}
		if es := a.EcosystemSpecific; es != nil {
			m.EcosystemSpecific = &structpb.Struct{Fields: map[string]*structpb.Value{}}
			if imports, ok := es.Fields["imports"]; ok {
				var list []*structpb.Value
				for _, iv := range imports.GetListValue().GetValues() {
					imp := &structpb.Struct{Fields: map[string]*structpb.Value{}}
					for _, k := range []string{"goos", "goarch"} {
						if f, ok := iv.GetStructValue().GetFields()[k]; ok {
							imp.Fields[k] = f
						}
					}
					list = append(list, structpb.NewStructValue(imp))
				}
				m.EcosystemSpecific.Fields["imports"] = structpb.NewListValue(&structpb.ListValue{Values: list})
			}
		}
		out.Affected = append(out.Affected, m)
	}
	return out
}

// sameMatchable checks that ParseMatchable gives matchablePart of what
// Parse gives, or, where it had to parse the record whole, Parse's record.
// A record Parse refuses is no promise beyond Parse's: a matched record is
// parsed again.
func sameMatchable(t *testing.T, name string, data []byte) {
	t.Helper()
	full, fullErr := Parse(data)
	got, err := ParseMatchable(data)
	if fullErr != nil {
		return
	}
	if err != nil {
		t.Fatalf("%s: ParseMatchable: %v; Parse accepts it", name, err)
	}
	if proto.Equal(got, full) {
		return // parsed whole: the fast decoder did not take it
	}
	if want := matchablePart(full); !proto.Equal(got, want) {
		t.Errorf("%s: (-matchable part of Parse +ParseMatchable):\n%s", name, cmp.Diff(want, got, protocmp.Transform()))
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
		"withdrawn":       head + `"withdrawn":"2024-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"}}]}`,
		"skipped nesting": head + `"database_specific":{"a":[{"b":"]}"},[]]},"affected":[]}`,
		"affected first":  `{"affected":[{"package":{"ecosystem":"PyPI","name":"p"},"versions":["1"]}],"id":"X-1","modified":"2024-01-01T00:00:00Z"}`,
		"go imports": head + `"affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ecosystem_specific":{"imports":[{"path":"os","goos":["windows"],"symbols":["Open"]},{"path":"net"}],"other":1},` +
			`"database_specific":{"url":"u"},"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"}],"database_specific":{"x":[1]}}]}]}`,
		"no imports":        head + `"affected":[{"package":{"ecosystem":"Go","name":"m"},"ecosystem_specific":{"other":{"a":1}}}]}`,
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
