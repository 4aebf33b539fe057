#!/bin/sh
# batch-hold.sh - hold and release a redis-backed batch queue.
#
# Usage: batch-hold.sh pause|resume|status PORT QUEUE PASSWORD OWNER
#   PORT      redis port (host from REDIS_HOST, default 127.0.0.1)
#   QUEUE     queue name; the batch runner checks the key  batch:QUEUE:paused  before taking
#             a job, and keeps the number of jobs running in  batch:QUEUE:in_flight
#   PASSWORD  redis password; empty or "-" for none (passed via REDISCLI_AUTH)
#   OWNER     who holds it: the Sluice run id ({{ run.id }})
# pause  sets batch:QUEUE:paused to OWNER unless someone already holds it (their hold is kept),
#        then waits up to HOLD_DRAIN_TIMEOUT seconds (default 120) for in-flight jobs to finish.
# resume deletes the key only if OWNER holds it (compare-and-delete in one script), so a hold
#        placed by an operator or another run survives this run.
# Both are safe to run twice.
set -eu

me=batch-hold
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -eq 5 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
action=$1; port=$2; queue=$3; pass=$4; owner=$5
command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found; install redis-tools"
case $port in ''|*[!0-9]*) die "redis port '$port' is not a number" ;; esac
case $queue in ''|*[!A-Za-z0-9._-]*) die "queue name '$queue' must use only A-Z a-z 0-9 . _ -" ;; esac
[ -n "$owner" ] || die "OWNER must not be empty"
host=${REDIS_HOST:-127.0.0.1}
if [ -n "$pass" ] && [ "$pass" != "-" ]; then REDISCLI_AUTH=$pass; export REDISCLI_AUTH; else unset REDISCLI_AUTH || true; fi
rcli() { redis-cli --no-auth-warning -h "$host" -p "$port" "$@"; }

pong=$(rcli PING 2>&1) || die "cannot reach redis at $host:$port: $pong"
[ "$pong" = PONG ] || die "redis at $host:$port answered '$pong' to PING (wrong password?)"

key=batch:$queue:paused
case $action in
pause)
    r=$(rcli SET "$key" "$owner" NX)
    if [ "$r" = OK ]; then
        say "paused batch queue $queue (owner $owner)"
    else
        holder=$(rcli GET "$key")
        if [ "$holder" = "$owner" ]; then say "batch queue $queue already paused by this run ($owner)"
        else say "batch queue $queue already paused by '$holder'; leaving that hold in place"; fi
    fi
    limit=${HOLD_DRAIN_TIMEOUT:-120}
    waited=0
    while :; do
        n=$(rcli GET "batch:$queue:in_flight")
        case $n in ''|*[!0-9]*) n=0 ;; esac
        [ "$n" -eq 0 ] && break
        [ "$waited" -ge "$limit" ] && die "batch queue $queue still has $n jobs in flight after ${limit}s (the queue stays paused; check the batch runner)"
        [ $((waited % 10)) -eq 0 ] && say "waiting for $n in-flight jobs of $queue to finish"
        sleep 1; waited=$((waited + 1))
    done
    say "batch queue $queue has no jobs in flight"
    ;;
resume)
    # Compare-and-delete: release only our own hold.
    r=$(rcli EVAL "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end" 1 "$key" "$owner")
    case $r in
    1) say "resumed batch queue $queue (hold of $owner released)" ;;
    0)
        holder=$(rcli GET "$key")
        if [ -z "$holder" ]; then say "batch queue $queue is not paused; nothing to release"
        else say "batch queue $queue is paused by '$holder', not by $owner; leaving it paused"; fi
        ;;
    *) die "unexpected reply releasing $key: $r" ;;
    esac
    ;;
status)
    holder=$(rcli GET "$key")
    if [ -n "$holder" ]; then say "batch queue $queue paused by '$holder'"; else say "batch queue $queue running"; fi
    ;;
*) die "unknown action '$action' (pause, resume or status)" ;;
esac
