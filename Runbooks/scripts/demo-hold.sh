#!/bin/sh
# demo-hold.sh - hold and release a pretend batch job by a flag file the job honours.
#
# Usage: demo-hold.sh pause|resume|status STATE_DIR JOB
#   pause  writes STATE_DIR/holds/JOB.hold naming this run; a job that finds the flag skips its turn.
#   resume removes the flag, but only if this run set it: a hold an operator (or another run)
#          placed first is left alone and reported.
# Both are safe to run twice.
set -eu

me=demo-hold
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -eq 3 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
action=$1; state_dir=$2; job=$3
case $job in ''|*/*|.|..) die "bad job name '$job'" ;; esac
owner=${SLUICE_RUN_ID:-manual-$(id -un 2>/dev/null || echo unknown)}
flag=$state_dir/holds/$job.hold

case $action in
pause)
    mkdir -p "$state_dir/holds"
    if [ -f "$flag" ]; then
        held_by=$(cat "$flag")
        if [ "$held_by" = "$owner" ]; then
            say "$job already held by this run ($owner)"
        else
            say "$job already held by $held_by; leaving that hold in place"
        fi
    else
        printf '%s\n' "$owner" > "$flag.tmp.$$"
        mv -f "$flag.tmp.$$" "$flag"
        say "held $job ($flag, owner $owner)"
    fi
    ;;
resume)
    if [ ! -f "$flag" ]; then
        say "$job is not held; nothing to release"
    elif [ "$(cat "$flag")" = "$owner" ]; then
        rm -f "$flag"
        say "released $job (hold of $owner)"
    else
        say "$job is held by $(cat "$flag"), not by $owner; leaving it held"
    fi
    ;;
status)
    if [ -f "$flag" ]; then say "$job held by $(cat "$flag")"; else say "$job not held"; fi
    ;;
*)
    die "unknown action '$action' (pause, resume or status)" ;;
esac
