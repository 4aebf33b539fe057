#!/bin/sh
# Durable appends per second of the audit store, for 1 writer and for 16 concurrent tasks, beside
# raw SQLite's own rate at the same durability (1-row INSERT + COMMIT in a loop, WAL,
# synchronous=FULL), all measured in this run on this machine's disk.
#
#   Scripts/bench-audit.sh [COUNT [ROUNDS]]     (defaults: 2000 events, 5 rounds; medians printed)
#
# Goals: one writer at 80 % or more of raw SQLite; 16 tasks at 5x the one-writer rate or more.
# The stores go to a temporary folder under .build (same file system as the project), removed at
# the end; set SLUICE_BENCH_DIR to measure another disk.
set -eu
cd "$(dirname "$0")/.."
count="${1:-2000}"
rounds="${2:-5}"
swift build -c release --product sluice-store-bench >&2
folder="${SLUICE_BENCH_DIR:-.build}/bench-audit.$$"
trap 'rm -rf "$folder"' EXIT INT TERM
"$(swift build -c release --show-bin-path)/sluice-store-bench" bench "$folder" "$count" "$rounds"
