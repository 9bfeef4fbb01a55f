#!/usr/bin/env bash
# scripts/bench.sh runs every benchmark of the module COUNT times (default 5), prints the raw
# output, and rewrites the results section of BENCHMARKS.md (between the bench:results
# markers) with the median of each metric and the goals it is held to.
#
#   scripts/bench.sh                         # all packages, -count 5
#   COUNT=3 PKGS=./bench scripts/bench.sh    # quicker, one package
#   RAW=bench.out scripts/bench.sh           # keep the raw output
#   PARSE=bench.out scripts/bench.sh         # no run: rebuild the table from a saved output
#
# Needs only go, awk and the PostgreSQL server binaries the tests already use (internal/pgtest).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-5}
BENCHTIME=${BENCHTIME:-1s}
PKGS=${PKGS:-./...}
DOC=${DOC:-BENCHMARKS.md}
CMD="go test -run '^\$' -bench . -benchtime $BENCHTIME -count $COUNT -timeout 120m $PKGS"

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
# shellcheck disable=SC2086 # PKGS is a list of patterns
run_bench "$CMD" go test -run '^$' -bench . -benchtime "$BENCHTIME" -count "$COUNT" -timeout 120m $PKGS

# The goals: package (last path element), benchmark, metric, goal, what it measures.
goals=$(cat <<'GOALS'
bench|BenchmarkQueryView/rows=1|call/raw|<=2|query_view in process ÷ same SELECT on raw pgxpool, 1 row
bench|BenchmarkQueryView/rows=1|mcp/raw|<=1.3|query_view tool via MCP ÷ same SELECT on raw pgxpool, 1 row
bench|BenchmarkQueryView/rows=1000|mcp/raw|<=1.3|query_view tool via MCP ÷ same SELECT on raw pgxpool, 1,000 rows
bench|BenchmarkListViews|1M/1k|<=1.1|list_views, 50 views of 1M rows ÷ 50 views of 1k rows
bench|BenchmarkApplyNoOp|noop-s/op|<=1|no-op apply, 200 views (seconds)
bench|BenchmarkApplyNoOp|rebuilt|<=0|no-op apply, 200 views (views rebuilt)
bench|BenchmarkApplyLeafVsFull|leaf/full|<=0.05|apply changing 1 leaf of 200 ÷ full rebuild of 200
bench|BenchmarkQueryViewMemory|rss-growth-MiB|<64|query_view of a 10M-row view, default caps: peak RSS growth (MiB)
refresh|BenchmarkRefreshFunctionVsRaw|function/raw|<=1.05|refresh_view function ÷ raw REFRESH MATERIALIZED VIEW (400k rows)
refresh|BenchmarkRefreshAllParallel/pg-workers=default|parallel2/serial|<=0.62|refresh-all --parallel 2 ÷ serial, 2 heavy branches
refresh|BenchmarkRefreshAllParallel/pg-workers=0|parallel2/serial|<=0.62|same, Postgres' own parallel workers off
lineage|BenchmarkParseLineage|views/s|>=5000|lineage parse + column lineage of a 40-line view (views/s)
lineage|BenchmarkLineageVsFloor|lineage/floor|>=0.8|lineage analysis throughput ÷ pg_query Parse+Deparse (same view, paired)
bench|BenchmarkPeerStdio|rows=1-ours/ref|<=0.7|query_view ÷ reference server query over stdio, 1 row (peer benchmark)
bench|BenchmarkPeerStdio|rows=1000-ours/ref|<=0.5|query_view ÷ reference server query over stdio, 1,000 rows (peer benchmark)
dashboard|BenchmarkRender500Views10kHistory|ms/build|<=1000|dashboard build, 500 views, 10k history (ms)
GOALS
)

table=$(awk -v goals="$goals" "$AWK_MEDIAN"'
function fmt(x) {
	if (x == int(x) && (x < 0 ? -x : x) < 1e9) return sprintf("%d", x)
	if ((x < 0 ? -x : x) >= 100) return sprintf("%.0f", x)
	if ((x < 0 ? -x : x) >= 1) return sprintf("%.3g", x)
	return sprintf("%.3g", x)
}
/^pkg: / { pkg = $2; sub(/.*\//, "", pkg); next }
/^Benchmark/ && NF >= 4 {
	name = $1; sub(/-[0-9]+$/, "", name)
	key0 = pkg SUBSEP name
	if (!(key0 in seenb)) { seenb[key0] = 1; order[++nb] = key0 }
	for (i = 3; i + 1 <= NF; i += 2) {
		unit = $(i + 1); k = key0 SUBSEP unit
		if (!(k in cnt)) { units[key0] = units[key0] (units[key0] == "" ? "" : " ") unit }
		vals[k, ++cnt[k]] = $i
	}
}
END {
	print "| benchmark | measured (median) | runs | goal | result |"
	print "|---|---:|---:|---:|---|"
	ng = split(goals, gl, "\n")
	for (g = 1; g <= ng; g++) {
		split(gl[g], f, "|")
		k = f[1] SUBSEP f[2] SUBSEP f[3]
		op = f[4]; sub(/[0-9.]+$/, "", op); lim = substr(f[4], length(op) + 1) + 0
		shown = f[4]; sub(/^<=/, "≤ ", shown); sub(/^>=/, "≥ ", shown); sub(/^<(=)?/, "< ", shown); gsub(/  /, " ", shown)
		if (!(k in cnt)) { printf "| %s | not run | 0 | %s | — |\n", f[5], shown; continue }
		m = median(k)
		ok = (op == "<=" && m <= lim) || (op == "<" && m < lim) || (op == ">=" && m >= lim)
		if (ok) res = "met"
		else if (op == ">=") res = sprintf("**missed** by %.0f%% (%s below)", (1 - m / lim) * 100, fmt(lim - m))
		else if (lim == 0) res = sprintf("**missed** (%s)", fmt(m))
		else if (m / lim >= 2) res = sprintf("**missed**: %.1f× the goal", m / lim)
		else res = sprintf("**missed** by %.0f%%", (m / lim - 1) * 100)
		printf "| %s | %s %s | %d | %s | %s |\n", f[5], fmt(m), f[3], cnt[k], shown, res
	}
	print ""
	print "All metrics (median of the runs; `-µs/op`, `-ms/op` and `-s/op` are each side of a ratio):"
	print ""
	print "| package | benchmark | runs | metrics |"
	print "|---|---|---:|---|"
	for (b = 1; b <= nb; b++) {
		split(order[b], kk, SUBSEP)
		nu = split(units[order[b]], us, " ")
		line = ""
		for (u = 1; u <= nu; u++) {
			k = order[b] SUBSEP us[u]
			line = line (u > 1 ? ", " : "") fmt(median(k)) " " us[u]
		}
		printf "| %s | %s | %d | %s |\n", kk[1], kk[2], cnt[order[b] SUBSEP us[1]], line
	}
}' "$out")

block=$(cat <<BLOCK
<!-- bench:results:begin (written by scripts/bench.sh; edit outside the markers) -->
Measured $(date -u +%Y-%m-%d) on $machine.
Load average: $load.

\`\`\`
$CMD
\`\`\`

$table
<!-- bench:results:end -->
BLOCK
)

write_block "$DOC" bench:results "$block"
echo "wrote the results table to $DOC (raw output: $out)" >&2
exit "$status"
