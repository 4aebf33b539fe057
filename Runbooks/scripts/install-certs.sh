#!/bin/sh
# install-certs.sh - put certificates (and their keys) into a balancer's certificate folder,
# or take exactly those back out.
#
# Usage: install-certs.sh install [--dry-run] CERT_DIR RUN_ID CERT...
#        install-certs.sh remove CERT_DIR RUN_ID
#   CERT      a certificate file NAME.crt; its key NAME.key next to it is installed with it
#   RUN_ID    the Sluice run ({{ run.id }}); what the run added or replaced is recorded in
#             CERT_DIR/.sluice/RUN_ID/ so that `remove` undoes only that run's work:
#             files it added are deleted, files it replaced are put back byte for byte.
# Certificates are written 0644, keys 0600, each through a temporary file and a rename.
# Both actions are safe to repeat: install skips identical files, remove of an
# already-removed run does nothing.
set -eu

me=install-certs
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*"; }
usage() { sed -n '2,14p' "$0" >&2; exit 2; }

[ $# -ge 3 ] || usage
action=$1; shift
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
dir=${1%/}; run=$2; shift 2
case $run in ''|*/*|.|..) die "bad run id '$run'" ;; esac
journal=$dir/.sluice/$run

# put SRC MODE: install one file into $dir, recording what it did in $journal.
put() {
    src=$1; mode=$2; base=$(basename "$src"); dst=$dir/$base
    if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
        say "$base already installed in $dir"; return 0
    fi
    if [ $dry -eq 1 ]; then
        if [ -f "$dst" ]; then say "would replace $dst"; else say "would add $dst"; fi
        return 0
    fi
    mkdir -p "$journal"
    if [ -f "$dst" ]; then
        # Keep the first original only: a repeated run must not back up our own copy.
        [ -f "$journal/replaced.$base" ] || cp -p "$dst" "$journal/replaced.$base"
    else
        touch "$journal/added.$base"
    fi
    cp "$src" "$dst.tmp.$$"
    chmod "$mode" "$dst.tmp.$$"
    mv -f "$dst.tmp.$$" "$dst"
    say "installed $base in $dir (mode $mode)"
}

case $action in
install)
    [ $# -ge 1 ] || usage
    for crt in "$@"; do
        case $crt in *.crt) ;; *) die "$crt: certificates must be named NAME.crt" ;; esac
        k=${crt%.crt}.key
        [ -f "$crt" ] || die "certificate $crt does not exist"
        [ -f "$k" ] || die "key $k for $crt does not exist"
    done
    if [ $dry -eq 0 ]; then mkdir -p "$dir"; fi
    for crt in "$@"; do
        put "${crt%.crt}.key" 0600
        put "$crt" 0644
    done
    ;;
remove)
    [ $# -eq 0 ] || usage
    if [ ! -d "$journal" ]; then say "run $run installed nothing in $dir (or was already undone)"; exit 0; fi
    for j in "$journal"/added.* "$journal"/replaced.*; do
        [ -e "$j" ] || continue
        name=${j##*/}
        case $name in
        added.*)
            base=${name#added.}
            rm -f "$dir/$base"; rm -f "$j"
            say "removed $base from $dir" ;;
        replaced.*)
            base=${name#replaced.}
            cp -p "$j" "$dir/$base.tmp.$$"; mv -f "$dir/$base.tmp.$$" "$dir/$base"; rm -f "$j"
            say "restored the previous $base in $dir" ;;
        esac
    done
    rmdir "$journal" 2>/dev/null || true
    rmdir "$dir/.sluice" 2>/dev/null || true
    say "undid run $run in $dir"
    ;;
*) usage ;;
esac
