package scan

import (
	"archive/zip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDirExtractors(t *testing.T) {
	root := t.TempDir()
	write := func(p, body string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/os-release", "ID=alpine\nVERSION_ID=3.18.4\n")
	write("lib/apk/db/installed", "C:Q1x\nP:musl\nV:1.2.4-r1\nA:x86_64\no:musl\n\nP:libcrypto3\nV:3.1.3-r0\no:openssl\n\n")
	write("app/package-lock.json", `{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/lodash":{"version":"4.17.20"},"node_modules/@babel/core":{"version":"7.0.0"},"node_modules/x/node_modules/lodash":{"version":"4.17.4"}}}`)
	write("old/package-lock.json", `{"lockfileVersion":1,"dependencies":{"minimist":{"version":"1.2.0","dependencies":{"ms":{"version":"2.0.0"}}}}}`)
	write("app/node_modules/lodash/package.json", `{"name":"lodash","version":"4.17.20"}`)
	write("usr/lib/python3/site-packages/Jinja2-2.10.dist-info/METADATA", "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\n\nbody\n")
	write("usr/lib/python3/site-packages/six-1.0.egg-info/PKG-INFO", "Name: six\nVersion: 1.0\n")
	jar := filepath.Join(root, "opt/app.jar")
	os.MkdirAll(filepath.Dir(jar), 0o755)
	f, _ := os.Create(jar)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties")
	w.Write([]byte("#x\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n"))
	zw.Close()
	f.Close()

	pkgs, ne, err := dirInventory(context.Background(), root, nil)
	if err != nil || len(ne) != 0 {
		t.Fatalf("%v %v", err, ne)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, strings.Join([]string{p.Ecosystem, p.Name, p.Version, p.SourceName, p.Location.Path}, " "))
	}
	want := []string{
		"npm lodash 4.17.20  app/node_modules/lodash/package.json",
		"npm @babel/core 7.0.0  app/package-lock.json",
		"npm lodash 4.17.20  app/package-lock.json",
		"npm lodash 4.17.4  app/package-lock.json",
		"Alpine:v3.18 musl 1.2.4-r1  lib/apk/db/installed",
		"Alpine:v3.18 libcrypto3 3.1.3-r0 openssl lib/apk/db/installed",
		"npm minimist 1.2.0  old/package-lock.json",
		"npm ms 2.0.0  old/package-lock.json",
		"Maven org.apache.logging.log4j:log4j-core 2.14.1  opt/app.jar/META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
		"PyPI Jinja2 2.10  usr/lib/python3/site-packages/Jinja2-2.10.dist-info/METADATA",
		"PyPI six 1.0  usr/lib/python3/site-packages/six-1.0.egg-info/PKG-INFO",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
