#!/bin/sh
# lab.sh - bring up (and down) a throw-away lab for the example runbooks on 127.0.0.1:
# one nginx instance per target of every nginx runbook, one redis, and the mail queues.
# Not used by any runbook; for trying them out and for end-to-end tests.
#
# Usage: lab.sh up ROOT      create ROOT/{nginx,redis,spool} and start everything
#        lab.sh down ROOT    stop everything started from ROOT (files are left)
#        lab.sh env ROOT     print the environment the runbooks expect
# Environment: OPS_REDIS_PORT (default 6390), OPS_REDIS_PASSWORD (default lab-cache-secret;
#              set it empty or "-" for a redis without a password),
#              OPS_LOGIN_PROBE_PASSWORD (default lab-probe), NGINX_BIN, LAB_SKIP_REDIS=1,
#              LAB_TARGETS="ap01-a ap01-b ..." (bring up only these instances; default all),
#              LAB_PORT_OFFSET=N (add N to every instance's port, so that several labs can run
#              on one host; the runbooks' urls must then be shifted by the same N).
# Needs nginx (with the ssl module); redis-server for the loan runbook.
#
# Every nginx instance gets ROOT/nginx/NAME/conf/nginx.conf listening on its target's port:
#   GET  /health  -> 200 "ok"
#   POST /login   -> 200 {"token": ...}   (any other method: 405)
#   conf/locations/*.conf  included inside that server block (runbook-managed snippets)
#   conf/sites/*.conf      included at http level (runbook-managed server blocks, e.g. TLS)
#   conf/certs/            certificates
# and, by role, the "before" state the runbooks change: loan-policy 2026.10-r1 on the loan
# API, an unlimited /submit on the mail relays. Existing files are never overwritten, so
# `up` after `down` keeps what a runbook left behind. Safe to run twice.
set -eu

me=lab
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

here=$(cd "$(dirname "$0")" && pwd)
ctl=$here/../scripts/nginx-ctl.sh

# name port role - must match the runbooks' targets and inventories.
TARGETS="
ap01-a 8081 loan
ap01-b 8082 loan
ap02-a 8083 loan
ap02-b 8084 loan
auth-01 8091 login
auth-02 8092 login
auth-03 8093 login
auth-04 8094 login
lb-ams-1 8101 lb
lb-ams-2 8102 lb
lb-fra-1 8103 lb
lb-fra-2 8104 lb
lb-lon-1 8105 lb
lb-lon-2 8106 lb
relay-01 8111 relay
relay-02 8112 relay
relay-03 8113 relay
"

[ $# -eq 2 ] || { sed -n '2,26p' "$0" >&2; exit 2; }
action=$1; root=$2
mkdir -p "$root"
root=$(cd "$root" && pwd)
offset=${LAB_PORT_OFFSET:-0}
case $offset in ''|*[!0-9]*) die "LAB_PORT_OFFSET '$offset' is not a number" ;; esac
only=${LAB_TARGETS:-}
for name in $only; do
    echo "$TARGETS" | grep -q "^$name " || die "LAB_TARGETS names '$name', which is not a lab instance"
done
# wanted NAME: whether NAME is one of the instances to bring up.
wanted() {
    [ -z "$only" ] && return 0
    case " $only " in *" $1 "*) return 0 ;; esac
    return 1
}
redis_port=${OPS_REDIS_PORT:-6390}
redis_pass=${OPS_REDIS_PASSWORD-lab-cache-secret}
if [ "$redis_pass" = "-" ]; then redis_pass=; fi

# alive PID: whether PID is a running process; a zombie (exited, not yet reaped by init) is not.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 0
    [ "$state" != Z ]
}

# write_new FILE: write standard input to FILE unless it exists.
write_new() {
    if [ -e "$1" ]; then cat >/dev/null; else cat > "$1"; fi
}

make_instance() {
    name=$1; port=$2; role=$3; p=$root/nginx/$name
    mkdir -p "$p/conf/locations" "$p/conf/sites" "$p/conf/certs" "$p/logs" "$p/tmp"
    write_new "$p/conf/nginx.conf" <<CONF
# Lab nginx instance $name ($role), made by Runbooks/lab/lab.sh.
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 128; }
http {
    default_type application/octet-stream;
    access_log logs/access.log;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        server_name $name;
        location = /health {
            default_type text/plain;
            return 200 "ok\n";
        }
        location = /login {
            if (\$request_method != POST) { return 405; }
            default_type application/json;
            return 200 '{"token":"lab-\$request_id","instance":"$name"}\n';
        }
        include locations/*.conf;
    }
    include sites/*.conf;
}
CONF
    case $role in
    loan)
        write_new "$p/conf/locations/loan-policy.conf" <<'CONF'
# Loan-policy endpoints (lab: the policy before CHG-1042).
location = /loan-policy/version {
    default_type text/plain;
    return 200 "loan-policy 2026.10-r1\n";
}
CONF
        ;;
    relay)
        write_new "$p/conf/locations/mail-relay.conf" <<'CONF'
# Mail submission endpoint (lab: before INC-3310, no size limit).
location = /submit {
    client_max_body_size 0;
    if ($request_method != POST) { return 405; }
    default_type text/plain;
    return 202 "queued\n";
}
CONF
        mkdir -p "$root/spool/$name/queue" "$root/spool/$name/parked"
        ;;
    esac
}

redis_cli() {
    if [ -n "$redis_pass" ]; then REDISCLI_AUTH=$redis_pass redis-cli --no-auth-warning -h 127.0.0.1 -p "$redis_port" "$@"
    else redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; fi
}

case $action in
up)
    echo "$TARGETS" | while read -r name port role; do
        [ -n "$name" ] || continue
        wanted "$name" || continue
        port=$((port + offset))
        [ "$port" -le 65535 ] || die "LAB_PORT_OFFSET $offset puts $name on port $port, above 65535"
        make_instance "$name" "$port" "$role"
        "$ctl" start "$root/nginx/$name"
    done
    if [ "${LAB_SKIP_REDIS:-0}" != 1 ]; then
        command -v redis-server >/dev/null 2>&1 || die "redis-server not found (install redis-server, or LAB_SKIP_REDIS=1)"
        mkdir -p "$root/redis"
        if redis_cli PING 2>/dev/null | grep -q PONG; then
            say "redis already answering on 127.0.0.1:$redis_port"
        else
            set -- --port "$redis_port" --bind 127.0.0.1 --daemonize yes \
                --pidfile "$root/redis/redis.pid" --dir "$root/redis" --logfile "$root/redis/redis.log" \
                --save "" --appendonly no
            if [ -n "$redis_pass" ]; then set -- "$@" --requirepass "$redis_pass"; fi
            redis-server "$@" </dev/null >/dev/null 2>&1 || die "redis-server failed to start; see $root/redis/redis.log"
            i=0
            until redis_cli PING 2>/dev/null | grep -q PONG; do
                i=$((i + 1)); [ $i -lt 50 ] || die "redis did not answer on 127.0.0.1:$redis_port within 10s"
                sleep 0.2
            done
            say "started redis on 127.0.0.1:$redis_port"
        fi
        # Something for the cache refresh to drop.
        for t in ap01-a ap01-b ap02-a ap02-b; do
            redis_cli SET "loan-policy:$t:rates" "2026.10-r1" >/dev/null
            redis_cli SET "loan-policy:$t:limits" "2026.10-r1" >/dev/null
        done
    fi
    "$0" env "$root"
    ;;
down)
    echo "$TARGETS" | while read -r name port role; do
        [ -n "$name" ] || continue
        if [ -d "$root/nginx/$name" ]; then "$ctl" stop "$root/nginx/$name"; fi
    done
    if [ -s "$root/redis/redis.pid" ]; then
        pid=$(tr -dc '0-9' < "$root/redis/redis.pid")
        if [ -n "$pid" ] && alive "$pid"; then
            kill -TERM "$pid"
            i=0
            while alive "$pid" && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
            say "stopped redis (pid $pid)"
        fi
        rm -f "$root/redis/redis.pid"
    fi
    ;;
env)
    printf 'export OPS_NGINX_ROOT=%s\n' "$root/nginx"
    printf 'export OPS_MAIL_SPOOL=%s\n' "$root/spool"
    printf 'export OPS_REDIS_PORT=%s\n' "$redis_port"
    printf 'export OPS_REDIS_PASSWORD=%s\n' "${redis_pass:--}"
    printf 'export OPS_LOGIN_PROBE_PASSWORD=%s\n' "${OPS_LOGIN_PROBE_PASSWORD:-lab-probe}"
    ;;
*) die "unknown action '$action' (up, down or env)" ;;
esac
