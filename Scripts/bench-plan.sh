#!/usr/bin/env bash
# Times `sluice plan` and prints its peak memory:
#   10,000 targets x 20 steps with no check commands (goal: 1 s or less, 300 MB or less);
#   1,000 targets with one 50 ms check command each (checks run 16 at a time by default).
. "$(dirname "$0")/bench-setup.sh"

# runbook FILE TARGETS STEPS CHECK: writes a runbook; CHECK is the check command ("" for none).
runbook() {
    local file=$1 targets=$2 steps=$3 check=$4
    {
        printf 'sluice: 1\nid: bench-plan\ntargets:\n'
        awk -v n="$targets" 'BEGIN { for (i = 1; i <= n; i++)
            printf "  - name: host%05d\n    labels: { dc: dc%d }\n    vars: { port: \"%d\" }\n", i, i % 4, 8000 + i % 1000 }'
        printf 'rollout:\n  stages:\n    - { name: canary, count: 1 }\n    - { name: rest, parallel: 16 }\n'
        printf 'steps:\n'
        awk -v n="$steps" -v check="$check" 'BEGIN { for (i = 1; i <= n; i++) {
            printf "  - name: step %d\n    run: echo apply {{ target.name }} {{ target.vars.port }} %d\n", i, i
            if (check != "") printf "    check: %s\n", check } }'
    } >"$file"
}

measure() {
    local label=$1 file=$2 goal=$3
    /usr/bin/time -f '%e %M' -o "$work/time" "$sluice" plan "$file" >/dev/null || true
    read -r seconds kilobytes <"$work/time"
    echo "plan: $label: ${seconds} s, peak memory $((kilobytes / 1024)) MB ($goal)"
}

runbook "$work/big.yaml" 10000 20 ""
"$sluice" plan "$work/big.yaml" >/dev/null || true   # warm up
for run in 1 2 3; do measure "10,000 targets x 20 steps, no checks, run $run" "$work/big.yaml" "goal: 1 s or less, 300 MB or less"; done

runbook "$work/checks.yaml" 1000 1 "sleep 0.05"
for run in 1 2; do measure "1,000 targets x one 50 ms check, run $run" "$work/checks.yaml" "1,000 x 50 ms in sequence would be 50 s"; done
