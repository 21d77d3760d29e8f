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
#
# Needs go, zstd, openssl, tar and GNU time (/usr/bin/time; Debian package
# "time").
set -euo pipefail

files=${BENCH_FILES:-64}
small=${BENCH_SMALL:-8}
mib=${BENCH_FILE_MIB:-32}
runs=${BENCH_RUNS:-3}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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
log "bench: writing $((files * mib)) MiB and $((small * mib)) MiB of random files under $work"
gen "$work/big" "$files"
gen "$work/small" "$small"
"$ferry" keys generate --out "$work/keys" --name root >/dev/null
"$ferry" keys generate --out "$work/keys" --name signer >/dev/null
"$ferry" trust init --channel bench --root-key "$work/keys/root.key" --signing-key "$work/keys/signer.key" \
	--out "$work/trust/root.json" >/dev/null
for d in big small; do
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
verdict() { # value limit
	if awk -v v="$1" -v l="$2" 'BEGIN {exit !(v <= l)}'; then echo PASS; else fails=$((fails + 1)); echo FAIL; fi
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
row "1. verify $big, wall s" "$v_w" "$p_w" "$r_verify" "<= 1.15x" "$(verdict "$r_verify" 1.15)"
row "   verify $sm, wall s (info)" "$vs_w" "$ps_w" "$(ratio "$vs_w" "$ps_w")" "" info
row "2. verify $big, peak RSS MiB" "$(mibs "$v_rss")" "" "" "<= 64" "$(verdict "$(mibs "$v_rss")" 64)"
row "   verify $sm, peak RSS MiB" "$(mibs "$vs_rss")" "" "" "<= 64" "$(verdict "$(mibs "$vs_rss")" 64)"
row "   RSS $big / RSS $sm" "$(mibs "$v_rss")" "$(mibs "$vs_rss")" "$r_rss" "<= 1.10x" "$(verdict "$r_rss" 1.10)"
row "3. mirror $big, wall s" "$m_w" "$t_w" "$r_mirror" "<= 1.5x" "$(verdict "$r_mirror" 1.5)"
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

if ((fails > 0)); then
	echo "$fails target(s) missed"
	if [[ ${BENCH_STRICT:-0} == 1 ]]; then exit 1; fi
fi
