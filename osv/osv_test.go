package osv

import (
	"errors"
	"strings"
	"testing"
)

func TestParseInvalid(t *testing.T) {
	base := `{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[%s]}]}`
	cases := []struct {
		name, rec, want string
	}{
		{"not json", `[1]`, "not a JSON object"},
		{"unknown field", `{"id":"X-1","modified":"2024-01-01T00:00:00Z","colour":"red"}`, "does not match the OSV schema"},
		{"missing id", `{"modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"versions":["1"]}]}`, "id is missing"},
		{"missing modified", `{"id":"X-1","affected":[{"package":{"ecosystem":"Go","name":"m"},"versions":["1"]}]}`, "modified is missing"},
		{"bad schema version", `{"id":"X-1","schema_version":"one","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"versions":["1"]}]}`, "schema_version"},
		{"no affected", `{"id":"X-1","modified":"2024-01-01T00:00:00Z"}`, "affected is empty"},
		{"no events", strings.Replace(base, "%s", `{"type":"SEMVER","events":[]}`, 1), "has no events"},
		{"no introduced", strings.Replace(base, "%s", `{"type":"SEMVER","events":[{"fixed":"1.0.0"}]}`, 1), "no introduced event"},
		{"two kinds in one event", strings.Replace(base, "%s", `{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}`, 1), "exactly one of"},
		{"descending events", strings.Replace(base, "%s", `{"type":"SEMVER","events":[{"introduced":"2.0.0"},{"fixed":"1.0.0"}]}`, 1), "ascending order"},
		{"bad semver", strings.Replace(base, "%s", `{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.x"}]}`, 1), "not a semantic version"},
		{"fixed and last_affected", strings.Replace(base, "%s", `{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"},{"last_affected":"1.1.0"}]}`, 1), "both fixed and last_affected"},
		{"git without repo", strings.Replace(base, "%s", `{"type":"GIT","events":[{"introduced":"abc"}]}`, 1), "without repo"},
		{"bad range type", strings.Replace(base, "%s", `{"type":"WEIRD","events":[{"introduced":"0"}]}`, 1), "does not match the OSV schema"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.rec))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			var inv *InvalidError
			if c.name != "not json" && !errors.As(err, &inv) {
				t.Errorf("not an *InvalidError: %T", err)
			}
		})
	}
	ok := strings.Replace(base, "%s", `{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}`, 1)
	if _, err := Parse([]byte(ok)); err != nil {
		t.Errorf("valid record refused: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err == nil && v.GetId() == "" {
			t.Fatal("accepted a record without id")
		}
	})
}
