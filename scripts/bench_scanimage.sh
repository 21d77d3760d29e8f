# bench_scanimage.sh: step 5c of scripts/bench.sh, sourced by it (it uses
# its $ferry, $work, $runs, $at, $created, log, measure, median and pair),
# or alone with BENCH_ONLY=scanimage bash scripts/bench.sh.
#
# 5c. The holdout-style image: one docker-archive image holding one Go
# binary (ferry itself, stripped, ~30 MB) and a Debian 12 dpkg database of
# 700 packages (175 source packages). `ferry scan --evidence --store` (the
# Go symbol evidence on) against osv-scanner v2 `scan image --offline` of
# the same image. Both tools get the same advisory data:
#   - Go: the corpus's 4291 Go OSV records (osv/go);
#   - Debian: a small generated Debian:12 OSV set, two records per source
#     package, one whose range covers the installed version and one fixed
#     before it, so that both tools really match dpkg packages (700
#     findings, one per binary package, by source name) instead of
#     skipping an empty database.
# For ferry the records come in one kit imported into a store (untimed, as
# at a site); for osv-scanner they are its local zip databases. Medians of
# BENCH_RUNS interleaved runs after a warm-up; target: ferry >= 10x faster,
# wall. CPU and peak RSS are info. The findings of both are counted and
# printed so that a run where either side matched nothing shows, and the
# wall time of `ferry scan --help` (the process start-up alone) is info.

# timed_run OUT CMD...: runs CMD (no shell), exit 0 or 1 (findings) being
# success, and appends to OUT its wall time (s), peak RSS (KiB) and CPU
# time (user + system, s), the columns of bench.sh's measure.
timed_run() {
	python3 - "$@" <<'PY'
import os, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)  # this child's own usage
wall = time.perf_counter() - t
rc = os.waitstatus_to_exitcode(status)
if rc not in (0, 1):
    sys.exit("bench: %s exited %d" % (" ".join(cmd), rc))
with open(out, "a") as f:
    f.write("%.4f %d %.4f\n" % (wall, ru.ru_maxrss, ru.ru_utime + ru.ru_stime))
PY
}

bench_scanimage() {
	local corpus=${CORPUS:-$(cd "$repo/.." && pwd)/shared/corpus}
	local peers=${FERRY_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/peers}
	local hw=$work/scanimage
	if [[ ! -x $peers/osv-scanner ]]; then
		echo "5c. scan holdout-style image: SKIPPED (osv-scanner not installed in $peers)"
		return 0
	fi
	if [[ ! -d $corpus/osv/go ]]; then
		echo "5c. scan holdout-style image: SKIPPED (no $corpus/osv/go)"
		return 0
	fi
	mkdir -p "$hw/root/usr/local/bin" "$hw/root/var/lib/dpkg" "$hw/root/etc" "$hw/debian" \
		"$hw/db/osv-scalibr/Go" "$hw/db/osv-scalibr/Debian" "$hw/kit"
	(cd "$repo" && go build -ldflags='-s -w' -o "$hw/root/usr/local/bin/app" ./cmd/ferry)
	printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n' >"$hw/root/etc/os-release"
	local i
	for ((i = 0; i < 700; i++)); do
		printf 'Package: pkg%03d\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nSource: src%03d\nVersion: 1.%d-1\nDescription: synthetic package %d\n\n' \
			"$i" "$((i / 4))" "$i" "$i"
	done >"$hw/root/var/lib/dpkg/status"
	python3 - "$hw/root" "$hw/image.tar" "$corpus/osv/go" "$hw/db/osv-scalibr" "$hw/debian" "$repo/scripts" <<'PY'
import json, os, sys, zipfile
root, out, osvgo, db, deb, scripts = sys.argv[1:7]
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, scripts)
import dockerarchive
dockerarchive.write(root, out, "bench/holdout:1")
with zipfile.ZipFile(os.path.join(db, "Go", "all.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for n in sorted(os.listdir(osvgo)):
        if n.endswith(".json"):
            z.write(os.path.join(osvgo, n), n)
# Source package s holds binary packages 4s..4s+3 at versions 1.4s-1 ..
# 1.(4s+3)-1: record A is fixed after all of them (a finding), record B
# was fixed before the first (none).
with zipfile.ZipFile(os.path.join(db, "Debian", "all.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for s in range(175):
        for kind, fixed in (("A", "1.%d-1" % (4 * s + 100)), ("B", "0.%d-1" % s)):
            rid = "DEBIAN-BENCH-%03d-%s" % (s, kind)
            rec = {"schema_version": "1.6.0", "id": rid, "modified": "2025-01-01T00:00:00Z",
                   "published": "2025-01-01T00:00:00Z", "summary": "synthetic advisory %s" % rid,
                   "affected": [{"package": {"ecosystem": "Debian:12", "name": "src%03d" % s},
                                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}
            data = json.dumps(rec, indent=1, sort_keys=True).encode()
            with open(os.path.join(deb, rid + ".json"), "wb") as f:
                f.write(data)
            z.writestr(rid + ".json", data)
PY
	local binmib
	binmib=$(du -m "$hw/root/usr/local/bin/app" | cut -f1)
	printf 'name: bench-holdout\nchannel: bench\nversion: 1\ncreated: %s\nexpires: 30d\nroot: %s\nadvisories:\n  - name: govulndb\n    osv: {dir: %s}\n  - name: debian\n    osv: {dir: %s}\n' \
		"$created" "$work/trust/root.json" "$corpus/osv/go" "$hw/debian" >"$hw/kit/kit.yaml"
	"$ferry" mirror -f "$hw/kit/kit.yaml" -o "$hw/scan.kit.tar.zst" --key "$work/keys/signer.key" --no-progress >/dev/null
	"$ferry" import "$hw/scan.kit.tar.zst" --store "$hw/store" --root "$work/trust/root.json" --at "$at" --reason "bench: fixed clock" >/dev/null
	local cmd_f="'$ferry' scan 'docker-archive:$hw/image.tar' --store '$hw/store' --evidence --format json"
	local cmd_o="'$peers/osv-scanner' scan image --offline --local-db-path '$hw/db' --archive '$hw/image.tar' --format json"
	# The findings of each, counted once, untimed: ferry's findings and
	# osv-scanner's (package, vulnerability) pairs, Debian and Go apart.
	bash -c "$cmd_f" >"$hw/ferry.json" 2>/dev/null || true
	bash -c "$cmd_o" >"$hw/osv.json" 2>/dev/null || true
	local counts
	counts=$(python3 - "$hw/ferry.json" "$hw/osv.json" <<'PY'
import json, sys
def load(p):
    try:
        return json.load(open(p))
    except Exception:
        return {}
f, o = load(sys.argv[1]), load(sys.argv[2])
fc = {"deb": 0, "go": 0}
for x in f.get("findings") or []:
    fc["deb" if x["package"]["ecosystem"].startswith("Debian") else "go"] += 1
oc = {"deb": 0, "go": 0}
for r in o.get("results") or []:
    for p in r.get("packages") or []:
        eco = p.get("package", {}).get("ecosystem", "")
        oc["deb" if eco.startswith("Debian") else "go"] += len(p.get("vulnerabilities") or [])
print(fc["deb"], fc["go"], oc["deb"], oc["go"])
PY
)
	local f_deb f_go o_deb o_go
	read -r f_deb f_go o_deb o_go <<<"$counts"
	log "bench: 5c. scanning the holdout-style image (${binmib} MB Go binary + 700 dpkg packages): ferry scan --evidence vs osv-scanner scan image --offline"
	# Each tool is run directly (no shell around it) and timed by
	# timed_run to the tenth of a millisecond: GNU time gives hundredths
	# only (±6 % of a 0.08 s scan), and a shell and GNU time around each
	# run add milliseconds of their own to both sides. One warm-up each,
	# then BENCH_RUNS interleaved runs.
	local ferry_cmd=("$ferry" scan "docker-archive:$hw/image.tar" --store "$hw/store" --evidence --format json)
	local osv_cmd=("$peers/osv-scanner" scan image --offline --local-db-path "$hw/db" --archive "$hw/image.tar" --format json)
	: >"$work/m/holdf"; : >"$work/m/holdo"; : >"$work/m/holdh"
	timed_run /dev/null "${ferry_cmd[@]}"; timed_run /dev/null "${osv_cmd[@]}"
	for ((i = 0; i < runs; i++)); do
		timed_run "$work/m/holdf" "${ferry_cmd[@]}"
		timed_run "$work/m/holdo" "${osv_cmd[@]}"
		# What a ferry process costs before it scans anything (loading
		# the binary, package initialisation): info.
		timed_run "$work/m/holdh" "$ferry" scan --help
	done
	local f_w o_w r v=PASS
	f_w=$(median holdf 1) o_w=$(median holdo 1)
	r=$(awk -v a="$o_w" -v b="$f_w" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
	if ! awk -v r="$r" 'BEGIN {exit !(r >= 10)}'; then v=FAIL; fails=$((${fails:-0} + 1)); fi
	local mib='BEGIN {printf "%.1f", k / 1024}'
	echo
	printf '%-42s %10s %10s %7s %9s  %s\n' "5c. scan --evidence ${binmib}MB Go + 700 deb, wall s" "$f_w" "$o_w" "${r}x" ">= 10x" "$v"
	printf '%-42s %10s %10s %7s %9s  %s\n' "    CPU s user+sys (info)" "$(median holdf 3)" "$(median holdo 3)" \
		"$(awk -v a="$(median holdo 3)" -v b="$(median holdf 3)" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')x" "" info
	printf '%-42s %10s %10s %7s %9s  %s\n' "    peak RSS MiB (info)" "$(awk -v k="$(median holdf 2)" "$mib")" "$(awk -v k="$(median holdo 2)" "$mib")" "" "" info
	printf '%-42s %10s %10s %7s %9s  %s\n' "    findings Debian / Go (info)" "$f_deb / $f_go" "$o_deb / $o_go" "" "" info
	printf '%-42s %10s %10s %7s %9s  %s\n' "    start-up (scan --help), wall s (info)" "$(median holdh 1)" "" "" "" info
	echo "  5c. ${cmd_f//$work/\$W}"
	echo "      ${cmd_o//$work/\$W}"
	rm -rf "$hw"
}
