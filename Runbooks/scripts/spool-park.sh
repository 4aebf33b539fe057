#!/bin/sh
# spool-park.sh - move oversized messages out of a mail queue, or put them back.
#
# Usage: spool-park.sh park [--dry-run] QUEUE_DIR PARK_DIR MAX_KIB RUN_ID
#        spool-park.sh restore QUEUE_DIR PARK_DIR RUN_ID
#   park     moves every queued message larger than MAX_KIB KiB from QUEUE_DIR into
#            PARK_DIR/RUN_ID/ (same relative path), so the relay can drain the rest; parked
#            messages are kept for a person to look at, never deleted.
#   restore  moves the messages parked by RUN_ID back where they were (the rollback).
# QUEUE_DIR and PARK_DIR must be on the same file system (moves are renames).
# Both are safe to repeat.
set -eu

me=spool-park
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }
usage() { sed -n '2,13p' "$0" >&2; exit 2; }

[ $# -ge 1 ] || usage
action=$1; shift
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi

case $action in
park)
    [ $# -eq 4 ] || usage
    q=${1%/}; park=${2%/}; max=$3; run=$4
    case $max in ''|*[!0-9]*) die "MAX_KIB '$max' is not a number" ;; esac
    ;;
restore)
    [ $# -eq 3 ] || usage
    q=${1%/}; park=${2%/}; run=$3
    ;;
*) usage ;;
esac
case $run in ''|*/*|.|..) die "bad run id '$run'" ;; esac
[ -d "$q" ] || die "queue folder $q does not exist"
dest=$park/$run

case $action in
park)
    list=$(mktemp "${TMPDIR:-/tmp}/spool-park.XXXXXX")
    trap 'rm -f "$list"' EXIT HUP INT TERM
    (cd "$q" && find . -type f -size +"$max"k) > "$list"
    n=$(wc -l < "$list" | tr -d ' ')
    if [ $dry -eq 1 ]; then
        say "would park $n messages larger than ${max} KiB from $q in $dest"
        exit 0
    fi
    moved=0
    while IFS= read -r rel; do
        rel=${rel#./}
        mkdir -p "$dest/$(dirname "$rel")"
        mv "$q/$rel" "$dest/$rel"
        moved=$((moved + 1))
    done < "$list"
    left=$(find "$q" -type f | wc -l | tr -d ' ')
    say "parked $moved messages larger than ${max} KiB from $q in $dest; $left messages left in the queue"
    ;;
restore)
    if [ ! -d "$dest" ]; then say "run $run parked nothing from $q (or it was already restored)"; exit 0; fi
    moved=0
    list=$(mktemp "${TMPDIR:-/tmp}/spool-park.XXXXXX")
    trap 'rm -f "$list"' EXIT HUP INT TERM
    (cd "$dest" && find . -type f) > "$list"
    while IFS= read -r rel; do
        rel=${rel#./}
        mkdir -p "$q/$(dirname "$rel")"
        mv "$dest/$rel" "$q/$rel"
        moved=$((moved + 1))
    done < "$list"
    find "$dest" -depth -type d -empty -exec rmdir {} \;
    say "restored $moved messages parked by run $run to $q"
    ;;
esac
