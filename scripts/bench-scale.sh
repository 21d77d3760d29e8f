#!/usr/bin/env bash
# bench-scale.sh: how each step's cost grows with the advisory data. For
# every N it writes N OSV records made from the real ones of the corpus
# (every ecosystem there; scripts/scalegen: ids and package names rewritten
# so that they are distinct), builds a kit of them (ferry mirror), verifies
# it, imports it into a fresh store and scans the same three targets against
# that store: a Go binary, an npm project (package-lock.json) and a root
# filesystem with a dpkg status file and an rpm database. Then it imports a
# kit that replaces the first (version 2, N other records) and runs ferry
# store gc --keep 0, measuring the store's size before and after. It prints
# a table of wall time, CPU time, peak RSS and store size per N, and the
# growth from the first N to the last.
#
#   bash scripts/bench-scale.sh          # from the repo root (make bench-scale)
#   N="50000 200000" bash scripts/bench-scale.sh
#
# Environment:
#   N                the record counts, in increasing order
#                    (default "50000 200000 500000")
#   BENCH_DIR        where to put data (a fresh subdirectory is made and
#                    removed); default: a mktemp directory. Needs about
#                    6 KiB of disk per record at the largest N.
#   CORPUS           the corpus (default ../shared/corpus beside the repo);
#                    its osv/ directory is the source of the records
#   BENCH_HASH=0     skip the verify-hashing step (a kit of 10,000 files of
#                    100 KiB: ferry verify vs zstd -d | sha256sum)
#   BENCH_SCAN_RUNS  runs of each scan, of which the median is reported
#                    (default 5)
#   BENCH_GC=0       skip the gc step (per N, after the scans: import a
#                    replacing kit of N other records as version 2, then
#                    ferry store gc --keep 0; the store's size before and
#                    after, target after gc <= 1.10x the store of one kit)
#   BENCH_DELTA=0    skip the next day's delta (per N, after the import:
#                    1 % of the records modified, ferry mirror --base, its
#                    import onto a copy of the store)
#
# Needs go, zstd, python3 and GNU time (/usr/bin/time).
set -euo pipefail

ns=${N:-50000 200000 500000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${CORPUS:-$(cd "$repo/.." && pwd)/shared/corpus}
[[ -d $corpus/osv ]] || { echo "bench-scale: no corpus at $corpus/osv (set CORPUS)" >&2; exit 2; }
for tool in go zstd python3 sha256sum; do
	command -v "$tool" >/dev/null || { echo "bench-scale: $tool not found" >&2; exit 2; }
done
gtime=/usr/bin/time
"$gtime" -f %M true >/dev/null 2>&1 || { echo "bench-scale: GNU time not found at $gtime" >&2; exit 2; }

if [[ -n ${BENCH_DIR:-} ]]; then
	mkdir -p "$BENCH_DIR"
	work=$(mktemp -d "$BENCH_DIR/ferry-scale.XXXXXX")
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-scale.XXXXXX")
fi
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '%s\n' "$*" >&2; }

log "bench-scale: building ferry and scalegen into $work/bin"
(cd "$repo" && go build -o "$work/bin/ferry" ./cmd/ferry && go build -o "$work/bin/scalegen" ./scripts/scalegen)
ferry=$work/bin/ferry

created=$(date -u +%Y-%m-%dT00:00:00Z)
at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$ferry" keys generate --out "$work/keys" --name root >/dev/null
"$ferry" keys generate --out "$work/keys" --name signer >/dev/null
"$ferry" trust init --channel scale --root-key "$work/keys/root.key" --signing-key "$work/keys/signer.key" \
	--out "$work/trust/root.json" >/dev/null

# The scan targets, the same for every N.
t=$work/targets
mkdir -p "$t/bin" "$t/npm" "$t/rootfs/var/lib/dpkg" "$t/rootfs/var/lib/rpm" "$t/rootfs/etc"
(cd "$repo" && go build -ldflags='-s -w' -o "$t/bin/app" ./cmd/ferry)
rpmdb=$(cd "$repo" && go list -m -f '{{.Dir}}' github.com/erikvarga/go-rpmdb)/pkg/testdata/fedora35/rpmdb.sqlite
cp "$rpmdb" "$t/rootfs/var/lib/rpm/rpmdb.sqlite"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n' >"$t/rootfs/etc/os-release"
for ((i = 0; i < 700; i++)); do
	printf 'Package: pkg%03d\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nSource: src%03d\nVersion: 1.%d-1\nDescription: synthetic package %d\n\n' "$i" "$((i / 4))" "$i" "$i"
done >"$t/rootfs/var/lib/dpkg/status"
# The npm project: one package of every npm advisory of the corpus, at the
# version its first range introduces (so that the scan has findings).
python3 - "$corpus/osv/npm" "$t/npm/package-lock.json" <<'PY'
import json, os, sys
src, out = sys.argv[1:3]
pkgs = {"": {"name": "bench", "version": "1.0.0"}}
for n in sorted(os.listdir(src)):
    if not n.endswith(".json"):
        continue
    rec = json.load(open(os.path.join(src, n)))
    for a in rec.get("affected", []):
        name = a.get("package", {}).get("name")
        ver = None
        for r in a.get("ranges", []):
            for e in r.get("events", []):
                if "introduced" in e:
                    ver = e["introduced"] if e["introduced"] != "0" else "0.0.1"
                    break
            if ver:
                break
        if name and ver and "node_modules/" + name not in pkgs:
            pkgs["node_modules/" + name] = {"version": ver}
json.dump({"name": "bench", "version": "1.0.0", "lockfileVersion": 3, "packages": pkgs}, open(out, "w"), indent=1)
PY
binmib=$(du -m "$t/bin/app" | cut -f1)

# measure NAME CMD: runs CMD under GNU time; sets the globals wall, cpu
# (user+sys s) and rss (MiB), and keeps stdout in $work/m/NAME.out.
mkdir -p "$work/m"
scanruns=${BENCH_SCAN_RUNS:-5}
measure() {
	local name=$1 cmd=$2
	if ! "$gtime" -f '%e %U %S %M' -o "$work/m/$name.time" bash -c "$cmd" >"$work/m/$name.out" 2>"$work/m/$name.err"; then
		# ferry scan exits 1 on findings only with --fail-on; any other
		# non-zero exit is a failure.
		log "bench-scale: command failed: $cmd"
		cat "$work/m/$name.err" >&2
		exit 1
	fi
	read -r wall u s rss < <(tail -n1 "$work/m/$name.time")
	cpu=$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')
	rss=$(awk -v k="$rss" 'BEGIN {printf "%.0f", k / 1024}')
}

: >"$work/rows"
row() { echo "$*" >>"$work/rows"; } # N step wall cpu rss note
for n in $ns; do
	d=$work/n$n
	mkdir -p "$d/kit"
	log "bench-scale: N=$n: writing the records"
	read -r _ _ _ jsonbytes < <("$work/bin/scalegen" -corpus "$corpus/osv" -n "$n" -o "$d/osv.zip")
	printf 'name: scale\nchannel: scale\nversion: 1\ncreated: %s\nexpires: 30d\nroot: %s\nadvisories:\n  - name: osv\n    osv: {zip: %s}\n    skip-invalid: true\n' \
		"$created" "$work/trust/root.json" "$d/osv.zip" >"$d/kit/kit.yaml"

	log "bench-scale: N=$n: ferry mirror"
	measure "mirror$n" "'$ferry' mirror -f '$d/kit/kit.yaml' -o '$d/scale.kit.tar.zst' --key '$work/keys/signer.key' --no-progress"
	row "$n mirror $wall $cpu $rss $(awk -v n="$n" -v w="$wall" -v c="$cpu" 'BEGIN {printf "%.0f_rec/s_(%.0f/CPU-s)", n / w, n / c}')"
	rm -f "$d/osv.zip"
	log "bench-scale: N=$n: ferry verify"
	measure "verify$n" "'$ferry' verify '$d/scale.kit.tar.zst' --root '$work/trust/root.json' --at '$at'"
	row "$n verify $wall $cpu $rss kit_$(du -m "$d/scale.kit.tar.zst" | cut -f1)_MiB"
	log "bench-scale: N=$n: ferry import"
	measure "import$n" "'$ferry' import '$d/scale.kit.tar.zst' --store '$d/store' --root '$work/trust/root.json' --at '$at' --reason 'bench-scale: fixed clock'"
	phases=$(sed -n 's/^time: //p' "$work/m/import$n.out" | tail -n1 | sed 's/ /_/g')
	row "$n import $wall $cpu $rss $(awk -v n="$n" -v w="$wall" -v c="$cpu" 'BEGIN {printf "%.0f_rec/s_(%.0f/CPU-s)", n / w, n / c}');_$phases"
	if [[ ${BENCH_DELTA:-1} != 0 ]]; then
		# The next day: 1 % of the records modified (scalegen -modify 100),
		# as a delta on the kit (ferry mirror --base: the osv.jsonl as a
		# patch), imported onto a copy of the store (a layer on its file).
		log "bench-scale: N=$n: the next day's delta (1 % of the records modified)"
		"$work/bin/scalegen" -corpus "$corpus/osv" -n "$n" -modify 100 -o "$d/osvd.zip" >/dev/null
		sed -e 's/^version: 1$/version: 2/' -e "s|$d/osv.zip|$d/osvd.zip|" "$d/kit/kit.yaml" >"$d/kit/kitd.yaml"
		measure "mirrord$n" "'$ferry' mirror -f '$d/kit/kitd.yaml' --base '$d/scale.kit.tar.zst' -o '$d/scale.delta.kit.tar.zst' --key '$work/keys/signer.key' --no-progress"
		rm -f "$d/osvd.zip"
		kb=$(du -k "$d/scale.kit.tar.zst" | cut -f1) dkb=$(du -k "$d/scale.delta.kit.tar.zst" | cut -f1)
		row "$n mirror-delta $wall $cpu $rss delta_${dkb}_KiB,_$(awk -v a="$dkb" -v b="$kb" 'BEGIN {printf "%.2f", 100 * a / b}')%_of_the_kit_(${kb}_KiB)"
		cp -r "$d/store" "$d/stored"
		measure "importd$n" "'$ferry' import '$d/scale.delta.kit.tar.zst' --store '$d/stored' --at '$at' --reason 'bench-scale: fixed clock'"
		row "$n import-delta $wall $cpu $rss $(sed -n 's/^time: //p' "$work/m/importd$n.out" | tail -n1 | sed 's/ /_/g')"
		rm -rf "$d/stored" "$d/scale.delta.kit.tar.zst"
	fi
	# On disk (du: allocated blocks) and apparent (the files' lengths):
	# bbolt extends ferry.db ahead of the pages it has written, and those
	# holes take no disk.
	disk=$(du -sk "$d/store" | cut -f1) apparent=$(du -sb "$d/store" | cut -f1)
	row "$n store - - - $((disk >> 10))_MiB_on_disk,_$(awk -v s="$disk" -v j="$jsonbytes" 'BEGIN {printf "%.2f", s * 1024 / j}')x_the_records'_JSON_($((jsonbytes >> 20))_MiB);_apparent_$((apparent >> 20))_MiB,_$(awk -v s="$apparent" -v j="$jsonbytes" 'BEGIN {printf "%.2f", s / j}')x"
	for target in "file:$t/bin/app" "$t/npm/package-lock.json" "dir:$t/rootfs"; do
		log "bench-scale: N=$n: ferry scan $target ($scanruns runs)"
		# A scan takes a tenth of a second: the median of several runs,
		# each timed to the millisecond (GNU time's hundredths are 10–15 %
		# of it), from the child's own rusage.
		read -r wall cpu rss < <(python3 - "$scanruns" "$work/m/scan$n.out" "$ferry" scan "$target" --store "$d/store" --format json --at "$at" <<'PY'
import os, statistics, subprocess, sys, time
runs, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
rows = []
for _ in range(runs):
    with open(out, "wb") as f:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("bench-scale: command failed: " + " ".join(cmd))
    rows.append((wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024))
c = list(zip(*rows))
print("%.3f %.3f %.0f" % (statistics.median(c[0]), statistics.median(c[1]), statistics.median(c[2])))
PY
)
		findings=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len(r.get("findings") or []))' "$work/m/scan$n.out" 2>/dev/null || echo "?")
		case $target in file:*) name=scan-gobin ;; *.json) name=scan-npm ;; *) name=scan-rootfs ;; esac
		row "$n $name $wall $cpu $rss ${findings}_findings"
	done
	if [[ ${BENCH_GC:-1} != 0 ]]; then
		# The replacing kit: version 2 of the channel, N other records
		# (scalegen -set 1: every id, alias and package name renamed).
		# The import keeps version 1 for replay; gc --keep 0 drops it,
		# rewrites ferry.db without its pages and removes its blobs.
		log "bench-scale: N=$n: the replacing kit (version 2, N other records), then ferry store gc --keep 0"
		# Sizes on disk (du: allocated blocks, KiB), as the disk sees them.
		s1=$(du -sk "$d/store" | cut -f1)
		read -r _ _ _ json2 < <("$work/bin/scalegen" -corpus "$corpus/osv" -n "$n" -set 1 -o "$d/osv2.zip")
		sed -e 's/^version: 1$/version: 2/' -e "s|$d/osv.zip|$d/osv2.zip|" "$d/kit/kit.yaml" >"$d/kit/kit2.yaml"
		"$ferry" mirror -f "$d/kit/kit2.yaml" -o "$d/scale2.kit.tar.zst" --key "$work/keys/signer.key" --no-progress >/dev/null
		rm -f "$d/osv2.zip"
		measure "import2$n" "'$ferry' import '$d/scale2.kit.tar.zst' --store '$d/store' --root '$work/trust/root.json' --at '$at' --reason 'bench-scale: fixed clock'"
		rm -f "$d/scale2.kit.tar.zst"
		s2=$(du -sk "$d/store" | cut -f1)
		row "$n import-v2 $wall $cpu $rss store_$((s2 >> 10))_MiB_with_both_kits,_$(awk -v a="$s2" -v b="$s1" 'BEGIN {printf "%.2f", a / b}')x_the_store_of_one_kit_($((s1 >> 10))_MiB)"
		measure "gc$n" "'$ferry' store gc --store '$d/store' --keep 0 --json"
		s3=$(du -sk "$d/store" | cut -f1)
		gcr=$(awk -v a="$s3" -v b="$s1" 'BEGIN {printf "%.2f", a / b}')
		gcv=PASS
		awk -v r="$gcr" 'BEGIN {exit !(r <= 1.10)}' || gcv=FAIL
		gcdb=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("ferry.db_%d_->_%d_MiB,_%d_blobs_(%d_MiB)_removed" % (r["dbBytes"] >> 20, r["dbBytesAfter"] >> 20, r["removed"], r["removedBytes"] >> 20))' "$work/m/gc$n.out")
		row "$n gc $wall $cpu $rss store_$((s2 >> 10))_->_$((s3 >> 10))_MiB:_${gcr}x_the_store_of_one_kit_(target_≤_1.10:_$gcv);_${gcdb};_JSON_v1_$((jsonbytes >> 20)),_v2_$((json2 >> 20))_MiB"
	fi
	rm -rf "$d"
done

echo
echo "ferry scale bench: $(nproc) cores; records made from $corpus/osv; scan targets: a ${binmib} MB Go binary,"
echo "an npm lockfile, a rootfs with 700 dpkg packages and an rpm database (go-rpmdb's fedora35)"
echo
echo "|        N | step        | wall s | CPU s | peak RSS MiB | |"
echo "|---------:|-------------|-------:|------:|-------------:|---|"
awk '{note = $6; for (i = 7; i <= NF; i++) note = note " " $i; gsub(/_/, " ", note)
	printf "| %8s | %-11s | %6s | %5s | %12s | %s |\n", $1, $2, $3, $4, $5, note}' "$work/rows"
first=$(awk 'NR == 1 {print $1}' "$work/rows")
last=$(awk 'END {print $1}' "$work/rows")
if [[ $first != "$last" ]]; then
	echo
	echo "growth from N=$first to N=$last (records ×$(awk -v a="$first" -v b="$last" 'BEGIN {printf "%.1f", b / a}')), wall (CPU):"
	awk -v a="$first" -v b="$last" '$1 == a && $3 != "-" {w[$2] = $3; c[$2] = $4} $1 == b && $3 != "-" {order[++n] = $2; w2[$2] = $3; c2[$2] = $4}
		END {for (i = 1; i <= n; i++) {s = order[i]; if (w[s] > 0 && c[s] > 0) printf "  %-11s ×%.2f (×%.2f)\n", s, w2[s] / w[s], c2[s] / c[s]}}' "$work/rows"
fi
echo "wall time is GNU time's elapsed time: on a shared machine it counts the others' load and disk too; CPU s is user+sys."

# Verify on many cores: a kit of 10,000 files of 100 KiB, ferry verify vs
# one sha256 pass over the decompressed tar (zstd -dc | sha256sum).
if [[ ${BENCH_HASH:-1} != 0 ]]; then
	h=$work/hash
	mkdir -p "$h/data"
	log "bench-scale: verify hashing: writing 10,000 files of 100 KiB"
	python3 - "$h/data" <<'PY'
import hashlib, os, sys
d = sys.argv[1]
block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(3200))  # 100 KiB
for i in range(10000):
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(i.to_bytes(8, "big") + block[8:])
PY
	printf 'name: hash\nchannel: scale\nversion: 1\ncreated: %s\nexpires: 30d\nroot: %s\nfiles:\n  - src: ./data\n    dest: data/\n' \
		"$created" "$work/trust/root.json" >"$h/kit.yaml"
	"$ferry" mirror -f "$h/kit.yaml" -o "$h/hash.kit.tar.zst" --key "$work/keys/signer.key" --no-progress >/dev/null
	rm -rf "$h/data"
	measure hashsum "zstd -dc '$h/hash.kit.tar.zst' | sha256sum"
	sum_w=$wall sum_c=$cpu
	measure hashverify "'$ferry' verify '$h/hash.kit.tar.zst' --root '$work/trust/root.json' --at '$at'"
	echo
	echo "verify a kit of 10,000 files of 100 KiB: ferry verify ${wall} s (CPU ${cpu} s), zstd -dc | sha256sum ${sum_w} s (CPU ${sum_c} s): ×$(awk -v a="$wall" -v b="$sum_w" 'BEGIN {printf "%.2f", a / b}') (target ≤ 0.8)"
fi
