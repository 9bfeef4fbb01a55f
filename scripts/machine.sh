# shellcheck shell=bash
# Sourced by scripts/bench.sh and scripts/peer-bench.sh: one description of the machine a
# benchmark ran on (cores, CPU, RAM, kernel, Postgres, Go), in $machine.

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
