#!/bin/sh
# demo-cache.sh - the quickstart's pretend service cache: a folder of cached entries per service.
#
# Usage: demo-cache.sh refresh [--dry-run] STATE_DIR NAME
#   Drops every cached entry of service NAME and stamps the cache with the run that refreshed it
#   (STATE_DIR/NAME/cache/generation). Safe to run twice: the second run finds an empty cache.
set -eu

me=demo-cache
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ "${1:-}" = refresh ] || { sed -n '2,6p' "$0" >&2; exit 2; }
shift
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
[ $# -eq 2 ] || die "usage: demo-cache.sh refresh [--dry-run] STATE_DIR NAME"
state_dir=$1; name=$2
case $name in ''|*/*|.|..) die "bad service name '$name'" ;; esac
cache=$state_dir/$name/cache

entries=0
if [ -d "$cache/entries" ]; then
    entries=$(find "$cache/entries" -type f | wc -l | tr -d ' ')
fi
if [ $dry -eq 1 ]; then
    say "would drop $entries cached entries of $name and stamp $cache/generation"
    exit 0
fi
[ -d "$state_dir/$name" ] || die "$name is not installed ($state_dir/$name missing)"
rm -rf "$cache/entries"
mkdir -p "$cache/entries"
gen=${SLUICE_RUN_ID:-manual}-${SLUICE_MODE:-apply}
printf '%s\n' "$gen" > "$cache/generation.tmp.$$"
mv -f "$cache/generation.tmp.$$" "$cache/generation"
say "refreshed cache of $name: dropped $entries entries, generation $gen"
