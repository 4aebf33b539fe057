#!/bin/sh
# demo-service.sh - a pretend service whose whole state is a folder, for quickstart.yaml.
#
# Usage:
#   demo-service.sh ensure   [--dry-run] STATE_DIR NAME     create the service folder (first run)
#   demo-service.sh validate CONFIG_FILE                    check a candidate service.conf
#   demo-service.sh reload   STATE_DIR NAME                 re-read service.conf (or defaults if gone)
#   demo-service.sh deploy   [--dry-run] STATE_DIR NAME VERSION RUN_ID
#   demo-service.sh undeploy STATE_DIR NAME RUN_ID          undo RUN_ID's deploy, restart
#   demo-service.sh restart  [--dry-run] STATE_DIR NAME
#   demo-service.sh health   STATE_DIR NAME [VERSION]       exit 0 when running (and on VERSION)
#
# State lives in STATE_DIR/NAME/: state, version, previous-version ("RUN_ID VERSION": undeploy
# acts only for the run that made the switch), service.conf, loaded.
# To see a rollback, make one service crash on the new version before applying, e.g.
#   echo 2.0 > STATE_DIR/web-2/crash-on-version
# its restart then "succeeds" but the service dies at once, as real ones do, and the
# health step catches it. Every command is safe to run twice.
set -eu

me=demo-service
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }
usage() { sed -n '2,18p' "$0" >&2; exit 2; }

# write_file PATH VALUE: atomic write (temp file beside it, then rename)
write_file() {
    printf '%s\n' "$2" > "$1.tmp.$$"
    mv -f "$1.tmp.$$" "$1"
}
read_file() { if [ -f "$1" ]; then cat "$1"; else printf '%s' "${2:-}"; fi; }

# start SVC NAME: "start" the service; it dies at once on the version named in crash-on-version.
start() {
    ver=$(read_file "$1/version" none)
    if [ -f "$1/crash-on-version" ] && [ "$(cat "$1/crash-on-version")" = "$ver" ]; then
        write_file "$1/state" crashed
    else
        write_file "$1/state" running
        # A running service caches what it computes; stale entries are what cache refresh drops.
        mkdir -p "$1/cache/entries"
        write_file "$1/cache/entries/answer-$ver" "computed by version $ver"
    fi
    say "$2 restarted on version $ver"
}

[ $# -ge 1 ] || usage
cmd=$1; shift
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi

case $cmd in
validate)
    [ $# -eq 1 ] || usage
    f=$1
    [ -s "$f" ] || die "config $f is empty or missing"
    # Required keys, one per line as key=value.
    for key in name version port greeting; do
        grep -q "^$key=." "$f" || die "config $f: missing required key '$key='"
    done
    port=$(sed -n 's/^port=//p' "$f" | head -n 1)
    case $port in
        ''|*[!0-9]*) die "config $f: port '$port' is not a number" ;;
    esac
    [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "config $f: port $port out of range"
    # Anything that is not a comment, blank or key=value is a typo.
    if grep -v -e '^#' -e '^[[:space:]]*$' -e '^[a-z_][a-z_]*=' "$f" >/dev/null; then
        die "config $f: line is not key=value: $(grep -v -e '^#' -e '^[[:space:]]*$' -e '^[a-z_][a-z_]*=' "$f" | head -n 1)"
    fi
    say "config $f is valid (port $port)"
    exit 0
    ;;
esac

[ $# -ge 2 ] || usage
state_dir=$1; name=$2; shift 2
case $name in
    ''|*/*|.|..) die "bad service name '$name'" ;;
esac
svc=$state_dir/$name

case $cmd in
ensure)
    if [ -d "$svc" ] && [ -f "$svc/state" ]; then
        say "$name already installed in $svc (state $(read_file "$svc/state"), version $(read_file "$svc/version" none))"
    elif [ $dry -eq 1 ]; then
        say "would create $svc (service $name, state running, version 1.0)"
    else
        mkdir -p "$svc"
        [ -f "$svc/version" ] || write_file "$svc/version" 1.0
        write_file "$svc/state" running
        say "created $svc (service $name, state running, version $(cat "$svc/version"))"
    fi
    ;;
reload)
    [ -d "$svc" ] || die "$name is not installed ($svc missing); run 'ensure' first"
    if [ -f "$svc/service.conf" ]; then
        write_file "$svc/loaded" "$(cksum < "$svc/service.conf")"
        say "$name reloaded $svc/service.conf"
    else
        rm -f "$svc/loaded"
        say "$name reloaded: no service.conf, running on defaults"
    fi
    ;;
deploy)
    [ $# -eq 2 ] || usage
    new=$1; run=$2
    cur=$(read_file "$svc/version" none)
    if [ "$cur" = "$new" ]; then
        say "$name already on version $new; nothing to do"
    elif [ $dry -eq 1 ]; then
        say "would switch $name from version $cur to $new"
    else
        [ -d "$svc" ] || die "$name is not installed ($svc missing)"
        # Remember where we came from. A second run finds cur = new and stops above,
        # so it can never overwrite previous-version with the new version.
        write_file "$svc/previous-version" "$run $cur"
        write_file "$svc/version" "$new"
        say "switched $name from version $cur to $new (run $run)"
    fi
    ;;
undeploy)
    [ $# -eq 1 ] || usage
    run=$1
    if [ ! -f "$svc/previous-version" ] || [ "$(cut -d' ' -f1 "$svc/previous-version")" != "$run" ]; then
        say "$name: run $run did not switch versions here; nothing to undo"
    else
        prev=$(cut -d' ' -f2 "$svc/previous-version")
        if [ "$prev" = none ]; then rm -f "$svc/version"; else write_file "$svc/version" "$prev"; fi
        rm -f "$svc/previous-version"
        say "$name back on version $prev"
    fi
    # Always restart, so a service left crashed by the new version comes back on the old one.
    if [ -d "$svc" ]; then start "$svc" "$name"; fi
    ;;
restart)
    if [ $dry -eq 1 ]; then
        say "would restart $name (now $(read_file "$svc/state" 'not installed'), version $(read_file "$svc/version" none))"
        exit 0
    fi
    [ -d "$svc" ] || die "$name is not installed ($svc missing)"
    write_file "$svc/state" stopped
    start "$svc" "$name"
    ;;
health)
    want=${1:-}
    [ -d "$svc" ] || die "$name is not installed ($svc missing)"
    st=$(read_file "$svc/state" unknown)
    [ "$st" = running ] || die "$name is $st, not running (version $(read_file "$svc/version" none))"
    ver=$(read_file "$svc/version" none)
    if [ -n "$want" ] && [ "$ver" != "$want" ]; then
        die "$name runs version $ver, expected $want"
    fi
    if [ -f "$svc/service.conf" ] && [ "$(read_file "$svc/loaded")" != "$(cksum < "$svc/service.conf")" ]; then
        die "$name has not loaded the current service.conf (reload it)"
    fi
    say "$name healthy: running version $ver"
    ;;
*)
    usage ;;
esac
