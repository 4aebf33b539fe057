#!/bin/sh
# check-queue.sh - fail when mail queues hold more messages than allowed.
#
# Usage: check-queue.sh MAX_MESSAGES QUEUE_DIR...
#   Counts the regular files under every QUEUE_DIR (recursively; one file = one queued
#   message) and fails when the total is above MAX_MESSAGES. A QUEUE_DIR that does not exist
#   is an error: a guard that cannot see the queue must not pass. Read-only.
set -eu

me=check-queue
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -ge 2 ] || { sed -n '2,7p' "$0" >&2; exit 2; }
max=$1; shift
case $max in ''|*[!0-9]*) die "MAX_MESSAGES '$max' is not a number" ;; esac

total=0; detail=
for q in "$@"; do
    [ -d "$q" ] || die "queue folder $q does not exist"
    n=$(find "$q" -type f | wc -l | tr -d ' ')
    total=$((total + n))
    detail="$detail $q=$n"
done
[ "$total" -le "$max" ] || die "$total messages queued, above the limit of $max:$detail"
say "$total messages queued (limit $max):$detail"
