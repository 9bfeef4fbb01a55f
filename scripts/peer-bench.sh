#!/usr/bin/env bash
# scripts/peer-bench.sh runs the peer benchmark (bench.BenchmarkPeerStdio): agentmv's runtime
# server and the reference Postgres MCP server (@modelcontextprotocol/server-postgres, pinned
# in bench/peer/package.json) over stdio with the official TypeScript client, same 1M-row
# database, same runtime role, interleaved rounds. It rewrites the section of BENCHMARKS.md
# between the peer:results markers with the ratios, the machine and the date.
#
#   scripts/peer-bench.sh                          # COUNT=1 run of 200 rounds × 1 call per side
#   COUNT=3 PEER_ROUNDS=30 scripts/peer-bench.sh   # median of 3 runs
#   RAW=peer.out scripts/peer-bench.sh             # keep the raw go test output
#   PARSE=peer.out scripts/peer-bench.sh           # no run: rebuild the section from a saved output
#
# Needs go, node and npm (the first run does `npm ci` in bench/peer; node_modules is
# gitignored) and the PostgreSQL server binaries the tests use (internal/pgtest).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-1}
DOC=${DOC:-BENCHMARKS.md}
export PEER_ROUNDS=${PEER_ROUNDS:-200}
export PEER_CALLS=${PEER_CALLS:-1}
CMD="PEER_ROUNDS=$PEER_ROUNDS PEER_CALLS=$PEER_CALLS go test ./bench -run '^\$' -bench '^BenchmarkPeerStdio\$' -benchtime 1x -count $COUNT -timeout 60m -v"

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
run_bench "$CMD" go test ./bench -run '^$' -bench '^BenchmarkPeerStdio$' -benchtime 1x -count "$COUNT" -timeout 60m -v

# Metrics per case: <case>-ours/ref, <case>-ours-µs, <case>-ref-µs; median over -count runs.
table=$(awk "$AWK_MEDIAN"'
/^BenchmarkPeerStdio/ && NF >= 4 {
	for (i = 3; i + 1 <= NF; i += 2) { k = $(i + 1); vals[k, ++cnt[k]] = $i }
	runs++
}
/peer_test.go:[0-9]+: rows=/ { sub(/^.*peer_test.go:[0-9]+: /, ""); detail[++nd] = $0 }
END {
	goal["rows=1"] = 0.7; goal["rows=1000"] = 0.5
	print "| case | agentmv query_view (µs, median) | reference query (µs, median) | agentmv ÷ reference | goal | result |"
	print "|---|---:|---:|---:|---:|---|"
	ncase = split("rows=1 rows=1000", cases, " ")
	for (c = 1; c <= ncase; c++) {
		k = cases[c] "-ours/ref"
		if (!(k in cnt)) { printf "| %s | not run | | | ≤ %s | — |\n", cases[c], goal[cases[c]]; continue }
		m = median(k)
		res = (m <= goal[cases[c]]) ? "met" : sprintf("**missed** by %.0f%%", (m / goal[cases[c]] - 1) * 100)
		printf "| %s | %.0f | %.0f | %.3f | ≤ %s | %s |\n", cases[c], median(cases[c] "-ours-µs"), median(cases[c] "-ref-µs"), m, goal[cases[c]], res
	}
	printf "\n%d run(s). Per run (rounds: the spread of the per-round ratios):\n\n", runs
	for (d = 1; d <= nd; d++) print "- " detail[d]
}' "$out")

block=$(cat <<BLOCK
<!-- peer:results:begin (written by scripts/peer-bench.sh; edit outside the markers) -->
Measured $(date -u +%Y-%m-%d) on $machine; node $(node --version 2>/dev/null || echo "?").
Load average: $load.

\`\`\`
$CMD
\`\`\`

$table
<!-- peer:results:end -->
BLOCK
)

write_block "$DOC" peer:results "$block" $'## Peer benchmark (latest run)\n\n'
echo "wrote the peer results to $DOC (raw output: $out)" >&2
exit "$status"
