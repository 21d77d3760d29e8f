#!/usr/bin/env bash
# bench-gate.sh: the release gate's performance targets, on generated data
# and the Go vulnerability database of the shared corpus. bench.sh runs it
# (step 9); it also runs alone:
#
#   bash scripts/bench-gate.sh        # from the repo root
#
#   a. ferry gate of one image with 1,000 packages (a ~30 MB stripped Go
#      binary with its modules, and an npm lockfile for the rest) against a
#      store holding the whole Go database (plus the corpus npm records) and
#      10,000 VEX statements from 20 issuers: end to end, process start to
#      record written: <= 200 ms wall, peak RSS <= 128 MiB;
#   b. ferry gate --release of 100 such images in one run: <= 5 s.
#
# Environment: FERRY_CORPUS (else ../shared/corpus beside the repo),
# BENCH_RUNS (default 3), BENCH_DIR, BENCH_STRICT=1 (exit 1 on a miss),
# BENCH_KEEP=1 (keep the data),
# FERRY_BIN (a built ferry; else built here).
# Needs go, python3 and GNU time (/usr/bin/time).
set -euo pipefail

runs=${BENCH_RUNS:-3}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${FERRY_CORPUS:-${CORPUS:-$(cd "$repo/.." && pwd)/shared/corpus}}
gtime=/usr/bin/time
"$gtime" -f %M true >/dev/null 2>&1 || { echo "bench-gate: GNU time not found at $gtime" >&2; exit 2; }
[[ -d $corpus/osv/go ]] || { echo "bench-gate: no Go OSV corpus at $corpus/osv/go (set FERRY_CORPUS)" >&2; exit 2; }

if [[ -n ${BENCH_DIR:-} ]]; then
	mkdir -p "$BENCH_DIR"
	work=$(mktemp -d "$BENCH_DIR/ferry-bench-gate.XXXXXX")
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-gate.XXXXXX")
fi
[[ ${BENCH_KEEP:-0} == 1 ]] || trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
log() { printf '%s\n' "$*" >&2; }

mkdir -p "$work/bin" "$work/m"
if [[ -n ${FERRY_BIN:-} ]]; then
	ferry=$FERRY_BIN
else
	log "bench-gate: building ferry"
	(cd "$repo" && go build -o "$work/bin/ferry" ./cmd/ferry)
	ferry=$work/bin/ferry
fi
mkdir -p "$work/root/usr/local/bin" "$work/root/srv/app"
(cd "$repo" && go build -ldflags='-s -w' -o "$work/root/usr/local/bin/app" ./cmd/ferry)

created=$(date -u +%Y-%m-%dT00:00:00Z)
at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$ferry" keys generate --out "$work/keys" --name root >/dev/null
"$ferry" keys generate --out "$work/keys" --name signer >/dev/null
"$ferry" trust init --channel bench --root-key "$work/keys/root.key" --signing-key "$work/keys/signer.key" \
	--out "$work/trust/root.json" >/dev/null

log "bench-gate: generating the image (1,000 packages), 10,000 VEX statements and the kit"
go version -m "$work/root/usr/local/bin/app" >"$work/modules.txt"
python3 - "$work" "$corpus/osv" "$repo/scripts" <<'PY'
import json, os, random, sys
work, osv, scripts = sys.argv[1:4]
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, scripts)
import dockerarchive
rnd = random.Random(42)

# The Go modules the binary carries (go version -m): main, deps, stdlib.
mods = []
for line in open(os.path.join(work, "modules.txt")):
    f = line.split()
    if len(f) >= 3 and f[0] in ("mod", "dep"):
        mods.append((f[1], f[2]))
mods.append(("stdlib", "v" + open(os.path.join(work, "modules.txt")).readline().split()[-1].lstrip("go")))

# npm packages to make 1,000 in all: the corpus npm packages first (at a
# version some record names), then synthetic ones.
npm = {}
for n in sorted(os.listdir(os.path.join(osv, "npm"))):
    rec = json.load(open(os.path.join(osv, "npm", n)))
    for a in rec.get("affected", []):
        name = a.get("package", {}).get("name")
        vs = a.get("versions") or []
        if name and name not in npm:
            npm[name] = vs[0] if vs else "0.0.1"
want = 1000 - len(mods)
pkgs = sorted(npm.items())[:want]
i = 0
while len(pkgs) < want:
    pkgs.append(("bench-synthetic-%04d" % i, "1.%d.0" % (i % 50)))
    i += 1
lock = {"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
        "packages": {"": {"name": "app", "version": "1.0.0"}}}
for name, ver in pkgs:
    lock["packages"]["node_modules/" + name] = {"version": ver}
with open(os.path.join(work, "root", "srv", "app", "package-lock.json"), "w") as f:
    json.dump(lock, f, indent=1, sort_keys=True)

# The image: one layer, as docker save writes it.
dockerarchive.write(os.path.join(work, "root"), os.path.join(work, "image.tar"), "bench/gate:1")

# 10,000 VEX statements from 20 issuers in 100 OpenVEX documents: about
# Go advisories (by id or CVE alias) and products that are the image's Go
# modules (with and without version) or other modules, so that many
# findings have statements, several issuers disagree, and most statements
# are about something else.
ids = []
for n in sorted(os.listdir(os.path.join(osv, "go"))):
    if not n.endswith(".json"):
        continue
    rec = json.load(open(os.path.join(osv, "go", n)))
    ids.append([rec["id"]] + [a for a in rec.get("aliases", []) if a.startswith("CVE-")])
gomods = [m for m in mods if m[0] != "stdlib"]
tiers = ["vendor", "distro", "community"]
issuers = ["https://issuer%02d.example/vex" % k for k in range(20)]
os.makedirs(os.path.join(work, "kit", "vex"))
statuses = [("not_affected", "vulnerable_code_not_in_execute_path"), ("affected", None), ("fixed", None),
            ("under_investigation", None), ("not_affected", "component_not_present")]
for d in range(100):
    author = issuers[d % 20]
    sts = []
    for s in range(100):
        vid = rnd.choice(rnd.choice(ids))
        if rnd.random() < 0.3:
            m, v = rnd.choice(gomods)
            prod = "pkg:golang/%s@%s" % (m, v) if rnd.random() < 0.5 else "pkg:golang/" + m
        else:
            prod = "pkg:golang/example.com/other/mod%04d@v1.%d.0" % (rnd.randrange(2000), rnd.randrange(9))
        status, just = rnd.choice(statuses)
        st = {"vulnerability": {"name": vid}, "products": [{"@id": prod}], "status": status}
        if just:
            st["justification"] = just
        if status == "affected":
            st["action_statement"] = "upgrade"
        sts.append(st)
    doc = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "%s/doc-%03d" % (author, d), "author": author,
           "timestamp": "2026-11-%02dT00:00:00Z" % (1 + d % 28), "version": 1, "statements": sts}
    with open(os.path.join(work, "kit", "vex", "doc-%03d.json" % d), "w") as f:
        json.dump(doc, f, indent=1)
with open(os.path.join(work, "kit", "issuers.yaml"), "w") as f:
    f.write("issuers:\n")
    for k, iss in enumerate(issuers):
        f.write("  - id: %s\n    tier: %s\n" % (iss, tiers[k % 3]))
PY

cat >"$work/kit/kit.yaml" <<EOF
name: bench-gate
channel: bench
version: 1
created: $created
expires: 30d
root: ../trust/root.json
advisories:
  - name: govulndb
    osv: {dir: $corpus/osv/go}
  - name: npm
    osv: {dir: $corpus/osv/npm}
vex:
  - name: bench-vex
    openvex: {dir: ./vex}
issuers: issuers.yaml
EOF
"$ferry" mirror -f "$work/kit/kit.yaml" -o "$work/gate.kit.tar.zst" --key "$work/keys/signer.key" --no-progress >/dev/null
"$ferry" import "$work/gate.kit.tar.zst" --store "$work/store" --root "$work/trust/root.json" --at "$at" --reason "bench clock" >/dev/null
cat >"$work/policy.yaml" <<'EOF'
apiVersion: ferry.dev/policy/v1
default:
  block: {severity: high, kev: true}
  unknowns: {max: 10}
EOF
mkdir -p "$work/release/images"
{
	echo "apiVersion: ferry.dev/release/v1"
	echo "name: bench-release"
	echo "images:"
	for ((i = 0; i < 100; i++)); do
		ln "$work/image.tar" "$work/release/images/img$i.tar"
		echo "  - docker-archive:images/img$i.tar"
	done
} >"$work/release/release.yaml"

measure() { # NAME CMD: appends "wall rss_kib cpu_s" to $work/m/NAME; ferry's exit 0 or 1 (block) is fine
	local t
	t=$(mktemp "$work/m/t.XXXXXX")
	"$gtime" -f '%e %M %U %S' -o "$t" bash -c "$2; test \$? -le 1" >/dev/null 2>"$t.err" || {
		log "bench-gate: command failed: $2"; cat "$t.err" >&2; exit 1
	}
	tail -n1 "$t" | awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' >>"$work/m/$1"
	rm -f "$t" "$t.err"
}
median() { # NAME COLUMN
	cut -d' ' -f"$2" "$work/m/$1" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
cmd_gate="'$ferry' gate 'docker-archive:$work/image.tar' --store '$work/store' --policy '$work/policy.yaml' --at $at -o '$work/decision.json'"
cmd_release="'$ferry' gate --release '$work/release/release.yaml' --store '$work/store' --policy '$work/policy.yaml' --at $at -o '$work/decisions'"
log "bench-gate: a. one image, 1,000 packages"
bash -c "$cmd_gate" >/dev/null 2>&1 || true
for ((i = 0; i < runs; i++)); do measure gate "$cmd_gate"; done
log "bench-gate: b. a release of 100 images"
for ((i = 0; i < runs; i++)); do rm -rf "$work/decisions"; measure release "$cmd_release"; done

findings=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len(r.get("findings") or []))' "$work/decision.json")
fails=0
row() { printf '%-42s %10s %10s %7s %9s  %s\n' "$@"; }
verdict() {
	if awk -v v="$1" -v l="$2" 'BEGIN {exit !(v <= l)}'; then v=PASS; else v=FAIL; fails=$((fails + 1)); fi
}
g_w=$(median gate 1) g_rss=$(awk -v k="$(median gate 2)" 'BEGIN {printf "%.1f", k / 1024}')
r_w=$(median release 1) r_rss=$(awk -v k="$(median release 2)" 'BEGIN {printf "%.1f", k / 1024}')
echo
echo "gate: $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg); median of $runs runs after a warm-up; $findings findings in the record"
row measurement ferry "" "" target result
verdict "$g_w" 0.200
row "9. gate 1 image, 1,000 pkgs, wall s" "$g_w" "" "" "<= 0.200" "$v"
verdict "$g_rss" 128
row "   gate 1 image, peak RSS MiB" "$g_rss" "" "" "<= 128" "$v"
row "   gate 1 image, CPU s user+sys (info)" "$(median gate 3)" "" "" "" info
verdict "$r_w" 5
row "   gate --release 100 images, wall s" "$r_w" "" "" "<= 5" "$v"
row "   gate --release, CPU s user+sys (info)" "$(median release 3)" "" "" "" info
row "   gate --release, peak RSS MiB (info)" "$r_rss" "" "" "" info
echo "  9.  ${cmd_gate//$work/\$W}"
echo "      ${cmd_release//$work/\$W}"
echo "      (\$W = $work, removed at exit: the Go DB of the corpus and 160 npm records, 100 OpenVEX documents of 100 statements)"
if ((fails > 0)); then
	echo "$fails gate target(s) missed"
	if [[ ${BENCH_STRICT:-0} == 1 ]]; then exit 1; fi
fi
