#!/usr/bin/env bash
# test.sh: the test suite with the race detector (make test), ending with a
# list of every skipped test and its reason. Exits with go test's status.
#
#   bash scripts/test.sh               # ./...
#   bash scripts/test.sh ./store/      # some packages
set -uo pipefail
log=$(mktemp "${TMPDIR:-/tmp}/ferry-test.XXXXXX")
trap 'rm -f "$log"' EXIT
go test -race -count=1 -v "${@:-./...}" 2>&1 | tee "$log" |
	grep -v -E '^[[:space:]]*(=== (RUN|PAUSE|CONT|NAME)|--- PASS)'
rc=${PIPESTATUS[0]}
skips=$(grep -E -B1 '^[[:space:]]*--- SKIP' "$log" | grep -v -E '^(--|=== .*|[[:space:]]*--- PASS.*)$')
if [[ -n $skips ]]; then
	echo
	echo "skipped tests ($(grep -c -E '^[[:space:]]*--- SKIP' "$log")):"
	printf '%s\n' "$skips"
else
	echo "skipped tests: none"
fi
exit "$rc"
