#!/bin/sh
# nginx-ctl.sh - start, stop, restart, reload or test one nginx instance, and wait until it is so.
#
# Usage: nginx-ctl.sh ACTION PREFIX [CONF]
#   ACTION  start | stop | restart | reload | status | test | check (= status and test)
#   PREFIX  the instance's prefix folder (nginx -p); logs and the pid file live under it
#   CONF    main configuration file, absolute or relative to PREFIX (default conf/nginx.conf)
# Environment: NGINX_BIN (default: nginx on PATH, else /usr/sbin/nginx),
#              NGINX_STOP_TIMEOUT seconds to wait for a graceful stop (default 20).
#
# start and stop are safe to repeat (an instance already up/down is left as it is); restart
# always restarts; reload refuses when the instance is not running, and tests the
# configuration first so a bad file never reaches the running master.
set -eu

me=nginx-ctl
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }

[ $# -ge 2 ] && [ $# -le 3 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
action=$1; prefix=${2%/}; conf=${3:-conf/nginx.conf}
case $conf in /*) ;; *) conf=$prefix/$conf ;; esac
[ -d "$prefix" ] || die "nginx prefix $prefix does not exist"
[ -f "$conf" ] || die "nginx configuration $conf does not exist"

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

# The pid file named by the configuration's `pid` directive, relative to the prefix.
pid_file=$(sed -n 's/^[[:space:]]*pid[[:space:]][[:space:]]*\([^;[:space:]]*\)[[:space:]]*;.*/\1/p' "$conf" | head -n 1)
[ -n "$pid_file" ] || pid_file=logs/nginx.pid
case $pid_file in /*) ;; *) pid_file=$prefix/$pid_file ;; esac

# alive PID: whether PID is a running process. A zombie (exited, not yet reaped by its parent,
# which for a daemon is init, and some container inits reap only now and then) is not.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 0
    [ "$state" != Z ]
}

master_pid() {
    [ -s "$pid_file" ] || return 1
    p=$(tr -dc '0-9' < "$pid_file")
    [ -n "$p" ] && alive "$p" || return 1
    printf '%s\n' "$p"
}

# run_nginx ARGS...: nginx with its output captured in a file, never in our pipes
# (a daemonising master must not hold Sluice's output pipe open).
run_nginx() {
    out=$(mktemp "${TMPDIR:-/tmp}/nginx-ctl.XXXXXX")
    rc=0
    if [ -n "$elog" ]; then set -- -e "$elog" "$@"; fi
    "$nginx_bin" -p "$prefix/" -c "$conf" "$@" </dev/null >"$out" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then sed 's/^/  nginx: /' "$out" >&2; fi
    rm -f "$out"
    return $rc
}

test_conf() {
    run_nginx -t || die "configuration test failed for $conf (prefix $prefix); nothing was changed"
}

start() {
    if pid=$(master_pid); then say "nginx $prefix already running (pid $pid)"; return 0; fi
    test_conf
    run_nginx || die "nginx $prefix failed to start; see $prefix/logs/error.log"
    i=0
    while [ $i -lt 50 ]; do
        if pid=$(master_pid); then say "started nginx $prefix (pid $pid)"; return 0; fi
        sleep 0.2; i=$((i + 1))
    done
    die "nginx $prefix did not write a live pid to $pid_file within 10s; see $prefix/logs/error.log"
}

stop() {
    if ! pid=$(master_pid); then say "nginx $prefix is not running"; rm -f "$pid_file"; return 0; fi
    kill -QUIT "$pid" 2>/dev/null || true
    limit=$(( ${NGINX_STOP_TIMEOUT:-20} * 5 ))
    i=0
    while alive "$pid"; do
        if [ $i -ge "$limit" ]; then
            say "nginx $prefix (pid $pid) did not stop gracefully; sending TERM"
            kill -TERM "$pid" 2>/dev/null || true
            sleep 2
            if alive "$pid"; then die "nginx $prefix (pid $pid) does not stop"; fi
            break
        fi
        sleep 0.2; i=$((i + 1))
    done
    rm -f "$pid_file"
    say "stopped nginx $prefix (was pid $pid)"
}

case $action in
start) start ;;
stop) stop ;;
restart)
    test_conf          # never take down an instance that could not come back
    stop
    start
    ;;
reload)
    pid=$(master_pid) || die "nginx $prefix is not running; cannot reload (start it instead)"
    test_conf
    run_nginx -s reload || die "reload of nginx $prefix failed"
    say "reloaded nginx $prefix (pid $pid)"
    ;;
status)
    if pid=$(master_pid); then say "nginx $prefix running (pid $pid)"; else die "nginx $prefix is not running"; fi
    ;;
test)
    test_conf
    say "configuration $conf is valid"
    ;;
check)
    pid=$(master_pid) || die "nginx $prefix is not running"
    test_conf
    say "nginx $prefix running (pid $pid), configuration $conf valid"
    ;;
*) die "unknown action '$action' (start, stop, restart, reload, status, test or check)" ;;
esac
