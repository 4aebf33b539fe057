#!/usr/bin/env bash
# The first five minutes with Sluice on a fresh machine: builds the `sluice` program and its demo
# service, validates the runbooks in Runbooks/, shows what a broken runbook gets, starts three demo
# HTTP servers on 127.0.0.1, dry-runs the quickstart runbook, applies it once with a fault
# (automatic rollback and recovery) and once without, and reads the audit store. Needs only the Swift toolchain (and the SQLite headers, installed if
# missing when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }

if [ ! -f /usr/include/sqlite3.h ] && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq libsqlite3-dev
fi

step "Building sluice and its demo service (the first build takes a few minutes)"
swift build --product sluice 2>&1 | tail -1
swift build --product sluice-demo 2>&1 | tail -1
sluice=$(swift build --show-bin-path)/sluice
demo=$(swift build --show-bin-path)/sluice-demo
echo "sluice $("$sluice" --version) at $sluice"

step "Validating every runbook in Runbooks/"
"$sluice" validate Runbooks/*.yaml

step "A broken runbook: every problem at once, with its line and column"
broken=$(mktemp -d)
servers=()
stop_servers() { for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap 'stop_servers; rm -rf "$broken"' EXIT
cat >"$broken/broken.yaml" <<'YAML'
sluice: 1
id: broken-example
targets:
  - { name: web-1, vars: { port: "8001" } }
  - { name: web-2 }
rollout:
  stages:
    - { name: canary, count: 1 }
steps:
  - name: restart
    run: scripts/restart.sh {{ target.vars.port }}
    rolback: scripts/restart.sh --undo
  - name: healthy
    health: { http: "http://127.0.0.1:{{ target.vars.port }}/health", attempts: three }
    timeout: 30 seconds
YAML
if "$sluice" validate "$broken/broken.yaml"; then
    echo "quickstart: the broken runbook was accepted; that is a bug" >&2
    exit 1
fi

# The demo targets live in .sluice/demo (git ignores it); start them afresh so that every
# quickstart tells the same story. The audit store is .sluice/audit.sqlite and is kept.
rm -rf .sluice/demo
mkdir -p .sluice/demo

step "Starting the three demo services: HTTP servers on 127.0.0.1:8001-8003 (stopped when this script ends)"
for n in 1 2 3; do
    "$demo" .sluice/demo "web-$n" "800$n" &
    servers+=($!)
done
for n in 1 2 3; do   # each answers once it listens (503 until the runbook installs it)
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/800$n") 2>/dev/null; then break; fi
        kill -0 "${servers[$((n - 1))]}" 2>/dev/null || { echo "quickstart: the demo service web-$n did not start (is port 800$n taken?)" >&2; exit 1; }
        sleep 0.1
    done
done

step "The dry run: every command rendered per target, the read-only checks run, file diffs shown"
"$sluice" plan Runbooks/quickstart.yaml --no-color

step "A change that breaks web-2: the canary passes, web-2 fails its health gate (http://127.0.0.1:8002/health answers 503), everything is undone"
mkdir -p .sluice/demo/web-2
echo 2.0 > .sluice/demo/web-2/crash-on-version   # the demo service crashes on version 2.0
if "$sluice" apply Runbooks/quickstart.yaml --yes --no-color; then
    echo "quickstart: the broken change was not rolled back; that is a bug" >&2
    exit 1
fi
echo "(exit status 1: rolled back, with caches refreshed and the held job released)"

step "The same change without the fault: canary, health gates, the rest two at a time"
rm .sluice/demo/web-2/crash-on-version
"$sluice" apply Runbooks/quickstart.yaml --yes --no-color
run=$("$sluice" runs --limit 1 --json | sed -n 's/.*"id" *: *"\(r-[0-9a-f-]*\)".*/\1/p' | head -1)

step "The audit store: every step recorded, tamper-evident"
"$sluice" runs --limit 4
"$sluice" audit verify

step "Next"
cat <<TEXT
Read Runbooks/quickstart.yaml: the runbook planned above, commented line by line.
Try:   $sluice show $run                  (the last run's timeline)
       $sluice audit verify                                (the hash chain, again)
       $sluice plan Runbooks/quickstart.yaml --json       (docs/plan-format.md)
A whole change, with approval, rollback of a past run and resuming after a crash: docs/operations.md.
The runbook format: docs/runbook-format.md.   The audit store: docs/audit-store.md.
Every test: Scripts/test.sh
TEXT
