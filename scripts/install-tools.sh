#!/usr/bin/env bash
# install-tools.sh: the external tools the image tests and the benchmark use,
# built from the Go module proxy into $GOBIN (default $(go env GOPATH)/bin):
#
#   crane     go-containerregistry's CLI (benchmark baseline)
#   registry  the distribution registry (end-to-end tests, basic auth)
#   cosign    the cosign CLI (a test signs with it and verifies offline)
#   chromium  headless Chromium (a test opens the HTML reports, prints them
#             to A4 PDF); Debian's chromium package, installed with apt-get
#             when it is not on PATH (needs root)
#
# They need a newer Go than the project; only these installs use
# GOTOOLCHAIN (default go1.27.3), never the project's build. Tests that need
# a tool skip, saying which, when it is not on PATH.
#
#   bash scripts/install-tools.sh            # all
#   bash scripts/install-tools.sh crane      # some
#
# Measured on the 2-CPU CI machine (cold module cache, toolchain download
# included): crane 91 s, registry 310 s, cosign: see docs/images.md. Too slow
# for .ci/run, which therefore does not call this script.
set -euo pipefail
toolchain=${INSTALL_GOTOOLCHAIN:-go1.27.3}
declare -A pkgs=(
	[crane]=github.com/google/go-containerregistry/cmd/crane@v0.22.1
	[registry]=github.com/distribution/distribution/v3/cmd/registry@v3.1.2
	[cosign]=github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
)
want=("$@")
if ((${#want[@]} == 0)); then want=(crane registry cosign chromium); fi
for t in "${want[@]}"; do
	if [[ $t == chromium ]]; then
		if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
			echo "install-tools: chromium already on PATH" >&2
			continue
		fi
		start=$(date +%s)
		echo "install-tools: chromium (apt-get)" >&2
		sudo=
		if ((EUID != 0)); then sudo=sudo; fi
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
		echo "install-tools: chromium done in $(($(date +%s) - start)) s" >&2
		continue
	fi
	p=${pkgs[$t]:-}
	if [[ -z $p ]]; then
		echo "install-tools: unknown tool $t (crane, registry, cosign, chromium)" >&2
		exit 2
	fi
	start=$(date +%s)
	echo "install-tools: $p" >&2
	(cd / && GOTOOLCHAIN=$toolchain GOFLAGS= go install "$p")
	echo "install-tools: $t done in $(($(date +%s) - start)) s" >&2
done
