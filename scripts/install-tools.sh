#!/usr/bin/env bash
# install-tools.sh: the external tools the real-tool tests, make e2e and the
# benchmark use, installed into a cache directory that later runs reuse:
#
#   ${FERRY_TOOLS_CACHE:-$HOME/.cache/ferry/bin}
#
#   crane     go-containerregistry's CLI (benchmark baseline)
#   registry  the distribution registry (real-registry tests, make e2e)
#   cosign    the cosign CLI (signs images; verifies gate decisions)
#   strace    traces make e2e's offline commands (no socket leaves loopback)
#   chromium  headless Chromium (a test opens the HTML reports and prints
#             them to an A4 PDF): Debian's chromium package
#
# A tool already in the cache is kept. Otherwise each tool is tried with
# its methods in order until one works:
#
#   apt:PKG:BIN   Debian package PKG, binary BIN linked into the cache
#                 (seconds; needs root and apt-get)
#   go:MODULE     go install from the Go module proxy with GOTOOLCHAIN
#                 (default go1.27.3: these tools need a newer Go than the
#                 project; only these installs use it, never the build)
#
# Adding a tool is one more line in the table below (and, for a method
# other than apt/go, one more install_<method> function).
#
#   bash scripts/install-tools.sh                 # all
#   bash scripts/install-tools.sh crane cosign    # some
#   eval "$(bash scripts/install-tools.sh --path)" # put the cache on PATH
#
# Cold times on the 2-CPU CI machine (empty module cache, toolchain download
# included): crane 91 s; registry 310 s from source, a few seconds from
# Debian (distribution 2.8); cosign about 15 min from source (Debian has no
# package for it).
set -euo pipefail

cache=${FERRY_TOOLS_CACHE:-$HOME/.cache/ferry/bin}
toolchain=${INSTALL_GOTOOLCHAIN:-go1.27.3}

# tool -> methods, tried left to right.
declare -A methods=(
	[crane]="go:github.com/google/go-containerregistry/cmd/crane@v0.22.1"
	[registry]="apt:docker-registry:/usr/bin/docker-registry go:github.com/distribution/distribution/v3/cmd/registry@v3.1.2"
	[cosign]="go:github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5"
	[strace]="apt:strace:/usr/bin/strace"
	[chromium]="apt:chromium:/usr/bin/chromium"
)
order=(crane registry cosign strace chromium)

log() { printf 'install-tools: %s\n' "$*" >&2; }

install_apt() { # tool pkg:bin
	local pkg=${2%%:*} bin=${2#*:}
	if [[ ! -x $bin ]]; then
		[[ $(id -u) == 0 ]] && command -v apt-get >/dev/null || return 1
		# A fresh machine may have no package lists yet: update once, then retry.
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$pkg" >&2 ||
			{ apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
				DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$pkg" >&2; } || return 1
	fi
	[[ -x $bin ]] && ln -sf "$bin" "$cache/$1"
}

install_go() { # tool module@version
	local tmp rc=0
	tmp=$(mktemp -d)
	(cd / && GOBIN=$tmp GOTOOLCHAIN=$toolchain GOFLAGS= go install "$2") &&
		mv "$tmp/$(basename "${2%@*}")" "$cache/$1" || rc=1
	rm -rf "$tmp"
	return "$rc"
}

if [[ ${1:-} == --path ]]; then
	printf 'export PATH=%q:"$PATH"\n' "$cache"
	exit 0
fi
want=("$@")
if ((${#want[@]} == 0)); then want=("${order[@]}"); fi
mkdir -p "$cache"
for t in "${want[@]}"; do
	if [[ -z ${methods[$t]:-} ]]; then
		log "unknown tool $t (${order[*]})"
		exit 2
	fi
	if [[ -x $cache/$t ]]; then
		log "$t: cached in $cache"
		continue
	fi
	start=$(date +%s)
	ok=
	for m in ${methods[$t]}; do
		log "$t: trying $m"
		if "install_${m%%:*}" "$t" "${m#*:}"; then
			ok=$m
			break
		fi
	done
	if [[ -z $ok ]]; then
		log "$t: every method failed (${methods[$t]})"
		exit 1
	fi
	log "$t: installed ($ok) in $(($(date +%s) - start)) s"
done
