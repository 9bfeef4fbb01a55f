# shellcheck shell=bash
# scripts/lib.sh is sourced by scripts/bench.sh and scripts/peer-bench.sh: what both need to
# write a results section of BENCHMARKS.md, written once.
#   $machine                       the machine a benchmark ran on (cores, CPU, RAM, kernel, Postgres, Go)
#   loadavg                        prints the 1, 5 and 15 minute load averages
#   run_bench SHOWN CMD...         runs CMD (printing SHOWN first), its output teed into $RAW
#                                  or a temp file; with PARSE set, reads that saved output
#                                  instead. Sets $out (the output file), $load (load averages
#                                  before and after, and the time taken) and $status (CMD's)
#   $AWK_MEDIAN                    awk function median(key) over vals[key, 1..cnt[key]]; put it
#                                  in front of an awk program: awk "$AWK_MEDIAN"'…'
#   write_block DOC MARKER BLOCK [HEADING]
#                                  replaces the lines from <!-- MARKER:begin to <!-- MARKER:end
#                                  in DOC with BLOCK, or appends HEADING and BLOCK when DOC has
#                                  no such section (a missing DOC starts with "# Benchmarks")

pg_version() {
	local bin
	for bin in /usr/lib/postgresql/*/bin/postgres; do
		[ -x "$bin" ] && { "$bin" --version; return; }
	done
	command -v postgres >/dev/null && postgres --version || echo "unknown (AGENTMV_TEST_DATABASE_URL?)"
}

machine="$(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null | sed 's/ *$//' || echo unknown cpu)), \
$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || echo "? GiB") RAM, \
$(uname -sr); $(pg_version); $(go version | awk '{print $3}')"

loadavg() {
	cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"
}

run_bench() {
	local shown=$1 start
	shift
	status=0
	if [ -n "${PARSE:-}" ]; then
		out=$PARSE
		load="(not recorded: rebuilt from $PARSE)"
		return
	fi
	out=${RAW:-$(mktemp)}
	load=$(loadavg)
	echo "+ $shown" >&2
	start=$(date +%s)
	"$@" 2>&1 | tee "$out" || status=$?
	load="$load before the run, $(loadavg) after; took $(($(date +%s) - start))s"
}

# shellcheck disable=SC2034 # used by the scripts that source this file
AWK_MEDIAN='
function median(key,   n, i, j, t, v) {
	n = cnt[key]
	for (i = 1; i <= n; i++) v[i] = vals[key, i]
	for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
	return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
'

write_block() {
	local doc=$1 marker=$2 block=$3 heading=${4:-} tmp
	if [ ! -f "$doc" ]; then
		printf '# Benchmarks\n\n%s%s\n' "$heading" "$block" >"$doc"
	elif grep -q "<!-- $marker:begin" "$doc"; then
		tmp=$(mktemp)
		BLOCK="$block" MARKER="$marker" awk '
			index($0, "<!-- " ENVIRON["MARKER"] ":begin") > 0 { print ENVIRON["BLOCK"]; skip = 1; next }
			index($0, "<!-- " ENVIRON["MARKER"] ":end") > 0 { skip = 0; next }
			!skip { print }' "$doc" >"$tmp"
		cat "$tmp" >"$doc" && rm -f "$tmp"
	else
		printf '\n%s%s\n' "$heading" "$block" >>"$doc"
	fi
}
