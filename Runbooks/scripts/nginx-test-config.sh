#!/bin/sh
# nginx-test-config.sh - `nginx -t` a candidate file in the context of a whole configuration.
#
# Usage: nginx-test-config.sh PREFIX CONF_RELPATH CANDIDATE [RELPATH=FILE...]
#   PREFIX        the nginx instance's prefix folder (nginx -p)
#   CONF_RELPATH  where the candidate will live, relative to PREFIX/conf
#                 (e.g. locations/loan-policy.conf)
#   CANDIDATE     the new content (in a `file` step: {{ file }})
#   RELPATH=FILE  other files the candidate needs that an earlier step installs (e.g.
#                 certs/x.crt=files/certs/x.crt), put into the copy as well, so that
#                 `sluice plan` can test the candidate before that step has run
# Environment: NGINX_BIN, NGINX_CONF (main file relative to PREFIX, default conf/nginx.conf).
#
# Copies PREFIX/conf to a temporary folder, puts CANDIDATE in place of CONF_RELPATH and runs
# nginx -t on the copy, so includes, certificates and other server blocks are all checked
# while the live configuration stays untouched. Includes must be relative (to the conf folder).
# Read-only; safe to run any number of times.
set -eu

me=nginx-test-config
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -ge 3 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
prefix=${1%/}; rel=$2; cand=$3; shift 3
main=${NGINX_CONF:-conf/nginx.conf}
case $main in /*) die "NGINX_CONF must be relative to the prefix" ;; esac
[ -d "$prefix/conf" ] || die "$prefix/conf does not exist"
[ -f "$prefix/$main" ] || die "$prefix/$main does not exist"
[ -f "$cand" ] || die "candidate $cand does not exist"
check_rel() {
    case $1 in ''|/*|..|../*|*/../*|*/..) die "path '$1' must stay inside $prefix/conf" ;; esac
}
check_rel "$rel"
for extra in "$@"; do
    case $extra in *=*) ;; *) die "extra file '$extra' must be RELPATH=FILE" ;; esac
    check_rel "${extra%%=*}"
    [ -f "${extra#*=}" ] || die "extra file ${extra#*=} does not exist"
done

nginx_bin=${NGINX_BIN:-}
if [ -z "$nginx_bin" ]; then
    if command -v nginx >/dev/null 2>&1; then nginx_bin=nginx
    elif [ -x /usr/sbin/nginx ]; then nginx_bin=/usr/sbin/nginx
    else die "nginx not found (install it or set NGINX_BIN)"; fi
fi
# Keep nginx's early error log inside the prefix (nginx 1.19.5+ has -e); older ones use the
# compiled-in path until the configuration is read.
elog=
if "$nginx_bin" -h 2>&1 | grep -q -- '-e filename'; then elog=$prefix/logs/error.log; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nginx-test-config.XXXXXX")
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
cp -R "$prefix/conf" "$tmp/conf"
for extra in "$@"; do
    mkdir -p "$(dirname "$tmp/conf/${extra%%=*}")"
    cp "${extra#*=}" "$tmp/conf/${extra%%=*}"
done
mkdir -p "$(dirname "$tmp/conf/$rel")"
cp "$cand" "$tmp/conf/$rel"
main_in_copy=$tmp/conf/${main#conf/}
[ -f "$main_in_copy" ] || die "main configuration $main is not inside $prefix/conf"

if [ -n "$elog" ]; then set -- -e "$elog"; else set --; fi
if ! "$nginx_bin" "$@" -t -q -p "$prefix/" -c "$main_in_copy" </dev/null >"$tmp/out" 2>&1; then
    sed -e "s|$tmp/conf|$prefix/conf|g" -e 's/^/  nginx: /' "$tmp/out" >&2
    die "candidate for $prefix/conf/$rel fails nginx -t; the live file was not touched"
fi
say "nginx -t accepts $prefix/conf/$rel with the new content"
