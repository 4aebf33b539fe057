#!/bin/sh
# postgres-lab.sh - bring up (and down) a throw-away PostgreSQL cluster for
# postgres-config-change.yaml: owned by the `postgres` user like a packaged one, listening only
# on 127.0.0.1, its unix socket in ROOT/run (never /var/run/postgresql).
# Not used by any runbook; for trying the runbook out and for the integration tests.
#
# Usage: postgres-lab.sh up ROOT PORT   create ROOT/pgdata (initdb, once) and start the server
#        postgres-lab.sh down ROOT      stop it (fast shutdown); files are left
# Environment: PG_BIN (default: the newest /usr/lib/postgresql/*/bin holding postgres),
#              PG_USER (default postgres).
# Must run as root: the cluster belongs to PG_USER, as on a real host, and the runbook's file
# step must keep it so. Every folder above ROOT must be enterable by PG_USER (a folder under
# /tmp with mode 0755 is).
#
#   ROOT/pgdata                 the data directory, PG_USER 0700; postgresql.conf PG_USER 0600
#   ROOT/pgdata/log/server.log  the server's output (Runbooks/scripts/pg-ctl.sh)
#   ROOT/run                    the unix socket, PG_USER 0755
#
# The first `up` writes postgresql.conf as the runbook's template made it with the old values
# (max_connections 100, shared_buffers 128MB, no preloaded library), the lab's state "before".
# PORT is written then; a later `up` must give the same.
# Authentication: peer for local connections, scram-sha-256 (and no password set) on
# 127.0.0.1, so nobody logs in over TCP; pg_isready needs no login, and PG_USER can use psql on
# the socket. `up` after `down` keeps what a runbook left in postgresql.conf. Safe to run twice.
set -eu

me=postgres-lab
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

here=$(cd "$(dirname "$0")" && pwd)
ctl=$here/../scripts/pg-ctl.sh

usage() { sed -n '2,25p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1; root=$2
case $action in
up) [ $# -eq 3 ] || usage; port=$3 ;;
down) [ $# -eq 2 ] || usage ;;
*) die "unknown action '$action' (up or down)" ;;
esac
[ "$(id -u)" = 0 ] || die "run this as root: the cluster must belong to ${PG_USER:-postgres}, as on a real host"
user=${PG_USER:-postgres}
id -u "$user" >/dev/null 2>&1 || die "user $user does not exist (install Debian's postgresql package, or set PG_USER)"
as_user() { runuser -u "$user" -- "$@"; }
data=$root/pgdata

if [ "$action" = down ]; then
    [ -d "$root" ] || { say "nothing at $root"; exit 0; }
    root=$(cd "$root" && pwd); data=$root/pgdata
    if [ -f "$data/PG_VERSION" ]; then "$ctl" stop "$data"; else say "no cluster in $data"; fi
    exit 0
fi

case $port in ''|*[!0-9]*) die "port '$port' is not a number" ;; esac
[ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "port $port is outside 1-65535"

bin=${PG_BIN:-}
if [ -z "$bin" ]; then
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n); do
        if [ -x "$candidate/postgres" ]; then bin=$candidate; fi
    done
    [ -n "$bin" ] || die "no /usr/lib/postgresql/*/bin/postgres (run Scripts/integration-setup.sh as root, or set PG_BIN)"
fi
[ -x "$bin/initdb" ] || die "$bin/initdb is not an executable; set PG_BIN to PostgreSQL's bin folder"

mkdir -p "$root"
root=$(cd "$root" && pwd); data=$root/pgdata; run=$root/run
as_user test -x "$root" || die "$user cannot enter $root; make every folder above it enterable (mode 0755)"
# A unix socket's path holds at most 107 bytes.
[ ${#run} -le 80 ] || die "$run is too long for PostgreSQL's unix socket ($run/.s.PGSQL.$port); use a shorter ROOT"

mkdir -p "$data" "$run"
chown "$user:" "$data" "$run"
chmod 0700 "$data"
chmod 0755 "$run"

if [ ! -f "$data/PG_VERSION" ]; then
    out=$(mktemp "${TMPDIR:-/tmp}/postgres-lab.XXXXXX")
    # initdb as the owner, from a folder it may enter.
    if ! (cd "$data" && as_user "$bin/initdb" -D "$data" -U "$user" --auth-local=peer --auth-host=scram-sha-256 \
        -E UTF8 --locale=C --no-sync) >"$out" 2>&1; then
        sed 's/^/  initdb: /' "$out" >&2
        rm -f "$out"
        die "initdb of $data failed"
    fi
    rm -f "$out"
    # The "before" state the runbook changes: postgresql.conf as files/postgresql.conf made it
    # for this server with the old values (keep the two in step). Written by the owner into
    # initdb's file, so that it keeps its owner and mode.
    as_user sh -c 'cat > "$1"' sh "$data/postgresql.conf" <<CONF
# PostgreSQL configuration of pg-lab-1, written by sluice from
# Runbooks/files/postgresql.conf (runbook postgres-config-change.yaml). Change it there: an edit
# made here by hand is replaced by the next run.

# Connections (a change requires a restart)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$run'
max_connections = 100

# Memory and extensions (a change requires a restart)
shared_buffers = 128MB
shared_preload_libraries = ''
dynamic_shared_memory_type = posix

# Write-ahead log
max_wal_size = 1GB
min_wal_size = 80MB

# Locale and time, as initdb --locale=C set them
log_timezone = 'Etc/UTC'
datestyle = 'iso, mdy'
timezone = 'Etc/UTC'
lc_messages = 'C'
lc_monetary = 'C'
lc_numeric = 'C'
lc_time = 'C'
default_text_search_config = 'pg_catalog.english'
CONF
    chmod 0600 "$data/postgresql.conf"
    say "initialised $data (PostgreSQL $(cat "$data/PG_VERSION"), owner $user)"
fi

configured=$(cd "$data" && as_user "$bin/postgres" -D "$data" -C port 2>/dev/null) || configured=
[ "$configured" = "$port" ] || die "$data is set up for port ${configured:-?}, not $port (PORT is written once, by the first up); use that port or a new ROOT"
PG_BIN=$bin "$ctl" start "$data"
i=0
until pg_ready=$("$bin/pg_isready" -h 127.0.0.1 -p "$port" -t 2 2>&1); do
    i=$((i + 1))
    [ $i -lt 30 ] || die "PostgreSQL in $data does not accept connections on 127.0.0.1:$port: $pg_ready"
    sleep 0.5
done
say "PostgreSQL ready on 127.0.0.1:$port (socket in $run): postgresql.conf is $(stat -c '%U:%G %a' "$data/postgresql.conf")"
