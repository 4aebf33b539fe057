#!/usr/bin/env bash
# The first five minutes with Sluice on a fresh machine: builds the `sluice` program and puts it
# through its paces on the runbooks in Runbooks/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }

step "Building sluice (the first build fetches nothing and takes a few minutes)"
swift build --product sluice 2>&1 | tail -1
sluice=$(swift build --show-bin-path)/sluice
echo "sluice $("$sluice" --version) at $sluice"

step "Validating every runbook in Runbooks/"
"$sluice" validate Runbooks/*.yaml

step "A broken runbook: every problem at once, with its line and column"
broken=$(mktemp -d)
trap 'rm -rf "$broken"' EXIT
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

step "Next"
cat <<'TEXT'
Read Runbooks/quickstart.yaml: the runbook checked above, commented line by line.
The runbook format: docs/runbook-format.md.   Every test: Scripts/test.sh
TEXT
