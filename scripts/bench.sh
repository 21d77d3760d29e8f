#!/usr/bin/env bash
# bench.sh: the kit-format performance targets, ferry side by side with the
# plain tools, in one run. Prints a table of medians and ratios.
#
#   bash scripts/bench.sh            # from the repo root (make bench)
#
# Environment:
#   BENCH_DIR        where to put data (a fresh subdirectory is made and
#                    removed); default: a mktemp directory
#   BENCH_FILES      content files in the big kit (default 64)
#   BENCH_SMALL      content files in the small kit (default 8)
#   BENCH_FILE_MIB   size of each file in MiB (default 32): 64 x 32 = 2 GiB
#   BENCH_RUNS       timed runs per command, median taken (default 3)
#   BENCH_STRICT=1   exit 1 when a target fails (default: report only)
#   BENCH_ECO=0      skip the per-ecosystem scan comparison
#   BENCH_ONLY=oci   only step 11, import oci:// (scripts/bench_oci.sh)
#   BENCH_ONLY=scanimage  only step 5c, ferry scan --evidence of the
#                    holdout-style image vs osv-scanner (scripts/bench_scanimage.sh)
#   BENCH_OCI_MIB    size of step 11's kit in MiB (default 1024)
#
# Needs go, zstd, openssl, tar and GNU time (/usr/bin/time; Debian package
# "time").
set -euo pipefail

files=${BENCH_FILES:-64}
small=${BENCH_SMALL:-8}
mib=${BENCH_FILE_MIB:-32}
runs=${BENCH_RUNS:-3}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The real-data corpus for the benchmarks that read it (CORPUS, else ../shared/corpus beside the repo).
export FERRY_CORPUS=${FERRY_CORPUS:-${CORPUS:-$(cd "$repo/.." && pwd)/shared/corpus}}
for tool in go zstd openssl tar; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 2; }
done
gtime=/usr/bin/time
if ! "$gtime" -f %M true >/dev/null 2>&1; then
	echo "bench: GNU time not found at $gtime (apt-get install -y time)" >&2
	exit 2
fi

if [[ -n ${BENCH_DIR:-} ]]; then
	mkdir -p "$BENCH_DIR"
	work=$(mktemp -d "$BENCH_DIR/ferry-bench.XXXXXX")
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
fi
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

log "bench: building ferry into $work/bin"
(cd "$repo" && go build -o "$work/bin/ferry" ./cmd/ferry)
ferry=$work/bin/ferry

# Incompressible content, like image layers: AES-CTR keystream, a different
# counter start per file, so the data is the same on every run.
gen() { # dir count
	mkdir -p "$1/data"
	local i
	for ((i = 0; i < $2; i++)); do
		head -c "$((mib << 20))" /dev/zero |
			openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv "$(printf '%032x' $((i << 40)))" \
				>"$(printf '%s/data/layer%03d.bin' "$1" "$i")"
	done
}

created=$(date -u +%Y-%m-%dT00:00:00Z)
at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$ferry" keys generate --out "$work/keys" --name root >/dev/null
"$ferry" keys generate --out "$work/keys" --name signer >/dev/null
"$ferry" trust init --channel bench --root-key "$work/keys/root.key" --signing-key "$work/keys/signer.key" \
	--out "$work/trust/root.json" >/dev/null
for d in big small; do
	mkdir -p "$work/$d"
	cat >"$work/$d/kit.yaml" <<EOF
name: bench
channel: bench
version: 1
created: $created
expires: 30d
root: ../trust/root.json
files:
  - src: ./data
    dest: data/
EOF
done
mkdir -p "$work/out"

# measure NAME CMD: runs CMD (a shell string) under GNU time and appends
# "wall rss_kib cpu_s" to $work/m/NAME.
mkdir -p "$work/m"
measure() {
	local name=$1 cmd=$2 t
	t=$(mktemp "$work/m/t.XXXXXX")
	if ! "$gtime" -f '%e %M %U %S' -o "$t" bash -c "$cmd" >/dev/null 2>"$t.err"; then
		log "bench: command failed: $cmd"
		cat "$t.err" >&2
		exit 1
	fi
	awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$t" >>"$work/m/$name"
	rm -f "$t" "$t.err"
}
# median NAME COLUMN (1 wall s, 2 rss KiB, 3 cpu s)
median() {
	cut -d' ' -f"$2" "$work/m/$1" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
# pair A CMDA B CMDB [PREP]: one warm-up of each, then BENCH_RUNS runs of
# each, interleaved so that machine noise hits both sides alike. PREP runs
# before every command, untimed.
pair() {
	local a=$1 ca=$2 b=$3 cb=$4 prep=${5:-true} i
	bash -c "$prep"; bash -c "$ca" >/dev/null 2>&1
	bash -c "$prep"; bash -c "$cb" >/dev/null 2>&1
	: >"$work/m/$a"; : >"$work/m/$b"
	for ((i = 0; i < runs; i++)); do
		bash -c "$prep"; measure "$a" "$ca"
		bash -c "$prep"; measure "$b" "$cb"
	done
}

# BENCH_ONLY=oci runs step 11 alone, BENCH_ONLY=scanimage step 5c.
source "$repo/scripts/bench_oci.sh"
source "$repo/scripts/bench_scanimage.sh"
case ${BENCH_ONLY:-} in
oci)
	bench_oci
	exit 0
	;;
scanimage)
	fails=0
	bench_scanimage
	if ((fails > 0)) && [[ ${BENCH_STRICT:-0} == 1 ]]; then exit 1; fi
	exit 0
	;;
esac

log "bench: writing $((files * mib)) MiB and $((small * mib)) MiB of random files under $work"
gen "$work/big" "$files"
gen "$work/small" "$small"

kit=$work/out/mirror.kit.tar.zst
base=$work/out/tar.tar.zst
# Outputs are removed before each run, untimed: freeing 2 GiB of blocks is
# not what is measured (the file system may discard synchronously).
clean_out="rm -f '$kit' '$base'"

cmd_mirror="'$ferry' mirror -f '$work/big/kit.yaml' -o '$kit' --key '$work/keys/signer.key' --no-progress"
cmd_tar="tar -C '$work/big' -cf - data | zstd -3 -T0 -q > '$base'"
cmd_tar_sync="$cmd_tar && sync '$base'"
log "bench: 3. building the $((files * mib)) MiB kit: ferry mirror vs tar | zstd -3 -T0"
pair mirror "$cmd_mirror" tar "$cmd_tar" "$clean_out"
: >"$work/m/tarsync"
for ((i = 0; i < runs; i++)); do
	bash -c "$clean_out"; measure tarsync "$cmd_tar_sync"
done
bash -c "$clean_out"
"$ferry" mirror -f "$work/big/kit.yaml" -o "$kit" --key "$work/keys/signer.key" --no-progress >/dev/null
rm -f "$base"

small_kit=$work/out/small.kit.tar.zst
"$ferry" mirror -f "$work/small/kit.yaml" -o "$small_kit" --key "$work/keys/signer.key" --no-progress >/dev/null

cmd_verify="'$ferry' verify '$kit' --root '$work/trust/root.json' --at $at"
cmd_pipe="zstd -dc '$kit' | openssl dgst -sha256"
cmd_verify_small="'$ferry' verify '$small_kit' --root '$work/trust/root.json' --at $at"
cmd_pipe_small="zstd -dc '$small_kit' | openssl dgst -sha256"
log "bench: 1. verifying the $((files * mib)) MiB kit: ferry verify vs zstd -dc | openssl dgst -sha256"
pair verify "$cmd_verify" pipe "$cmd_pipe"
log "bench: 2. verifying the $((small * mib)) MiB kit (peak RSS)"
pair verify_small "$cmd_verify_small" pipe_small "$cmd_pipe_small"

# The table.
fails=0
row() { # label ferry baseline ratio target verdict
	printf '%-42s %10s %10s %7s %9s  %s\n' "$@"
}
# verdict VALUE LIMIT: sets $v to PASS or FAIL and counts a FAIL in $fails.
# Not $(verdict ...): a command substitution is a subshell, and the count
# would be lost there.
verdict() {
	if awk -v v="$1" -v l="$2" 'BEGIN {exit !(v <= l)}'; then v=PASS; else v=FAIL; fails=$((fails + 1)); fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }
mibs() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

v_w=$(median verify 1) p_w=$(median pipe 1)
vs_w=$(median verify_small 1) ps_w=$(median pipe_small 1)
v_rss=$(median verify 2) vs_rss=$(median verify_small 2)
m_w=$(median mirror 1) t_w=$(median tar 1) ts_w=$(median tarsync 1)
m_cpu=$(median mirror 3) t_cpu=$(median tar 3)
r_verify=$(ratio "$v_w" "$p_w")
r_mirror=$(ratio "$m_w" "$t_w")
r_rss=$(ratio "$v_rss" "$vs_rss")
big="$((files * mib)) MiB"
sm="$((small * mib)) MiB"

echo
echo "ferry $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?'); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg); median of $runs runs after a warm-up"
row measurement ferry baseline ratio target result
verdict "$r_verify" 1.15
row "1. verify $big, wall s" "$v_w" "$p_w" "$r_verify" "<= 1.15x" "$v"
row "   verify $sm, wall s (info)" "$vs_w" "$ps_w" "$(ratio "$vs_w" "$ps_w")" "" info
verdict "$(mibs "$v_rss")" 64
row "2. verify $big, peak RSS MiB" "$(mibs "$v_rss")" "" "" "<= 64" "$v"
verdict "$(mibs "$vs_rss")" 64
row "   verify $sm, peak RSS MiB" "$(mibs "$vs_rss")" "" "" "<= 64" "$v"
verdict "$r_rss" 1.10
row "   RSS $big / RSS $sm" "$(mibs "$v_rss")" "$(mibs "$vs_rss")" "$r_rss" "<= 1.10x" "$v"
verdict "$r_mirror" 1.5
row "3. mirror $big, wall s" "$m_w" "$t_w" "$r_mirror" "<= 1.5x" "$v"
row "   mirror vs tar|zstd + sync (info)" "$m_w" "$ts_w" "$(ratio "$m_w" "$ts_w")" "" info
row "   mirror $big, CPU s user+sys (info)" "$m_cpu" "$t_cpu" "$(ratio "$m_cpu" "$t_cpu")" "" info
echo
echo "commands (\$W = $work, removed at exit):"
echo "  1.  ${cmd_verify//$work/\$W}"
echo "      ${cmd_pipe//$work/\$W}"
echo "  2.  ${cmd_verify_small//$work/\$W}   (and 1.)"
echo "  3.  ${cmd_mirror//$work/\$W}"
echo "      ${cmd_tar//$work/\$W}   (+ sync: ${cmd_tar_sync//$work/\$W})"
echo "  ferry mirror fsyncs its output (temp file, fsync, rename); the tar baseline does not unless '+ sync'."

# 4. Feeds: building a kit from the 4291 Go OSV records of the shared
# corpus and importing it (records/s, target >= 20,000 records/s for the
# import), and 10,000 package lookups against 50,000 synthetic records in
# one read transaction (target well under 1 s). Go benchmarks in package
# store (store/feeds_bench_test.go); they read the shared corpus at
# ../shared/corpus relative to the repository.
log "bench: 4. feeds: kit build and import of the Go OSV corpus, 10k package lookups (go test -bench)"
feeds=$work/m/feeds.txt
if (cd "$repo" && go test ./store -run '^$' -bench 'FeedsBuild|FeedsImport|PackageLookups' -benchtime "${runs}x" -count 1) >"$feeds" 2>&1; then
	metric() { # BENCHMARK UNIT
		awk -v b="$1" -v u="$2" '$1 ~ "^Benchmark" b "(-[0-9]+)?$" {for (i = 3; i < NF; i++) if ($(i + 1) == u) print $i}' "$feeds"
	}
	build_rate=$(metric FeedsBuild records/s)
	import_rate=$(metric FeedsImport records/s)
	lookups_s=$(metric PackageLookups s/10k-lookups)
	r_import=$(awk -v r="$import_rate" 'BEGIN {printf "%.2f", r / 20000}')
	import_verdict=PASS
	if ! awk -v r="$import_rate" 'BEGIN {exit !(r >= 20000)}'; then
		import_verdict=FAIL
		fails=$((fails + 1))
	fi
	lookups_verdict=PASS
	if ! awk -v v="$lookups_s" 'BEGIN {exit !(v <= 1)}'; then
		lookups_verdict=FAIL
		fails=$((fails + 1))
	fi
	echo
	row "4. kit build, 4291 Go OSV records/s" "$(printf '%.0f' "$build_rate")" "" "" "" info
	row "   import, Go OSV records/s" "$(printf '%.0f' "$import_rate")" 20000 "$r_import" ">= 1.00x" "$import_verdict"
	row "   10k package lookups / 50k records, s" "$lookups_s" "" "" "<= 1" "$lookups_verdict"
	echo "  4.  go test ./store -run '^\$' -bench 'FeedsBuild|FeedsImport|PackageLookups' -benchtime ${runs}x"
	grep -E 'verify-s|commit-s' "$feeds" | sed 's/^/      /'
else
	log "bench: the feeds benchmarks failed:"
	cat "$feeds" >&2
	fails=$((fails + 1))
fi

if ((fails > 0)); then
	echo "$fails target(s) missed"
	if [[ ${BENCH_STRICT:-0} == 1 ]]; then exit 1; fi
fi

# ---------------------------------------------------------------------------
# Images: ferry mirror vs crane pull --format=oci + tar | zstd, and
# ferry images push vs crane push of the same layout, side by side.
#   BENCH_IMAGES=0        skip this part
#   BENCH_IMG_COUNT       images (default 20), one repository, tags 1..N
#   BENCH_IMG_BASE_MIB    size of the shared base layer (default 64)
#   BENCH_IMG_OWN_MIB     size of each image's own layer (default 8)
# Needs crane (bash scripts/install-tools.sh crane) for the registry
# (crane registry serve) and the baselines.
if [[ ${BENCH_IMAGES:-1} != 0 ]]; then
	command -v crane >/dev/null || { echo "bench: crane not found (bash scripts/install-tools.sh crane)" >&2; exit 2; }
	n=${BENCH_IMG_COUNT:-20} bmib=${BENCH_IMG_BASE_MIB:-64} omib=${BENCH_IMG_OWN_MIB:-8}
	iw=$work/img; mkdir -p "$iw/layers"
	port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
	serve() { # port -> starts crane registry serve in the background, pid in $iw/reg.$1
		crane registry serve --address "127.0.0.1:$1" >/dev/null 2>&1 & echo $! >"$iw/reg.$1"
		for _ in $(seq 50); do curl -fs "http://127.0.0.1:$1/v2/" >/dev/null && return; sleep 0.1; done
	}
	stop() { kill "$(cat "$iw/reg.$1")" 2>/dev/null || true; wait "$(cat "$iw/reg.$1")" 2>/dev/null || true; }
	layer() { # name mib iv
		mkdir -p "$iw/l/$1"
		# The counter starts 2^40 blocks apart: with starts 1 apart every
		# layer was the previous one shifted by 16 bytes, which zstd finds.
		head -c "$(($2 << 20))" /dev/zero | openssl enc -aes-128-ctr -K 0f0e0d0c0b0a09080706050403020100 -iv "$(printf '%032x' $(($3 << 40)))" >"$iw/l/$1/data.bin"
		tar -C "$iw/l/$1" -cf "$iw/layers/$1.tar" data.bin
	}
	src=$(port); serve "$src"
	log "bench: images: $n images of $bmib MiB shared + $omib MiB own into 127.0.0.1:$src"
	layer base "$bmib" 1
	crane append -f "$iw/layers/base.tar" -t "127.0.0.1:$src/bench/base:1" --insecure >/dev/null
	yaml="name: bench-img\nchannel: bench\nversion: 1\ncreated: $created\nexpires: 30d\nroot: $work/trust/root.json\nregistries:\n  127.0.0.1:$src: {insecure: true}\nimages:\n"
	refs=()
	for ((i = 1; i <= n; i++)); do
		layer "own$i" "$omib" $((i + 100))
		crane append -b "127.0.0.1:$src/bench/base:1" -f "$iw/layers/own$i.tar" -t "127.0.0.1:$src/bench/app:$i" --insecure >/dev/null
		refs+=("127.0.0.1:$src/bench/app:$i")
		yaml+="  - 127.0.0.1:$src/bench/app:$i\n"
	done
	mkdir -p "$iw/spec"; printf "$yaml" >"$iw/spec/kit.yaml"
	ikit=$iw/img.kit.tar.zst oci=$iw/oci ociz=$iw/oci.tar.zst
	cmd_imirror="'$ferry' mirror -f '$iw/spec/kit.yaml' -o '$ikit' --key '$work/keys/signer.key' --no-progress"
	cmd_cpull="crane pull --insecure --format=oci ${refs[*]} '$oci' && tar -C '$oci' -cf - . | zstd -3 -T0 -q > '$ociz'"
	pair imirror "$cmd_imirror" cpull "$cmd_cpull" "rm -rf '$ikit' '$oci' '$ociz'"
	bash -c "$cmd_imirror" >/dev/null && bash -c "rm -rf '$oci'; $cmd_cpull" >/dev/null 2>&1
	ist=$iw/store
	log "bench: images: importing the kit, then ferry images push vs crane push"
	"$ferry" import "$ikit" --store "$ist" --root "$work/trust/root.json" --at "$at" --reason "bench: fixed clock" >/dev/null
	dst=$(port)
	cmd_ipush="'$ferry' images push --store '$ist' --to 127.0.0.1:$dst --insecure"
	cmd_cpush="crane push --insecure --index '$oci' 127.0.0.1:$dst/bench/app:all"
	# A fresh, empty registry for every run: restart it (untimed).
	pair ipush "$cmd_ipush" cpush "$cmd_cpush" "kill \$(cat '$iw/reg.$dst' 2>/dev/null) 2>/dev/null; sleep 0.2; (crane registry serve --address 127.0.0.1:$dst >/dev/null 2>&1 & echo \$! > '$iw/reg.$dst'); for _ in \$(seq 50); do curl -fs http://127.0.0.1:$dst/v2/ >/dev/null && break; sleep 0.1; done"
	stop "$dst"; stop "$src"
	logical=$(( (bmib + omib) * n )); stored=$(( bmib + omib * n ))
	im_w=$(median imirror 1) cp_w=$(median cpull 1) ip_w=$(median ipush 1) cps_w=$(median cpush 1)
	r_im=$(ratio "$im_w" "$cp_w") r_ip=$(ratio "$ip_w" "$cps_w")
	echo
	row "images ($n x ($bmib + $omib) MiB)" ferry crane ratio target result
	verdict "$r_im" 1.3
	row "6. mirror $n images, wall s" "$im_w" "$cp_w" "$r_im" "<= 1.3x" "$v"
	verdict "$r_ip" 1.2
	row "7. images push $n images, wall s" "$ip_w" "$cps_w" "$r_ip" "<= 1.2x" "$v"
	row "   layer MiB: per image / stored once" "$logical" "$stored" "" "" "saved $((logical - stored)) MiB"
	# Measured on the layout: the blobs of every image counted per image
	# (manifest, config, layers) against the blobs stored once.
	read -r lb sb < <(python3 - "$oci" <<'PY'
import json, os, sys
d = sys.argv[1]
blob = lambda h: os.path.join(d, "blobs", *h.split(":"))
logical = 0
for m in json.load(open(os.path.join(d, "index.json")))["manifests"]:
    man = json.load(open(blob(m["digest"])))
    logical += m["size"] + man["config"]["size"] + sum(l["size"] for l in man["layers"])
stored = sum(os.path.getsize(os.path.join(d, "blobs", "sha256", f)) for f in os.listdir(os.path.join(d, "blobs", "sha256")))
print(logical, stored)
PY
	)
	row "   blob bytes: per image / stored once" "$lb" "$sb" "" "" "saved $((lb - sb)) bytes"
	echo "  6.  ${cmd_imirror//$work/\$W}"
	echo "      ${cmd_cpull//$work/\$W}"
	echo "  7.  ${cmd_ipush//$work/\$W}"
	echo "      ${cmd_cpush//$work/\$W}   (the same layout, one index, one repository)"
	if ((fails > 0)) && [[ ${BENCH_STRICT:-0} == 1 ]]; then exit 1; fi
fi

# ---------------------------------------------------------------------------
# Scanning: ferry scan vs osv-scanner v2 `scan image --offline` on
# one docker-archive image holding a ~30 MB Go binary (ferry itself,
# stripped) and a dpkg database of 400 packages, same Go advisory database
# (shared corpus osv/go: for ferry imported from a kit into a store, for
# osv-scanner its local zip database; an empty Debian database for
# osv-scanner, and ferry reports Debian as NO_ADVISORY_DATA); target: ferry
# --store >= 3x faster (wall); ferry --advisories DIR as info.
# Then the Go benchmark: matching 10,000 packages against 50,000 OSV records,
# target <= 1 s.
#   BENCH_SCAN=0    skip this part
#   FERRY_PEERS     where peers are installed (default ~/.cache/ferry/peers);
#                   osv-scanner is installed there with GOTOOLCHAIN=go1.27.3
#                   when missing (a few minutes on 2 cores)
if [[ ${BENCH_SCAN:-1} != 0 ]]; then
	corpus=${CORPUS:-$(cd "$repo/.." && pwd)/shared/corpus}
	peers=${FERRY_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/peers}
	sw=$work/scan; mkdir -p "$sw/root/usr/local/bin" "$sw/root/var/lib/dpkg" "$sw/root/etc" "$sw/db/osv-scalibr/Go" "$sw/db/osv-scalibr/Debian"
	if [[ ! -x $peers/osv-scanner ]]; then
		log "bench: installing osv-scanner v2.6.0 into $peers"
		mkdir -p "$peers"
		GOBIN=$peers GOTOOLCHAIN=go1.27.3 GOFLAGS= go install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.6.0 >&2 ||
			log "bench: !!! osv-scanner did not install: the scan comparison is SKIPPED"
	fi
	(cd "$repo" && go build -ldflags='-s -w' -o "$sw/root/usr/local/bin/app" ./cmd/ferry)
	printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n' >"$sw/root/etc/os-release"
	for ((i = 0; i < 400; i++)); do
		printf 'Package: pkg%03d\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nSource: src%03d\nVersion: 1.%d-1\nDescription: synthetic package %d\n\n' "$i" "$((i / 4))" "$i" "$i"
	done >"$sw/root/var/lib/dpkg/status"
	python3 - "$sw/root" "$sw/image.tar" "$corpus/osv/go" "$sw/db/osv-scalibr" "$repo/scripts" <<'PY'
import os, sys, zipfile
root, out, osvgo, db, scripts = sys.argv[1:6]
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, scripts)
import dockerarchive
dockerarchive.write(root, out, "bench/scan:1")
with zipfile.ZipFile(os.path.join(db, "Go", "all.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for n in sorted(os.listdir(osvgo)):
        if n.endswith(".json"):
            z.write(os.path.join(osvgo, n), n)
zipfile.ZipFile(os.path.join(db, "Debian", "all.zip"), "w").close()
PY
	binmib=$(du -m "$sw/root/usr/local/bin/app" | cut -f1)
	# ferry's path at a site: the Go OSV records come in a kit, imported
	# once into the store (untimed); the scan looks up only the packages it
	# found. --advisories DIR (parsing all 4291 files each run) is info.
	mkdir -p "$sw/kit"
	printf 'name: bench-scan\nchannel: bench\nversion: 1\ncreated: %s\nexpires: 30d\nroot: %s\nadvisories:\n  - name: govulndb\n    osv: {dir: %s}\n' \
		"$created" "$work/trust/root.json" "$corpus/osv/go" >"$sw/kit/kit.yaml"
	"$ferry" mirror -f "$sw/kit/kit.yaml" -o "$sw/scan.kit.tar.zst" --key "$work/keys/signer.key" --no-progress >/dev/null
	"$ferry" import "$sw/scan.kit.tar.zst" --store "$sw/store" --root "$work/trust/root.json" --at "$at" --reason "bench: fixed clock" >/dev/null
	cmd_scan="'$ferry' scan 'docker-archive:$sw/image.tar' --store '$sw/store' --format json"
	cmd_scan_adv="'$ferry' scan 'docker-archive:$sw/image.tar' --advisories '$corpus/osv/go' --format json"
	cmd_osvs="'$peers/osv-scanner' scan image --offline --local-db-path '$sw/db' --archive '$sw/image.tar' --format json; test \$? -le 1"
	if [[ -x $peers/osv-scanner ]]; then
		log "bench: 5. scanning an image (${binmib} MB Go binary + 400 dpkg packages): ferry scan vs osv-scanner scan image --offline"
		pair scan "$cmd_scan" osvs "$cmd_osvs"
		bash -c "$cmd_scan_adv" >/dev/null 2>&1; : >"$work/m/scanadv"
		for ((i = 0; i < runs; i++)); do measure scanadv "$cmd_scan_adv"; done
		s_w=$(median scan 1) o_w=$(median osvs 1) sa_w=$(median scanadv 1)
		r_scan=$(ratio "$o_w" "$s_w")
		scan_verdict=PASS
		if ! awk -v r="$r_scan" 'BEGIN {exit !(r >= 3)}'; then scan_verdict=FAIL; fails=$((fails + 1)); fi
		echo
		row "5. scan image ${binmib}MB Go bin + 400 deb, wall s" "$s_w" "$o_w" "${r_scan}x" ">= 3x faster" "$scan_verdict"
		row "   scan image, peak RSS MiB (info)" "$(mibs "$(median scan 2)")" "$(mibs "$(median osvs 2)")" "" "" info
		row "   scan --advisories DIR, wall s (info)" "$sa_w" "$o_w" "$(ratio "$o_w" "$sa_w")x" "" info
		echo "  5.  ${cmd_scan//$work/\$W}"
		echo "      ${cmd_osvs//$work/\$W}"
		echo "      ${cmd_scan_adv//$work/\$W}   (info)"
	else
		echo "5. scan image: SKIPPED (osv-scanner not installed)"
	fi
	# Go symbol evidence: the same scan with --evidence (reads the
	# binary's function names into a set of hashes, in the background
	# while the packages are matched, decides a level per Go finding once
	# all are matched and feeds the ferry:symbols statements into the VEX
	# consensus). Target: the scan with evidence costs <= 1.5x the plain
	# one, wall; CPU and peak RSS are info.
	#   BENCH_EVIDENCE=0   skip
	if [[ ${BENCH_EVIDENCE:-1} != 0 ]]; then
		cmd_scan_ev="$cmd_scan --evidence"
		log "bench: 5b. the same scan with and without --evidence (${binmib} MB Go binary)"
		pair scanplain "$cmd_scan" scanev "$cmd_scan_ev"
		sp_w=$(median scanplain 1) se_w=$(median scanev 1)
		echo
		r_ev=$(ratio "$se_w" "$sp_w")
		verdict "$r_ev" 1.5
		row "5b. scan --evidence, wall s" "$se_w" "$sp_w" "${r_ev}x" "<= 1.5x" "$v"
		row "    scan --evidence, CPU s (info)" "$(median scanev 3)" "$(median scanplain 3)" "$(ratio "$(median scanev 3)" "$(median scanplain 3)")x" "" info
		row "    scan --evidence, peak RSS MiB (info)" "$(mibs "$(median scanev 2)")" "$(mibs "$(median scanplain 2)")" "" "" info
		echo "  5b. ${cmd_scan_ev//$work/\$W}   vs   ${cmd_scan//$work/\$W}"
	fi
	# 5c. The holdout-style image (one Go binary + 700 dpkg packages, same
	# Go and Debian data for both tools): ferry scan --evidence vs
	# osv-scanner, target >= 10x (scripts/bench_scanimage.sh).
	#   BENCH_SCANIMAGE=0   skip
	if [[ ${BENCH_SCANIMAGE:-1} != 0 ]]; then
		bench_scanimage
	fi
	mb=$work/m/match.txt
	if (cd "$repo" && go test ./scan -run '^$' -bench 'Match10kPackages50kRecords' -benchtime "${runs}x" -count 1) >"$mb" 2>&1; then
		match_s=$(awk '$1 ~ /^BenchmarkMatch10kPackages50kRecords/ {printf "%.3f", $3 / 1e9}' "$mb")
		match_verdict=PASS
		if ! awk -v v="$match_s" 'BEGIN {exit !(v <= 1)}'; then match_verdict=FAIL; fails=$((fails + 1)); fi
		row "6. match 10k packages / 50k OSV records, s" "$match_s" "" "" "<= 1" "$match_verdict"
		echo "  6.  go test ./scan -run '^\$' -bench Match10kPackages50kRecords -benchtime ${runs}x"
	else
		log "bench: the scan matching benchmark failed:"; cat "$mb" >&2; fails=$((fails + 1))
	fi
	if ((fails > 0)) && [[ ${BENCH_STRICT:-0} == 1 ]]; then echo "$fails target(s) missed"; exit 1; fi
fi

# ---------------------------------------------------------------------------
# Scanning per ecosystem: ferry scan vs osv-scanner v2 --offline on the
# conformance targets of scan/testdata (an npm project's lockfiles, a
# Debian 12 site-packages tree, Debian 12's Maven jars, an AlmaLinux 9 rpm
# database as a one-layer docker archive) and the corpus's records of each
# ecosystem: for ferry imported from one kit into a store (untimed, as at a
# site), for osv-scanner its local zip databases. Target: ferry --store
# >= 3x faster (wall) on each; ferry --advisories DIR (every record file
# skimmed on each run) and the CPU ratio as info.
#   BENCH_ECO=0   skip this part
if [[ ${BENCH_ECO:-1} != 0 ]]; then
	corpus=${CORPUS:-$(cd "$repo/.." && pwd)/shared/corpus}
	peers=${FERRY_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/peers}
	td=$repo/scan/testdata
	ew=$work/eco; mkdir -p "$ew/db/osv-scalibr" "$ew/kit"
	if [[ ! -x $peers/osv-scanner ]]; then
		echo "9. scan per ecosystem: SKIPPED (osv-scanner not installed; the scan part installs it)"
	elif [[ ! -d $corpus/osv/npm ]]; then
		echo "9. scan per ecosystem: SKIPPED (no $corpus/osv/npm)"
	else
		python3 - "$corpus/osv" "$ew/db/osv-scalibr" "$td/ecosystems/rpm" "$ew/alma.tar" <<'PY'
import hashlib, io, json, os, sys, tarfile, zipfile
osv, db, rpmroot, out = sys.argv[1:5]
for src, eco in [("npm", "npm"), ("PyPI", "PyPI"), ("Maven", "Maven"), ("AlmaLinux", "AlmaLinux")]:
    os.makedirs(os.path.join(db, eco), exist_ok=True)
    with zipfile.ZipFile(os.path.join(db, eco, "all.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for d, _, fs in sorted(os.walk(os.path.join(osv, src))):
            for f in sorted(fs):
                if f.endswith(".json"):
                    p = os.path.join(d, f)
                    z.write(p, os.path.relpath(p, os.path.join(osv, src)).replace(os.sep, "_"))
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name in ["etc/os-release", "var/lib/rpm/rpmdb.sqlite"]:
        data = open(os.path.join(rpmroot, name), "rb").read()
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
lb = layer.getvalue(); ld = hashlib.sha256(lb).hexdigest()
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + ld]}}).encode()
cd = hashlib.sha256(cfg).hexdigest()
with tarfile.open(out, "w") as t:
    def add(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    add(ld + "/layer.tar", lb); add(cd + ".json", cfg)
    add("manifest.json", json.dumps([{"Config": cd + ".json", "RepoTags": ["bench/alma:9"], "Layers": [ld + "/layer.tar"]}]).encode())
PY
		{
			printf 'name: bench-eco\nchannel: bench\nversion: 1\ncreated: %s\nexpires: 30d\nroot: %s\nadvisories:\n' "$created" "$work/trust/root.json"
			for e in npm PyPI Maven AlmaLinux; do
				printf '  - name: %s\n    osv: {dir: %s}\n    skip-invalid: true\n' "$(echo "$e" | tr A-Z a-z)" "$corpus/osv/$e"
			done
		} >"$ew/kit/kit.yaml"
		"$ferry" mirror -f "$ew/kit/kit.yaml" -o "$ew/eco.kit.tar.zst" --key "$work/keys/signer.key" --no-progress >/dev/null
		"$ferry" import "$ew/eco.kit.tar.zst" --store "$ew/store" --root "$work/trust/root.json" --at "$at" --reason "bench clock" >/dev/null
		osvs="'$peers/osv-scanner' scan"
		odb="--offline --local-db-path '$ew/db' --format json"
		echo
		row "9. scan per ecosystem, wall s" ferry osv-scan ratio target result
		for e in npm PyPI Maven AlmaLinux; do
			case $e in
			npm) ft="dir:$td/npm/v3" adv=$corpus/osv/npm oc="$osvs source $odb -r '$td/npm/v3'" ;;
			PyPI) ft="dir:$td/ecosystems/python" adv=$corpus/osv/PyPI oc="$osvs source $odb --experimental-plugins python/wheelegg -r '$td/ecosystems/python'" ;;
			Maven) ft="dir:$td/ecosystems/maven" adv=$corpus/osv/Maven oc="$osvs source $odb --experimental-plugins java/archive -r '$td/ecosystems/maven'" ;;
			AlmaLinux) ft="docker-archive:$ew/alma.tar" adv=$corpus/osv/AlmaLinux oc="$osvs image $odb --archive '$ew/alma.tar'" ;;
			esac
			fc="'$ferry' scan '$ft' --store '$ew/store' --format json; test \$? -le 1"
			fa="'$ferry' scan '$ft' --advisories '$adv' --format json; test \$? -le 1"
			oc="$oc; test \$? -le 1"
			log "bench: 9. scanning the $e target: ferry scan vs osv-scanner --offline"
			pair "eco_f_$e" "$fc" "eco_o_$e" "$oc"
			: >"$work/m/eco_a_$e"
			for ((i = 0; i < runs; i++)); do measure "eco_a_$e" "$fa"; done
			f_w=$(median "eco_f_$e" 1) o_w=$(median "eco_o_$e" 1) a_w=$(median "eco_a_$e" 1)
			r=$(ratio "$o_w" "$f_w")
			ev=PASS
			if ! awk -v r="$r" 'BEGIN {exit !(r >= 3)}'; then ev=FAIL; fails=$((fails + 1)); fi
			row "   $e --store" "$f_w" "$o_w" "${r}x" ">= 3x faster" "$ev"
			row "   $e --advisories DIR (info)" "$a_w" "$o_w" "$(ratio "$o_w" "$a_w")x" "" info
			row "   $e CPU s, --store (info)" "$(median "eco_f_$e" 3)" "$(median "eco_o_$e" 3)" "$(ratio "$(median "eco_o_$e" 3)" "$(median "eco_f_$e" 3)")x" "" info
		done
		echo "  9.  ferry scan TARGET --store S --format json   vs   osv-scanner scan source|image --offline --local-db-path DB --format json"
	fi
	if ((fails > 0)) && [[ ${BENCH_STRICT:-0} == 1 ]]; then echo "$fails target(s) missed"; exit 1; fi
fi

# ---------------------------------------------------------------------------
# VEX consensus: 100,000 statements from 50 issuers over 10,000
# (vulnerability, product) pairs (vex/consensus BenchmarkConsensus), in a
# test binary under GNU time: time per run (target <= 1 s), allocation per
# run and the process's peak RSS (the statements themselves included),
# target <= 256 MiB.
#   BENCH_VEX=0   skip this part
if [[ ${BENCH_VEX:-1} != 0 ]]; then
	vb=$work/m/consensus.txt
	log "bench: 8. VEX consensus of 100,000 statements (go test -bench Consensus, peak RSS)"
	if (cd "$repo" && go test -c -o "$work/bin/consensus.test" ./vex/consensus) >"$vb" 2>&1 &&
		"$gtime" -f '%M' -o "$vb.rss" "$work/bin/consensus.test" -test.run '^$' -test.bench '^BenchmarkConsensus$' \
			-test.benchtime "${runs}x" -test.benchmem >"$vb" 2>&1; then
		read -r c_ns c_b c_allocs < <(awk '$1 ~ /^BenchmarkConsensus/ {for (i = 3; i < NF; i++) {if ($(i + 1) == "ns/op") ns = $i; if ($(i + 1) == "B/op") b = $i; if ($(i + 1) == "allocs/op") a = $i}} END {print ns, b, a}' "$vb")
		c_rss=$(tail -n1 "$vb.rss")
		echo
		c_s=$(awk -v n="$c_ns" 'BEGIN {printf "%.3f", n / 1e9}')
		verdict "$c_s" 1
		row "8. consensus 100k statements, s/run" "$c_s" "" "" "<= 1" "$v"
		row "   consensus, MB allocated/run, allocs/run" "$(awk -v b="$c_b" 'BEGIN {printf "%.1f", b / 1e6}')" "$c_allocs" "" "" info
		verdict "$(mibs "$c_rss")" 256
		row "   consensus, peak RSS MiB" "$(mibs "$c_rss")" "" "" "<= 256" "$v"
		echo "  8.  go test -c ./vex/consensus && /usr/bin/time -f %M consensus.test -test.run '^\$' -test.bench '^BenchmarkConsensus\$' -test.benchtime ${runs}x -test.benchmem"
	else
		log "bench: the consensus benchmark failed:"; cat "$vb" >&2; fails=$((fails + 1))
	fi
	if ((fails > 0)) && [[ ${BENCH_STRICT:-0} == 1 ]]; then echo "$fails target(s) missed"; exit 1; fi
fi

# ---------------------------------------------------------------------------
# The release gate: one image of 1,000 packages against the whole Go
# database and 10,000 VEX statements (<= 200 ms end to end, <= 128 MiB), a
# release of 100 images (<= 5 s). scripts/bench-gate.sh, which also runs
# alone.
#   BENCH_GATE=0   skip this part
if [[ ${BENCH_GATE:-1} != 0 ]]; then
	log "bench: 10. the release gate (scripts/bench-gate.sh)"
	if ! FERRY_BIN=$ferry BENCH_DIR=$work bash "$repo/scripts/bench-gate.sh"; then
		fails=$((fails + 1))
		if [[ ${BENCH_STRICT:-0} == 1 ]]; then echo "the gate target(s) missed"; exit 1; fi
	fi
fi

# 11. ferry import oci:// against crane pull + ferry import (bench_oci.sh).
#   BENCH_OCI=0   skip this part
if [[ ${BENCH_OCI:-1} != 0 ]]; then
	bench_oci
	if ((${fails:-0} > 0)) && [[ ${BENCH_STRICT:-0} == 1 ]]; then echo "$fails target(s) missed"; exit 1; fi
fi

# ---------------------------------------------------------------------------
# Parts: verifying the big kit written in 8 parts (mirror --split) against
# verifying it as one file; target <= 1.05x (wall). The parts are read in
# order as one stream, each hashed as it goes.
#   BENCH_PARTS=0   skip this part
#   BENCH_PARTS_N   parts (default 8)
if [[ ${BENCH_PARTS:-1} != 0 ]]; then
	np=${BENCH_PARTS_N:-8}
	ksize=$(stat -c %s "$kit")
	psize=$(( (ksize + np - 1) / np ))
	pkit=$work/out/parts.kit.tar.zst
	log "bench: 12. verifying the $((files * mib)) MiB kit in $np parts of $psize bytes vs as one file"
	"$ferry" mirror -f "$work/big/kit.yaml" -o "$pkit" --key "$work/keys/signer.key" --split "$psize" --no-progress >/dev/null
	if ! cat "$pkit".[0-9][0-9][0-9] | cmp -s - "$kit"; then
		echo "bench: the parts are not the kit cut in pieces" >&2
		fails=$((fails + 1))
	fi
	cmd_vparts="'$ferry' verify '$pkit.001' --root '$work/trust/root.json' --at $at"
	pair vparts "$cmd_vparts" vwhole "$cmd_verify"
	vp_w=$(median vparts 1) vw_w=$(median vwhole 1)
	r_parts=$(ratio "$vp_w" "$vw_w")
	verdict "$r_parts" 1.05
	echo
	row "12. verify $big in $np parts, wall s" "$vp_w" "$vw_w" "$r_parts" "<= 1.05x" "$v"
	row "   verify in parts, peak RSS MiB (info)" "$(mibs "$(median vparts 2)")" "$(mibs "$(median vwhole 2)")" "" "" info
	echo "  12. ${cmd_vparts//$work/\$W}   vs   ${cmd_verify//$work/\$W}"
fi

# ---------------------------------------------------------------------------
# Delta kits: a typical day (1 of 20 images rebuilt on shared base layers,
# 1 % of the advisories modified — the Go OSV corpus when FERRY_CORPUS has
# it, else 4291 generated records —, 2 of 10 VEX documents updated), built
# from generated data (store BenchmarkDeltaDay): the delta's size against
# the full kit's (target <= 5 %) and importing the base and then the delta
# against importing the full kit (target <= 1.1x).
#   BENCH_DELTA=0   skip this part
if [[ ${BENCH_DELTA:-1} != 0 ]]; then
	db=$work/m/delta.txt
	log "bench: 13. delta kit of a typical day (go test -bench DeltaDay)"
	if (cd "$repo" && go test ./store -run '^$' -bench '^BenchmarkDeltaDay$' -benchtime "${runs}x" -count 1) >"$db" 2>&1; then
		metric() { awk -v m="$1" '$1 ~ /^BenchmarkDeltaDay/ {for (i = 3; i < NF; i++) if ($(i + 1) == m) print $i}' "$db"; }
		d_full=$(metric full-bytes); d_delta=$(metric delta-bytes); d_pct=$(metric delta-%)
		d_tf=$(metric import-full-s); d_tb=$(metric import-base-s); d_td=$(metric import-delta-s); d_r=$(metric median-base+delta/full)
		echo
		row "delta kits (typical day)" ferry full ratio target result
		verdict "$d_pct" 5
		row "13. delta / full kit, bytes" "$d_delta" "$d_full" "$(printf '%.2f%%' "$d_pct")" "<= 5%" "$v"
		verdict "$d_r" 1.10
		row "   import base + delta / full (median of rounds)" "$(awk -v a="$d_tb" -v b="$d_td" 'BEGIN {printf "%.2f", a + b}')" "$d_tf" "${d_r}x" "<= 1.10x" "$v"
		row "   import base + delta / full, summed times (info)" "" "" "$(metric base+delta/full)x" "" info
		row "   import of the delta alone, s" "$d_td" "$d_tf" "$(ratio "$d_td" "$d_tf")" "" info
		row "   import base + delta / full, CPU (info)" "" "" "$(metric cpu-base+delta/full)x" "" info
		row "   plain write+fsync of the same bytes (info)" "" "" "$(metric plain-base+delta/full)x" "" info
		echo "  13. go test ./store -run '^\$' -bench '^BenchmarkDeltaDay\$' -benchtime ${runs}x"
	else
		log "bench: the delta benchmark failed:"; cat "$db" >&2; fails=$((fails + 1))
	fi
	if ((fails > 0)) && [[ ${BENCH_STRICT:-0} == 1 ]]; then echo "$fails target(s) missed"; exit 1; fi
fi
