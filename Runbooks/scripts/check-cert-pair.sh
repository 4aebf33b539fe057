#!/bin/sh
# check-cert-pair.sh - check a certificate before it goes anywhere near a balancer.
#
# Usage: check-cert-pair.sh CERT KEY MIN_DAYS
#   Fails unless CERT is a readable PEM certificate valid for at least MIN_DAYS more days
#   and KEY is the private key that belongs to it. Needs openssl. Read-only.
set -eu

me=check-cert-pair
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -eq 3 ] || { sed -n '2,6p' "$0" >&2; exit 2; }
cert=$1; key=$2; days=$3
case $days in ''|*[!0-9]*) die "MIN_DAYS '$days' is not a number" ;; esac
command -v openssl >/dev/null 2>&1 || die "openssl not found"
[ -f "$cert" ] || die "certificate $cert does not exist"
[ -f "$key" ] || die "key $key does not exist"

subject=$(openssl x509 -in "$cert" -noout -subject 2>/dev/null) || die "$cert is not a PEM certificate"
end=$(openssl x509 -in "$cert" -noout -enddate | sed 's/^notAfter=//')
openssl x509 -in "$cert" -noout -checkend $((days * 86400)) >/dev/null \
    || die "$cert ($subject) expires $end, within $days days"
cert_pub=$(openssl x509 -in "$cert" -noout -pubkey) || die "cannot read the public key of $cert"
key_pub=$(openssl pkey -in "$key" -pubout 2>/dev/null) || die "$key is not a readable private key"
[ "$cert_pub" = "$key_pub" ] || die "$key does not belong to $cert"
say "$cert ($subject) matches its key and is valid until $end"
