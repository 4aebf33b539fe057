#!/usr/bin/env bash
# Times `sluice validate` on a generated runbook of 10,000 targets and 20 steps, and prints its
# peak memory. Goal: under 1 s on a 2-core machine.
#   Scripts/bench-validate.sh [TARGETS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
targets=${1:-10000}
steps=${2:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

swift build -c release --product sluice >/dev/null
sluice=$(swift build -c release --show-bin-path)/sluice

mkdir -p "$work/scripts"
printf '#!/bin/sh\nexit 0\n' >"$work/scripts/apply.sh"
chmod +x "$work/scripts/apply.sh"
{
    printf 'sluice: 1\nid: bench-validate\ntargets:\n'
    awk -v n="$targets" 'BEGIN { for (i = 1; i <= n; i++) {
        printf "  - name: host%05d\n    labels: { dc: dc%d, role: web }\n    vars: { url: \"http://127.0.0.1:%d\", conf: /tmp/bench/%05d.conf }\n", i, i % 4, 8000 + i % 1000, i } }'
    printf 'rollout:\n  stages:\n    - { name: canary, count: 1 }\n    - { name: dc0, select: { dc: dc0 }, parallel: 8 }\n    - { name: rest, percent: 100, parallel: 16, max_failure_percent: 5 }\n'
    printf 'steps:\n'
    awk -v n="$steps" 'BEGIN { for (i = 1; i <= n; i++) {
        if (i % 4 == 0) printf "  - name: health %d\n    health: { http: \"{{ target.vars.url }}/health\", attempts: 3 }\n", i
        else if (i % 4 == 1) printf "  - name: apply %d\n    run: scripts/apply.sh {{ target.name }} {{ target.vars.conf }} %d\n    rollback: scripts/apply.sh --undo {{ target.name }}\n", i, i
        else if (i % 4 == 2) printf "  - name: config %d\n    file: { path: \"{{ target.vars.conf }}.%d\", content: \"host={{ target.name }} dc={{ target.labels.dc }}\" }\n", i, i
        else printf "  - name: settle %d\n    wait: 1s\n    when: { role: web }\n", i } }'
} >"$work/bench.yaml"

echo "validate: $targets targets x $steps steps ($(wc -c <"$work/bench.yaml") bytes of YAML)"
"$sluice" validate "$work/bench.yaml" >/dev/null   # warm the file cache
best=""
for run in 1 2 3 4 5; do
    /usr/bin/time -f '%e %M' -o "$work/time" "$sluice" validate "$work/bench.yaml" >/dev/null
    read -r seconds kilobytes <"$work/time"
    echo "  run $run: ${seconds} s, peak memory $((kilobytes / 1024)) MB"
    if [ -z "$best" ] || awk -v a="$seconds" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$seconds; fi
done
echo "validate: best ${best} s (goal: under 1 s)"
