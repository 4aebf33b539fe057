#!/bin/sh
# count-certs.sh - refuse when installing new certificates would exceed a balancer's limit.
#
# Usage: count-certs.sh CERT_DIR LIMIT NEW_CERT...
#   CERT_DIR  the balancer's certificate folder; every file directly in it that holds a PEM
#             certificate counts as one configured certificate (a chain file counts once)
#   LIMIT     the most certificates the balancer's configuration allows
#   NEW_CERT  the certificate files the change will add; one whose name is already in
#             CERT_DIR replaces it and adds nothing (so a second run counts the same)
# Read-only: exit 0 when the total stays within LIMIT, 1 (with the numbers) when it would not.
set -eu

me=count-certs
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -ge 3 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
dir=${1%/}; limit=$2; shift 2
case $limit in ''|*[!0-9]*) die "limit '$limit' is not a number" ;; esac

is_cert() { grep -q -e '-----BEGIN CERTIFICATE-----' "$1" 2>/dev/null; }

existing=0
if [ -d "$dir" ]; then
    for f in "$dir"/* "$dir"/.[!.]*; do
        [ -f "$f" ] || continue
        if is_cert "$f"; then existing=$((existing + 1)); fi
    done
else
    say "$dir does not exist yet: 0 certificates configured"
fi

adding=0; replacing=0
for new in "$@"; do
    [ -f "$new" ] || die "new certificate $new does not exist"
    is_cert "$new" || die "$new holds no PEM certificate"
    base=$(basename "$new")
    if [ -f "$dir/$base" ] && is_cert "$dir/$base"; then
        replacing=$((replacing + 1))
    else
        adding=$((adding + 1))
    fi
done

total=$((existing + adding))
if [ "$total" -gt "$limit" ]; then
    die "$dir: $existing certificates configured + $adding new = $total, over the limit of $limit; remove $((total - limit)) unused certificate(s) first or raise the limit"
fi
say "$dir: $existing configured + $adding new ($replacing replaced) = $total of limit $limit"
