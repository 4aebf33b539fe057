#!/bin/sh
# pg-test-config.sh - check a candidate postgresql.conf with PostgreSQL's own parser before it
# replaces the live one: `postgres -C` reads the candidate (and the data directory's
# postgresql.auto.conf) and fails on a syntax error, an unknown setting or a value out of range.
#
# Usage: pg-test-config.sh PGDATA CANDIDATE [SETTING]
#   PGDATA     the cluster's data directory
#   CANDIDATE  the new postgresql.conf (in a runbook: {{ file }})
#   SETTING    a setting to print as the candidate makes it (default max_connections)
# Environment: PG_BIN (default /usr/lib/postgresql/<PGDATA's PG_VERSION>/bin, else postgres
#              on PATH).
#
# Read-only: the running server, its files and the candidate are left as they are. What it
# cannot see is whatever only fails when the server starts: a library in
# shared_preload_libraries that does not exist, a listen address this host does not have, a
# missing certificate. That is what the runbook's health gate after the restart is for.
# Run as root, it runs postgres as the data directory's owner (PostgreSQL refuses root); when
# that user cannot read CANDIDATE, a private copy is made in PGDATA (so relative includes
# resolve as for the live file) and removed at once.
set -eu

me=pg-test-config
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -ge 2 ] && [ $# -le 3 ] || { sed -n '2,19p' "$0" >&2; exit 2; }
[ -d "$1" ] || die "data directory $1 does not exist"
pgdata=$(cd "$1" && pwd)
[ -f "$pgdata/PG_VERSION" ] || die "$pgdata is not a PostgreSQL data directory (no PG_VERSION)"
candidate=$2
case $candidate in /*) ;; *) candidate=$(pwd)/$candidate ;; esac
[ -f "$candidate" ] || die "candidate $candidate does not exist"
setting=${3:-max_connections}

bin=${PG_BIN:-}
if [ -z "$bin" ]; then
    version=$(tr -dc '0-9.' < "$pgdata/PG_VERSION")
    if [ -x "/usr/lib/postgresql/$version/bin/postgres" ]; then bin=/usr/lib/postgresql/$version/bin
    elif command -v postgres >/dev/null 2>&1; then bin=$(dirname "$(command -v postgres)")
    else die "postgres for PostgreSQL $version not found (install it or set PG_BIN)"; fi
fi

owner_uid=$(stat -c %u "$pgdata")
owner=$(stat -c %U "$pgdata")
if [ "$(id -u)" = "$owner_uid" ]; then
    as_owner() { "$@"; }
elif [ "$(id -u)" = 0 ]; then
    command -v runuser >/dev/null 2>&1 || die "runuser not found; cannot run postgres as $owner"
    as_owner() { runuser -u "$owner" -- "$@"; }
else
    die "$pgdata belongs to $owner; run this as $owner or as root"
fi
cd "$pgdata"

checked=$candidate
copy=
cleanup() { if [ -n "$copy" ]; then rm -f "$copy"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! as_owner test -r "$candidate"; then
    # Made by the owner, written through a pipe: nothing here opens a path in the owner's
    # folder with root's rights.
    copy=$(as_owner mktemp "$pgdata/.pg-test-config.XXXXXX") || die "cannot create a private copy in $pgdata as $owner"
    as_owner sh -c 'cat > "$1"' sh "$copy" < "$candidate" || die "cannot copy the candidate to $copy"
    checked=$copy
fi

out=$(mktemp "${TMPDIR:-/tmp}/pg-test-config.XXXXXX")
rc=0
as_owner "$bin/postgres" -D "$pgdata" --config-file="$checked" -C "$setting" </dev/null >"$out" 2>&1 || rc=$?
if [ $rc -ne 0 ]; then
    sed -e 's/^/  postgres: /' "$out" >&2
    rm -f "$out"
    die "PostgreSQL refuses the candidate configuration; nothing was changed"
fi
value=$(tail -n 1 "$out")
rm -f "$out"
say "candidate configuration is valid ($setting = $value)"
