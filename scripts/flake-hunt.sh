#!/usr/bin/env bash
# scripts/flake-hunt.sh hunts tests that fail under CPU load (issue 22). CI runs on a busy
# 2-core machine, so a test that waits on time instead of on the state it asserts fails there.
#
# With BUSY busy loops (`yes > /dev/null`) running, it runs
#   1. the whole suite RUNS times: CI=true go test -count=1 ./...
#   2. the packages with goroutines, kills, restarts, HTTP load or timing COUNT times each:
#      CI=true go test -count=COUNT $CONCURRENT_PKGS
# then stops the busy loops (also on Ctrl-C or failure: trap) and prints every failed test
# with the number of runs it failed in, and how many full-suite runs passed.
#
#   scripts/flake-hunt.sh                      # RUNS=3 COUNT=3 BUSY=2
#   RUNS=5 COUNT=0 scripts/flake-hunt.sh       # only full-suite runs
#   RUNS=0 PKGS="./reliability/" scripts/flake-hunt.sh
#   GOTESTFLAGS="-run TestTerminateRefreshBackend" RUNS=0 COUNT=10 PKGS=./reliability/ scripts/flake-hunt.sh
#
# Logs (go test -json) stay in $OUT (default: a new /tmp/flake-hunt.* directory). Exit status
# is 0 only when every run passed.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
COUNT=${COUNT:-3}
BUSY=${BUSY:-2}
PKGS=${PKGS:-". ./reliability/ ./refresh/ ./tools/ ./internal/pglocal/ ./cmd/agent-mv/"}
OUT=${OUT:-$(mktemp -d /tmp/flake-hunt.XXXXXX)}
mkdir -p "$OUT"
export CI=true GOTOOLCHAIN=local

busy=()
stop_busy() {
	local pid
	for pid in "${busy[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${busy[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	busy=()
}
trap stop_busy EXIT
trap 'stop_busy; exit 130' INT
trap 'stop_busy; exit 143' TERM

echo "flake-hunt: building the test binaries first (not under load)"
go test -c -o "$OUT/bin/" ./... >/dev/null
rm -rf "$OUT/bin"

for _ in $(seq 1 "$BUSY"); do
	yes >/dev/null &
	busy+=($!)
done
echo "flake-hunt: $BUSY busy loops (pids ${busy[*]}); logs in $OUT"

# run NAME ARGS... runs go test -json with ARGS, keeps the log as $OUT/NAME.json and prints
# one line: ok or FAIL with the elapsed time.
run() {
	local name=$1
	shift
	local start=$SECONDS rc=0
	# shellcheck disable=SC2086
	go test -json ${GOTESTFLAGS:-} "$@" >"$OUT/$name.json" 2>"$OUT/$name.stderr" || rc=$?
	if [ "$rc" = 0 ]; then
		echo "flake-hunt: $name ok in $((SECONDS - start))s"
	else
		echo "flake-hunt: $name FAILED (exit $rc) in $((SECONDS - start))s"
	fi
	return "$rc"
}

full_ok=0
for i in $(seq 1 "$RUNS"); do
	if run "full-$i" -count=1 -timeout 30m ./...; then
		full_ok=$((full_ok + 1))
	fi
done
conc_ok=0
if [ "$COUNT" -gt 0 ]; then
	# shellcheck disable=SC2086 # PKGS is a list of packages
	if run "count$COUNT" -count="$COUNT" -timeout 90m $PKGS; then
		conc_ok=1
	fi
fi
stop_busy

# Failures: test2json writes {"Time":…,"Action":"fail","Package":"…","Test":"…",…} for a test
# and the same without "Test" for a package (build error, panic, timeout).
summary=$OUT/summary.txt
{
	for f in "$OUT"/*.json; do
		[ -e "$f" ] || continue
		run=$(basename "$f" .json)
		grep -o '"Action":"fail","Package":"[^"]*","Test":"[^"]*"' "$f" |
			sed -E 's/.*"Package":"([^"]*)","Test":"([^"]*)"/\1 \2/' | sort -u | sed "s/^/$run /" || true
		grep -o '"Action":"fail","Package":"[^"]*","Elapsed"' "$f" |
			sed -E 's/.*"Package":"([^"]*)".*/\1 (package)/' | sort -u | sed "s/^/$run /" || true
	done
} >"$OUT/failures.txt"
{
	echo "flake-hunt summary ($(date -u +%FT%TZ), $(nproc) CPUs, $BUSY busy loops)"
	echo "full suite (CI=true go test -count=1 ./...): $full_ok of $RUNS runs passed"
	if [ "$COUNT" -gt 0 ]; then
		echo "go test -count=$COUNT $PKGS: $([ "$conc_ok" = 1 ] && echo passed || echo FAILED)"
	fi
	if [ -s "$OUT/failures.txt" ]; then
		echo "failed tests (runs failed in / name):"
		cut -d' ' -f2- "$OUT/failures.txt" | sort | uniq -c | sort -rn
		echo "details: grep the named test in $OUT/<run>.json (Action \"output\" lines)"
	else
		echo "no failed test"
	fi
} | tee "$summary"
[ ! -s "$OUT/failures.txt" ]
