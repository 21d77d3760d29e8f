#!/usr/bin/env bash
# conformance.sh: ferry scan against its peers on real vulnerable Go
# programs (make conformance). It
#   1. installs the peers: govulncheck (golang.org/x/vuln) and osv-scanner v2
#      (with GOTOOLCHAIN=go1.27.3, which only these tools use);
#   2. builds small main packages from real module versions fetched from the
#      Go module proxy, one with the old go1.22.0 toolchain so that its build
#      info states an old Go and standard-library advisories apply;
#   3. runs the corpus tests of kit, osv, vex, store and verify (FERRY_CORPUS);
#   4. runs TestConformance (scan/conformance_test.go), which scans each
#      program with ferry and with the peers, offline, on the same database
#      (shared/corpus/osv/go) and checks that ferry's advisory ids equal
#      govulncheck's, explaining every difference from osv-scanner, and
#      TestConformanceEvidence (scan/conformance_evidence_test.go), which
#      compares ferry's --evidence levels with govulncheck's finding levels
#      on each program and on a stripped build of gin, and
#      TestConformanceEcosystems (scan/conformance_ecosystems_test.go), which
#      scans an npm project (lockfile v3), a Python site-packages tree, Maven
#      jars, an AlmaLinux 9 rpm database and yarn, pnpm, poetry, uv,
#      requirements and Cargo lockfiles (all in scan/testdata) with ferry and
#      osv-scanner on the corpus's npm, PyPI, Maven, AlmaLinux and crates.io records
#      and checks ferry's findings against a hand-written version-ordering
#      check (SemVer, PEP 440, Maven ComparableVersion, rpmvercmp).
# Whatever it cannot do it says LOUDLY and the test skips that peer.
#
# Environment: CONFORMANCE_DIR (work dir, kept; default a temp dir removed at
# exit), CORPUS (default ../shared/corpus beside the repo).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${CORPUS:-$(cd "$repo/.." && pwd)/shared/corpus}
[[ -d $corpus/osv/go ]] || { echo "conformance: no corpus at $corpus (set CORPUS)" >&2; exit 2; }
if [[ -n ${CONFORMANCE_DIR:-} ]]; then
	work=$CONFORMANCE_DIR; mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-conformance.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi
loud() { printf '\n!!!!!!!! %s\n\n' "$*" >&2; }
log() { printf 'conformance: %s\n' "$*" >&2; }

bin=${FERRY_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/peers}
mkdir -p "$bin"
if [[ ! -x $bin/govulncheck ]]; then
	log "installing govulncheck"
	GOBIN=$bin GOTOOLCHAIN=go1.27.3 GOFLAGS= go install golang.org/x/vuln/cmd/govulncheck@v1.9.0 \
		|| loud "SKIPPED: govulncheck did not install"
fi
if [[ ! -x $bin/osv-scanner ]]; then
	log "installing osv-scanner v2 (a few minutes on 2 cores)"
	GOBIN=$bin GOTOOLCHAIN=go1.27.3 GOFLAGS= go install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.6.0 \
		|| loud "SKIPPED: osv-scanner did not install"
fi

# osv-scanner's offline database: <dir>/osv-scalibr/<ecosystem>/all.zip, one
# zip of OSV files per ecosystem (AlmaLinux's records lie in one directory
# per release).
for pair in go:Go npm:npm PyPI:PyPI Maven:Maven AlmaLinux:AlmaLinux crates.io:crates.io; do
	src=$corpus/osv/${pair%%:*} dst=$work/osvdb/osv-scalibr/${pair##*:}/all.zip
	[[ -f $dst ]] && continue
	[[ -d $src ]] || { loud "SKIPPED osv-scanner database ${pair##*:}: no $src"; continue; }
	mkdir -p "$(dirname "$dst")"
	python3 - "$src" "$dst" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for d, _, files in sorted(os.walk(src)):
        for n in sorted(files):
            if n.endswith(".json"):
                p = os.path.join(d, n)
                z.write(p, os.path.relpath(p, src).replace(os.sep, "_"))
PY
done

# prog NAME GOTOOLCHAIN REQUIRE... -- main.go body from stdin
build() {
	local name=$1 tc=$2 gover=$3; shift 3
	local d=$work/src/$name out=$work/bin/$name
	[[ -x $out/$name ]] && return 0
	mkdir -p "$d" "$out"
	cat >"$d/main.go"
	printf 'module example.com/%s\n\ngo %s\n' "$name" "$gover" >"$d/go.mod"
	log "building $name with $tc ($*)"
	if ! (cd "$d" && export GOTOOLCHAIN=$tc GOFLAGS=-mod=mod CGO_ENABLED=0 &&
		for m in "$@"; do go get "$m" >/dev/null 2>&1 || exit 1; done &&
		go build -o "$out/$name" . ); then
		loud "SKIPPED program $name: it did not build with $tc"
		rm -rf "$out"
	fi
}

build xtext local 1.26 golang.org/x/text@v0.3.5 <<'GO'
package main

import (
	"fmt"
	"golang.org/x/text/language"
)

func main() { t, err := language.Parse("en-US"); fmt.Println(t, err) }
GO

build gin local 1.26 github.com/gin-gonic/gin@v1.6.0 <<'GO'
package main

import "github.com/gin-gonic/gin"

func main() {
	r := gin.New()
	r.GET("/", func(c *gin.Context) { c.String(200, "ok") })
	_ = r
}
GO

# A pseudo-version: golang.org/x/crypto as of mid-2020.
build pseudo local 1.26 golang.org/x/crypto@v0.0.0-20200622213623-75b288015ac9 <<'GO'
package main

import (
	"fmt"
	"golang.org/x/crypto/ssh"
)

func main() { fmt.Println(ssh.CertAlgoRSAv01) }
GO

# A +incompatible module without any fixed version (GO-2020-0017).
build jwt local 1.26 github.com/dgrijalva/jwt-go@v3.2.0+incompatible <<'GO'
package main

import (
	"fmt"
	jwt "github.com/dgrijalva/jwt-go"
)

func main() {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": "x"})
	s, err := t.SignedString([]byte("k"))
	fmt.Println(s, err)
}
GO

# Built by the go1.22.0 toolchain: build info says go1.22.0, so the
# standard-library advisories fixed after it apply (and windows-only ones
# must not).
build oldgo go1.22.0 1.22.0 gopkg.in/yaml.v2@v2.2.7 <<'GO'
package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"gopkg.in/yaml.v2"
)

func main() {
	var v map[string]any
	_ = yaml.Unmarshal([]byte("a: 1"), &v)
	fmt.Println(v, http.StatusOK, exec.Command("true").Run())
}
GO

# The same gin program stripped (-ldflags=-s -w): govulncheck reads no
# symbols there; ferry's evidence must not change (TestConformanceEvidence).
if [[ -x $work/bin/gin/gin && ! -x $work/bin/gin-stripped/gin-stripped ]]; then
	mkdir -p "$work/bin/gin-stripped"
	(cd "$work/src/gin" && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 go build -ldflags='-s -w' -o "$work/bin/gin-stripped/gin-stripped" .) ||
		{ loud "SKIPPED program gin-stripped: it did not build"; rm -rf "$work/bin/gin-stripped"; }
fi

n=$(ls "$work/bin" 2>/dev/null | wc -l)
log "$n programs built in $work/bin"
[[ $n -ge 5 ]] || loud "ONLY $n PROGRAMS BUILT: the accuracy bar needs 5"
cd "$repo"
# The parsers' tests against the real-data corpus (build tag conformance).
log "corpus tests of kit, osv, vex, store and verify"
corpus_rc=0
FERRY_CORPUS=$corpus go test -tags conformance -count=1 ./kit/ ./osv/ ./vex/ ./store/ ./verify/ || { loud "CORPUS TESTS FAILED"; corpus_rc=1; }
FERRY_CONFORMANCE_BIN=$work/bin FERRY_CONFORMANCE_PEERS=$bin FERRY_CONFORMANCE_OSVDB=$work/osvdb \
	FERRY_CORPUS=$corpus go test -tags conformance -count=1 -run 'TestConformance|TestHandOrderings' -v ./scan/ 2>&1 | tee "$work/conformance.log"
scan_rc=${PIPESTATUS[0]}
# Either failing fails make conformance (and CI).
exit $((scan_rc != 0 ? scan_rc : corpus_rc))
