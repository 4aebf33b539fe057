#!/bin/sh
# selftest.sh - exercise the runbooks' scripts that need no nginx or redis, in a temp folder.
#
# Usage: lab/selftest.sh        (exit 0 when every check passes)
# Covers demo-service, demo-cache, demo-hold, count-certs, check-cert-pair (needs openssl),
# install-certs, check-queue, check-disk and spool-park, including their second runs.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
s=$here/scripts
tmp=$(mktemp -d "${TMPDIR:-/tmp}/runbooks-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
fails=0
ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
# expect RC DESCRIPTION COMMAND...: run COMMAND quietly and compare its exit status.
expect() {
    want=$1; what=$2; shift 2
    rc=0; "$@" >"$tmp/out" 2>&1 || rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$what"; else bad "$what (exit $rc, wanted $want)"; sed 's/^/     /' "$tmp/out"; fi
}

export SLUICE_RUN_ID=r-20261121-083015-7f3a SLUICE_MODE=apply
d=$tmp/demo
expect 0 "demo: dry-run ensure on a fresh folder" "$s/demo-service.sh" ensure --dry-run "$d" web-1
expect 0 "demo: ensure" "$s/demo-service.sh" ensure "$d" web-1
expect 0 "demo: ensure again" "$s/demo-service.sh" ensure "$d" web-1
printf 'name=web-1\nversion=2.0\nport=8001\ngreeting=hi there\n' > "$tmp/good.conf"
printf 'name=web-1\nversion=2.0\nport=80x\ngreeting=hi\n' > "$tmp/bad.conf"
expect 0 "demo: valid config accepted" "$s/demo-service.sh" validate "$tmp/good.conf"
expect 1 "demo: bad port refused" "$s/demo-service.sh" validate "$tmp/bad.conf"
expect 0 "demo: deploy" "$s/demo-service.sh" deploy "$d" web-1 2.0 "$SLUICE_RUN_ID"
expect 0 "demo: deploy again" "$s/demo-service.sh" deploy "$d" web-1 2.0 "$SLUICE_RUN_ID"
expect 0 "demo: restart" "$s/demo-service.sh" restart "$d" web-1
expect 0 "demo: healthy on 2.0" "$s/demo-service.sh" health "$d" web-1 2.0
expect 0 "demo: cache refresh" "$s/demo-cache.sh" refresh "$d" web-1
expect 0 "demo: cache refresh again" "$s/demo-cache.sh" refresh "$d" web-1
echo 2.0 > "$d/web-1/crash-on-version"
expect 0 "demo: restart into a crash" "$s/demo-service.sh" restart "$d" web-1
expect 1 "demo: crash caught by health" "$s/demo-service.sh" health "$d" web-1
expect 0 "demo: undeploy of another run does nothing" "$s/demo-service.sh" undeploy "$d" web-1 r-other
expect 0 "demo: undeploy" "$s/demo-service.sh" undeploy "$d" web-1 "$SLUICE_RUN_ID"
expect 0 "demo: healthy after undeploy" "$s/demo-service.sh" health "$d" web-1 1.0
expect 0 "demo: undeploy again" "$s/demo-service.sh" undeploy "$d" web-1 "$SLUICE_RUN_ID"
expect 0 "hold: pause" "$s/demo-hold.sh" pause "$d" nightly
expect 0 "hold: pause again" "$s/demo-hold.sh" pause "$d" nightly
expect 0 "hold: resume" "$s/demo-hold.sh" resume "$d" nightly
[ ! -e "$d/holds/nightly.hold" ] && ok "hold: flag gone" || bad "hold: flag gone"
echo operator > "$d/holds/other.hold"
expect 0 "hold: someone else's hold kept" "$s/demo-hold.sh" resume "$d" other
[ -e "$d/holds/other.hold" ] && ok "hold: operator flag still there" || bad "hold: operator flag still there"

c=$tmp/certs; mkdir -p "$c"
new1=$here/files/certs/loans.example.test.crt; new2=$here/files/certs/portal.example.test.crt
for i in 1 2 3; do cp "$new1" "$c/old$i.pem"; done
echo notes > "$c/README"
expect 0 "certs: 3 + 2 within 5" "$s/count-certs.sh" "$c" 5 "$new1" "$new2"
expect 1 "certs: 3 + 2 over 4 refused" "$s/count-certs.sh" "$c" 4 "$new1" "$new2"
expect 0 "certs: missing folder counts 0" "$s/count-certs.sh" "$tmp/none" 2 "$new1" "$new2"
if command -v openssl >/dev/null 2>&1; then
    expect 0 "certs: pair matches" "$s/check-cert-pair.sh" "$new1" "${new1%.crt}.key" 30
    expect 1 "certs: wrong key refused" "$s/check-cert-pair.sh" "$new1" "${new2%.crt}.key" 30
fi
expect 0 "certs: install" "$s/install-certs.sh" install "$c" r-1 "$new1" "$new2"
expect 0 "certs: install again" "$s/install-certs.sh" install "$c" r-1 "$new1" "$new2"
expect 0 "certs: recount after install is unchanged" "$s/count-certs.sh" "$c" 5 "$new1" "$new2"
expect 0 "certs: remove" "$s/install-certs.sh" remove "$c" r-1
expect 0 "certs: remove again" "$s/install-certs.sh" remove "$c" r-1
[ "$(ls "$c" | wc -l | tr -d ' ')" = 4 ] && ok "certs: back to the 4 original files" || bad "certs: back to the 4 original files"

q=$tmp/spool; mkdir -p "$q/relay-01/queue/sub" "$q/relay-02/queue"
for i in 1 2 3; do echo msg > "$q/relay-01/queue/m$i"; done
dd if=/dev/zero of="$q/relay-01/queue/sub/big" bs=1024 count=300 2>/dev/null
expect 0 "queue: 4 within 10" "$s/check-queue.sh" 10 "$q/relay-01/queue" "$q/relay-02/queue"
expect 1 "queue: 4 over 3 refused" "$s/check-queue.sh" 3 "$q/relay-01/queue" "$q/relay-02/queue"
expect 1 "queue: missing folder refused" "$s/check-queue.sh" 10 "$q/relay-09/queue"
expect 0 "disk: below 100%" "$s/check-disk.sh" "$q" 100
expect 0 "park: dry run" "$s/spool-park.sh" park --dry-run "$q/relay-01/queue" "$q/relay-01/parked" 256 r-1
expect 0 "park" "$s/spool-park.sh" park "$q/relay-01/queue" "$q/relay-01/parked" 256 r-1
expect 0 "park again" "$s/spool-park.sh" park "$q/relay-01/queue" "$q/relay-01/parked" 256 r-1
[ -f "$q/relay-01/parked/r-1/sub/big" ] && ok "park: big message parked" || bad "park: big message parked"
expect 0 "park: restore" "$s/spool-park.sh" restore "$q/relay-01/queue" "$q/relay-01/parked" r-1
expect 0 "park: restore again" "$s/spool-park.sh" restore "$q/relay-01/queue" "$q/relay-01/parked" r-1
[ -f "$q/relay-01/queue/sub/big" ] && ok "park: big message back" || bad "park: big message back"

if [ $fails -gt 0 ]; then echo "$fails check(s) failed" >&2; exit 1; fi
echo "all checks passed"
