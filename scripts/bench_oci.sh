# bench_oci.sh: step 11 of scripts/bench.sh, sourced by it (it uses its
# $ferry, $work, $runs, $at, $created, gen, measure, median and pair), or
# alone with BENCH_ONLY=oci bash scripts/bench.sh.
#
# 11. ferry import oci:// of a kit of BENCH_OCI_MIB MiB (default 1024) of
# incompressible image-like blobs from the real distribution registry on
# loopback, against `crane pull` of the same artifact followed by `ferry
# import` of the kit file it wrote. Target: <= 1.2x. A fresh store for
# every run (removed untimed). Needs the registry and crane of
# scripts/install-tools.sh.
bench_oci() {
	local cache=${FERRY_TOOLS_CACHE:-$HOME/.cache/ferry/bin} registry crane t
	for t in registry crane; do
		if [[ -x $cache/$t ]]; then
			printf -v "$t" '%s' "$cache/$t"
		elif command -v "$t" >/dev/null; then
			printf -v "$t" '%s' "$(command -v "$t")"
		else
			echo "9. import oci://: SKIPPED ($t not installed: bash scripts/install-tools.sh $t)"
			return 0
		fi
	done
	local ow=$work/oci omib=${BENCH_OCI_MIB:-1024}
	mkdir -p "$ow"
	log "bench: 11. ferry import oci:// of a ${omib} MiB kit from a loopback registry vs crane pull + ferry import FILE"
	# 64 MiB blobs, like image layers.
	mib=64 gen "$ow" $((omib / 64))
	printf 'name: bench-oci\nchannel: bench\nversion: 1\ncreated: %s\nexpires: 30d\nroot: ../trust/root.json\nfiles:\n  - src: ./data\n    dest: blobs/\n' \
		"$created" >"$ow/kit.yaml"
	"$ferry" mirror -f "$ow/kit.yaml" -o "$ow/bench.kit.tar.zst" --key "$work/keys/signer.key" --no-progress >/dev/null
	rm -rf "$ow/data"

	local port addr
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	addr=127.0.0.1:$port
	printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s}\n' \
		"$ow/registry" "$addr" >"$ow/registry.yml"
	"$registry" serve "$ow/registry.yml" >"$ow/registry.log" 2>&1 &
	local regpid=$!
	# shellcheck disable=SC2064
	trap "kill $regpid 2>/dev/null; rm -rf '$work'" EXIT
	for ((t = 0; t < 100; t++)); do
		curl -fsS "http://$addr/v2/" >/dev/null 2>&1 && break
		sleep 0.1
	done
	local repo=$addr/ferry/kits
	"$ferry" publish "$ow/bench.kit.tar.zst" --to "$repo" --insecure >/dev/null
	local layer
	layer=$(sha256sum "$ow/bench.kit.tar.zst" | cut -d' ' -f1)
	rm -f "$ow/bench.kit.tar.zst" # what is measured starts from the registry

	local root=$work/trust/root.json
	local cmd_oci="'$ferry' import oci://$repo:bench --insecure --store '$ow/s1' --root '$root' --at $at --reason bench-clock"
	local cmd_crane="'$crane' pull --insecure --format=oci $repo:bench '$ow/pulled' && '$ferry' import '$ow/pulled/blobs/sha256/$layer' --store '$ow/s2' --root '$root' --at $at --reason bench-clock"
	pair oci "$cmd_oci" crane "$cmd_crane" "rm -rf '$ow/s1' '$ow/s2' '$ow/pulled'"
	local o_w c_w r
	o_w=$(median oci 1) c_w=$(median crane 1)
	r=$(awk -v a="$o_w" -v b="$c_w" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
	local v=PASS
	if ! awk -v r="$r" 'BEGIN {exit !(r <= 1.2)}'; then v=FAIL; fails=$((${fails:-0} + 1)); fi
	echo
	printf '%-42s %10s %10s %7s %9s  %s\n' "9. import oci:// ${omib} MiB, wall s" "$o_w" "$c_w" "$r" "<= 1.2x" "$v"
	printf '%-42s %10s %10s %7s %9s  %s\n' "   import oci://, peak RSS MiB (info)" \
		"$(awk -v k="$(median oci 2)" 'BEGIN {printf "%.1f", k / 1024}')" "$(awk -v k="$(median crane 2)" 'BEGIN {printf "%.1f", k / 1024}')" "" "" info
	echo "  9.  ${cmd_oci//$work/\$W}"
	echo "      ${cmd_crane//$work/\$W}"
	kill "$regpid" 2>/dev/null
	wait "$regpid" 2>/dev/null || true
	trap cleanup EXIT
	rm -rf "$ow"
}
