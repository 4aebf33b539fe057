#!/bin/sh
# rotate-logs.sh - archive an nginx instance's logs while it is stopped for maintenance.
#
# Usage: rotate-logs.sh PREFIX RUN_ID [KEEP]
#   Moves PREFIX/logs/*.log into PREFIX/logs/archive/RUN_ID/, compresses them with gzip when
#   available, and keeps only the newest KEEP archives (default 7). Refuses while the
#   instance is running (its pid file names a live process), because nginx would keep
#   writing to the moved files. Safe to repeat: a second run finds no logs to move.
set -eu

me=rotate-logs
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -ge 2 ] && [ $# -le 3 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
prefix=${1%/}; run=$2; keep=${3:-7}
case $run in ''|*/*|.|..) die "bad run id '$run'" ;; esac
case $keep in ''|*[!0-9]*) die "KEEP '$keep' is not a number" ;; esac
logs=$prefix/logs
[ -d "$logs" ] || die "$logs does not exist"
# alive PID: whether PID is a running process; a zombie (exited, not yet reaped) is not.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 0
    [ "$state" != Z ]
}
if [ -s "$logs/nginx.pid" ] && alive "$(tr -dc '0-9' < "$logs/nginx.pid")"; then
    die "nginx $prefix is running; stop it before rotating its logs"
fi

dest=$logs/archive/$run
moved=0
for f in "$logs"/*.log; do
    [ -f "$f" ] || continue
    mkdir -p "$dest"
    mv "$f" "$dest/"
    moved=$((moved + 1))
done
if [ $moved -gt 0 ] && command -v gzip >/dev/null 2>&1; then
    gzip -f "$dest"/*.log
fi

# Keep the newest $keep archives (run ids sort by time: r-YYYYMMDD-HHMMSS-xxxx).
pruned=0
if [ -d "$logs/archive" ]; then
    n=$(ls -1 "$logs/archive" | wc -l | tr -d ' ')
    if [ "$n" -gt "$keep" ]; then
        for old in $(ls -1 "$logs/archive" | sort | head -n $((n - keep))); do
            rm -rf "${logs:?}/archive/$old"
            pruned=$((pruned + 1))
        done
    fi
fi
say "archived $moved log files of $prefix in $dest; pruned $pruned old archives"
