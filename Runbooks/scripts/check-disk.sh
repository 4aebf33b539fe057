#!/bin/sh
# check-disk.sh - fail when the file system holding a folder is fuller than allowed.
#
# Usage: check-disk.sh DIR MAX_PERCENT
#   Fails when the file system holding DIR is more than MAX_PERCENT full (blocks or inodes).
#   Read-only.
set -eu

me=check-disk
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -eq 2 ] || { sed -n '2,6p' "$0" >&2; exit 2; }
dir=$1; max=$2
case $max in ''|*[!0-9]*) die "MAX_PERCENT '$max' is not a number" ;; esac
[ -d "$dir" ] || die "$dir does not exist"

used=$(df -P "$dir" | awk 'NR == 2 { sub(/%/, "", $5); print $5 }')
inodes=$(df -P -i "$dir" 2>/dev/null | awk 'NR == 2 { sub(/%/, "", $5); print $5 }') || inodes=
case $used in ''|*[!0-9]*) die "cannot read the disk usage of $dir from df" ;; esac
case $inodes in ''|*[!0-9]*) inodes=0 ;; esac   # some file systems report "-" for inodes
mount=$(df -P "$dir" | awk 'NR == 2 { print $6 }')
[ "$used" -le "$max" ] || die "$mount (holding $dir) is ${used}% full, above ${max}%"
[ "$inodes" -le "$max" ] || die "$mount (holding $dir) has ${inodes}% of its inodes used, above ${max}%"
say "$mount (holding $dir) is ${used}% full, ${inodes}% inodes used (limit ${max}%)"
