#!/bin/sh
# check-served-cert.sh - check that a TLS listener serves the expected certificate.
#
# Usage: check-served-cert.sh HOST PORT SERVER_NAME CERT
#   Connects with SNI SERVER_NAME and compares the SHA-256 fingerprint of the certificate
#   served with that of CERT. Needs openssl. Read-only.
set -eu

me=check-served-cert
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -eq 4 ] || { sed -n '2,6p' "$0" >&2; exit 2; }
host=$1; port=$2; sni=$3; cert=$4
command -v openssl >/dev/null 2>&1 || die "openssl not found"
[ -f "$cert" ] || die "certificate $cert does not exist"

want=$(openssl x509 -in "$cert" -noout -fingerprint -sha256) || die "$cert is not a PEM certificate"
served=$(openssl s_client -connect "$host:$port" -servername "$sni" </dev/null 2>/dev/null \
    | openssl x509 -noout -fingerprint -sha256 2>/dev/null) \
    || die "no certificate served on $host:$port for $sni (is the TLS listener up?)"
[ "$served" = "$want" ] || die "$host:$port serves $served for $sni, expected $want ($cert)"
say "$host:$port serves $cert for $sni ($want)"
