#!/bin/sh
# http-post-check.sh - POST to an endpoint and check status and body, as a user would.
#
# Usage: http-post-check.sh login URL USER PASSWORD
#            POST USER and PASSWORD as a form to URL (e.g. http://127.0.0.1:8091/login) and
#            require HTTP 200 and a JSON body with a non-empty "token". The password goes to
#            curl on its standard input, never on a command line, and nothing of the token
#            is printed.
#        http-post-check.sh submit URL EXPECT_STATUS
#            POST a small test message (text/plain) to URL and require EXPECT_STATUS.
# Needs curl. Timeout per request: HTTP_CHECK_TIMEOUT seconds (default 5). Read-only
# for the service except that `submit` hands it one test message.
set -eu

me=http-post-check
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }
usage() { sed -n '2,13p' "$0" >&2; exit 2; }

command -v curl >/dev/null 2>&1 || die "curl not found"
[ $# -ge 1 ] || usage
mode=$1; shift
t=${HTTP_CHECK_TIMEOUT:-5}
body=$(mktemp "${TMPDIR:-/tmp}/http-post-check.XXXXXX")
trap 'rm -f "$body"' EXIT HUP INT TERM

case $mode in
login)
    [ $# -eq 3 ] || usage
    url=$1; user=$2; pass=$3
    status=$(printf '%s' "$pass" | curl -sS -m "$t" -o "$body" -w '%{http_code}' \
        -X POST --data-urlencode "username=$user" --data-urlencode "password@-" "$url") \
        || die "POST $url failed (connection refused or timed out)"
    [ "$status" = 200 ] || die "POST $url as $user answered HTTP $status, expected 200: $(head -c 200 "$body")"
    # A token: "token": "<at least 8 characters>"
    grep -Eq '"token"[[:space:]]*:[[:space:]]*"[^"]{8,}"' "$body" \
        || die "POST $url as $user answered 200 but with no token in the body: $(head -c 200 "$body")"
    say "login as $user at $url works (HTTP 200, token issued)"
    ;;
submit)
    [ $# -eq 2 ] || usage
    url=$1; want=$2
    msg="Subject: sluice relay check ${SLUICE_RUN_ID:-manual} ${SLUICE_TARGET:-}
From: sluice@localhost
To: postmaster@localhost

Test message from Sluice run ${SLUICE_RUN_ID:-manual}; safe to discard."
    status=$(printf '%s\n' "$msg" | curl -sS -m "$t" -o "$body" -w '%{http_code}' \
        -X POST -H 'Content-Type: text/plain' --data-binary @- "$url") \
        || die "POST $url failed (connection refused or timed out)"
    [ "$status" = "$want" ] || die "POST $url answered HTTP $status, expected $want: $(head -c 200 "$body")"
    say "test message accepted by $url (HTTP $status)"
    ;;
*) usage ;;
esac
