#!/bin/sh
# pg-ctl.sh - start, stop, restart, reload or check one PostgreSQL cluster with pg_ctl, as the
# user who owns its data directory, and wait until it is so.
#
# Usage: pg-ctl.sh ACTION PGDATA [LOGFILE]
#   ACTION   start | stop | restart | reload | status
#   PGDATA   the cluster's data directory (holds PG_VERSION and, here, postgresql.conf)
#   LOGFILE  where the server writes its output (default PGDATA/log/server.log)
# Environment: PG_BIN (default /usr/lib/postgresql/<PGDATA's PG_VERSION>/bin, else pg_ctl on
#              PATH), PG_CTL_TIMEOUT seconds to wait for a start or stop (default 30).
#
# Run as root, it runs pg_ctl as the data directory's owner (runuser); run as that owner, it runs
# it directly. start and stop are safe to repeat; restart always restarts (and starts a server
# that is down); reload refuses when the server is not running. A start that fails prints the
# end of the server's log, which names the setting that stopped it.
set -eu

me=pg-ctl
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -ge 2 ] && [ $# -le 3 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
action=$1
[ -d "$2" ] || die "data directory $2 does not exist"
pgdata=$(cd "$2" && pwd)
[ -f "$pgdata/PG_VERSION" ] || die "$pgdata is not a PostgreSQL data directory (no PG_VERSION)"
log=${3:-$pgdata/log/server.log}
case $log in /*) ;; *) log=$(pwd)/$log ;; esac
timeout=${PG_CTL_TIMEOUT:-30}
case $timeout in ''|*[!0-9]*) die "PG_CTL_TIMEOUT '$timeout' is not a number of seconds" ;; esac

bin=${PG_BIN:-}
if [ -z "$bin" ]; then
    version=$(tr -dc '0-9.' < "$pgdata/PG_VERSION")
    if [ -x "/usr/lib/postgresql/$version/bin/pg_ctl" ]; then bin=/usr/lib/postgresql/$version/bin
    elif command -v pg_ctl >/dev/null 2>&1; then bin=$(dirname "$(command -v pg_ctl)")
    else die "pg_ctl for PostgreSQL $version not found (install it or set PG_BIN)"; fi
fi
[ -x "$bin/pg_ctl" ] || die "$bin/pg_ctl is not an executable; set PG_BIN to PostgreSQL's bin folder"

# PostgreSQL refuses to run as root: run pg_ctl as the data directory's owner.
owner_uid=$(stat -c %u "$pgdata")
owner=$(stat -c %U "$pgdata")
if [ "$(id -u)" = "$owner_uid" ]; then
    as_owner() { "$@"; }
elif [ "$(id -u)" = 0 ]; then
    command -v runuser >/dev/null 2>&1 || die "runuser not found; cannot run pg_ctl as $owner"
    as_owner() { runuser -u "$owner" -- "$@"; }
else
    die "$pgdata belongs to $owner; run this as $owner or as root"
fi
# The owner may not be able to enter the folder sluice runs in; every path above is absolute.
cd "$pgdata"

# pg_ctl ARGS...: pg_ctl as the owner, its own output captured in a file (the server's goes
# to LOGFILE): a server that outlives this script must not hold sluice's output pipe open.
pg_ctl() {
    out=$(mktemp "${TMPDIR:-/tmp}/pg-ctl.XXXXXX")
    rc=0
    as_owner "$bin/pg_ctl" -D "$pgdata" "$@" </dev/null >"$out" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then sed 's/^/  pg_ctl: /' "$out" >&2; fi
    rm -f "$out"
    return $rc
}

running() { pg_ctl status >/dev/null 2>&1; }

# The folder of the server's log, made by its owner so the server can write there.
prepare_log() {
    as_owner mkdir -p "$(dirname "$log")" || die "cannot create $(dirname "$log") as $owner"
}

start_failed() {
    printf '%s: error: PostgreSQL %s did not start (waited at most %ss); the end of %s:\n' "$me" "$pgdata" "$timeout" "$log" >&2
    tail -n 5 "$log" 2>/dev/null | sed 's/^/  /' >&2 || true
    printf '%s: error: fix what the log names in postgresql.conf, then start it again\n' "$me" >&2
    exit 1
}

case $action in
start)
    if running; then say "PostgreSQL $pgdata already running"; exit 0; fi
    prepare_log
    pg_ctl start -w -t "$timeout" -l "$log" || start_failed
    say "started PostgreSQL $pgdata"
    ;;
stop)
    if ! running; then say "PostgreSQL $pgdata is not running"; exit 0; fi
    pg_ctl stop -w -t "$timeout" -m fast || die "PostgreSQL $pgdata did not stop within ${timeout}s; see $log, or raise PG_CTL_TIMEOUT"
    say "stopped PostgreSQL $pgdata"
    ;;
restart)
    prepare_log
    if running; then
        pg_ctl stop -w -t "$timeout" -m fast || die "PostgreSQL $pgdata did not stop within ${timeout}s; see $log, or raise PG_CTL_TIMEOUT"
    fi
    pg_ctl start -w -t "$timeout" -l "$log" || start_failed
    say "restarted PostgreSQL $pgdata"
    ;;
reload)
    running || die "PostgreSQL $pgdata is not running; cannot reload (start it instead)"
    pg_ctl reload || die "reload of PostgreSQL $pgdata failed; see $log"
    say "reloaded PostgreSQL $pgdata"
    ;;
status)
    if running; then say "PostgreSQL $pgdata running"; else die "PostgreSQL $pgdata is not running"; fi
    ;;
*) die "unknown action '$action' (start, stop, restart, reload or status)" ;;
esac
