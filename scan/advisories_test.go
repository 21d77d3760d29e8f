package scan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSkimMatchesFullDecode checks the fast skim against a full JSON
// decode on every record of the corpus's Go vulndb (and on synthetic
// records): the skim may find extra packages, never fewer.
func TestSkimMatchesFullDecode(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "corpus", "osv", "go")
	if c := os.Getenv("FERRY_CORPUS"); c != "" {
		dir = filepath.Join(c, "osv", "go")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	raws := [][]byte{
		[]byte(goRec), []byte(debRec), []byte(gitRec),
		[]byte(`{"id":"X","details":"a \"package\": {\"name\":\"evil\"}","affected":[{"package" :
		  {"name":"n","ecosystem":"npm"}}]}`),
		[]byte(`{"id":"Y","affected":[{"\u0070ackage":{"name":"esc","ecosystem":"npm"}}]}`),
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, b)
	}
	if len(files) == 0 {
		t.Log("no corpus found: synthetic records only")
	}
	for _, raw := range raws {
		var full skim
		if err := json.Unmarshal(raw, &full); err != nil {
			t.Fatal(err)
		}
		fast, err := skimRecord(raw)
		if err != nil {
			t.Fatal(err)
		}
		var got [][2]string
		for _, a := range fast.Affected {
			got = append(got, [2]string{a.Package.Ecosystem, a.Package.Name})
		}
		for _, a := range full.Affected {
			if !slices.Contains(got, [2]string{a.Package.Ecosystem, a.Package.Name}) {
				t.Errorf("%s: skim misses %s/%s", full.ID, a.Package.Ecosystem, a.Package.Name)
			}
		}
	}
}
