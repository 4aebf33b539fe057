#!/bin/sh
# redis-cache.sh - refresh (drop) one namespace of a redis-backed service cache.
#
# Usage: redis-cache.sh refresh [--dry-run] PORT NAMESPACE PASSWORD
#        redis-cache.sh ping PORT PASSWORD
#   PORT       redis port (host from REDIS_HOST, default 127.0.0.1)
#   NAMESPACE  key prefix without the trailing colon, e.g. loan-policy:ap01-a; every key
#              NAMESPACE:* is dropped (found with SCAN, never KEYS, so redis is not blocked)
#   PASSWORD   redis password; empty or "-" for none. It is handed to redis-cli through
#              REDISCLI_AUTH, never on redis-cli's command line.
# After dropping the keys it bumps sluice:cache-generation:NAMESPACE, which readers that
# build keys from the generation use to ignore anything cached before the refresh.
# Needs redis-cli. Safe to run twice: the second run finds nothing to drop.
set -eu

me=redis-cache
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }
usage() { sed -n '2,15p' "$0" >&2; exit 2; }

[ $# -ge 1 ] || usage
cmd=$1; shift
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found; install redis-tools"

case $cmd in
refresh) [ $# -eq 3 ] || usage; port=$1; ns=$2; pass=$3 ;;
ping) [ $# -eq 2 ] || usage; port=$1; ns=; pass=$2 ;;
*) usage ;;
esac
case $port in ''|*[!0-9]*) die "redis port '$port' is not a number" ;; esac
host=${REDIS_HOST:-127.0.0.1}
if [ -n "$pass" ] && [ "$pass" != "-" ]; then REDISCLI_AUTH=$pass; export REDISCLI_AUTH; else unset REDISCLI_AUTH || true; fi

rcli() { redis-cli --no-auth-warning -h "$host" -p "$port" "$@"; }

pong=$(rcli PING 2>&1) || die "cannot reach redis at $host:$port: $pong"
[ "$pong" = PONG ] || die "redis at $host:$port answered '$pong' to PING (wrong password?)"

if [ "$cmd" = ping ]; then say "redis at $host:$port is up"; exit 0; fi

case $ns in
    ''|*[!A-Za-z0-9:._-]*) die "namespace '$ns' must be non-empty and use only A-Z a-z 0-9 : . _ -" ;;
esac

keys=$(mktemp "${TMPDIR:-/tmp}/redis-cache.XXXXXX")
trap 'rm -f "$keys"' EXIT HUP INT TERM
rcli --scan --pattern "$ns:*" > "$keys" || die "SCAN of $ns:* failed on $host:$port"
n=$(wc -l < "$keys" | tr -d ' ')

if [ $dry -eq 1 ]; then
    say "would drop $n keys under $ns:* on $host:$port and bump its generation"
    exit 0
fi

dropped=0
if [ "$n" -gt 0 ]; then
    # One DEL per batch of 200 keys; keys are passed as arguments, one per line in the file.
    out=$(xargs -d '\n' -n 200 redis-cli --no-auth-warning -h "$host" -p "$port" DEL < "$keys") \
        || die "DEL failed on $host:$port"
    for c in $out; do
        case $c in ''|*[!0-9]*) die "unexpected reply from DEL: $c" ;; esac
        dropped=$((dropped + c))
    done
fi
gen=$(rcli INCR "sluice:cache-generation:$ns")
case $gen in ''|*[!0-9]*) die "could not bump sluice:cache-generation:$ns: $gen" ;; esac
rcli SET "sluice:cache-refreshed-by:$ns" "${SLUICE_RUN_ID:-manual} ${SLUICE_MODE:-manual} $(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
say "refreshed cache $ns on $host:$port: dropped $dropped keys, generation now $gen"
