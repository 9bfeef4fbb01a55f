#!/usr/bin/env bash
# scripts/test-pg-versions.sh runs the compatibility subset of the tests on each supported
# PostgreSQL major version besides Debian's 15 (which runs the full suite): bootstrap,
# apply / re-apply / rebuild, refresh (CONCURRENTLY and failures), doctor findings, the
# query_view attack suite and the direct-DSN attack suite. It installs the server binaries
# first (scripts/install-pg-versions.sh) and points internal/pgtest at each with
# AGENTMV_PG_BINDIR.
#
#   scripts/test-pg-versions.sh              # 14 16 17 18
#   scripts/test-pg-versions.sh 17 18        # some of them
#   GOTESTFLAGS=-v scripts/test-pg-versions.sh 14
set -euo pipefail
cd "$(dirname "$0")/.."

# The subset: whole packages for the boundary and refresh, named tests elsewhere. Keep the
# names in sync when adding a test that belongs here (a doctor finding, an attack).
COMPAT_PKGS=(. ./boundary/ ./refresh/ ./tools/ ./reliability/ ./internal/pgtest/)
COMPAT_RUN='^(TestApply|TestDrop|TestDryRun|TestStatus|TestViewWithout|TestAttack|TestDoctor|TestExposure|TestRoleLimits|TestTemp|TestBootstrap|TestMigrate|TestDependents|TestRefresh|TestPublicCannot|TestQueryView|TestExecQuery|TestCheckThenExec|TestCheckRuntimeRole|TestDirectDSN|TestServerVersion)'

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(14 16 17 18)

declare -A bindir=()
while read -r major dir; do
	bindir[$major]=$dir
done < <(scripts/install-pg-versions.sh "${majors[@]}")

failed=()
for m in "${majors[@]}"; do
	echo "test-pg-versions: PostgreSQL $m ($("${bindir[$m]}/postgres" --version))"
	start=$SECONDS
	# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags
	if AGENTMV_PG_BINDIR=${bindir[$m]} go test ${GOTESTFLAGS:-} -count=1 -run "$COMPAT_RUN" "${COMPAT_PKGS[@]}"; then
		echo "test-pg-versions: PostgreSQL $m ok in $((SECONDS - start))s"
	else
		echo "test-pg-versions: PostgreSQL $m FAILED after $((SECONDS - start))s" >&2
		failed+=("$m")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "test-pg-versions: failed on PostgreSQL ${failed[*]}" >&2
	exit 1
fi
