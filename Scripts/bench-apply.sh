#!/usr/bin/env bash
# Measures `sluice apply` in one run:
#   100 targets x 10 `true` steps at parallel 2, with the durable audit store, per host-step,
#   beside the bare floor of spawning the same 1,000 `sh -c true` two at a time
#   (goal: Sluice within 1.5 times the floor);
#   1,000 targets x 5 steps at parallel 32: peak memory (goal: 100 MB or less).
# Each round also times the layers under apply, to place the gap: swift-subprocess alone, Sluice's
# command runner, and the engine recording nothing (sluice-spawn-bench).
. "$(dirname "$0")/bench-setup.sh"
swift build -c release --product sluice-spawn-bench >/dev/null
layers=$(swift build -c release --show-bin-path)/sluice-spawn-bench

# runbook FILE TARGETS STEPS PARALLEL
runbook() {
    {
        printf 'sluice: 1\nid: bench-apply\ntargets:\n'
        awk -v n="$2" 'BEGIN { for (i = 1; i <= n; i++) printf "  - name: host%05d\n", i }'
        printf 'rollout:\n  stages:\n    - { name: all, parallel: %d }\nsteps:\n' "$4"
        awk -v n="$3" 'BEGIN { for (i = 1; i <= n; i++) printf "  - name: step %d\n    run: \"true\"\n", i }'
    } >"$1"
}

runbook "$work/small.yaml" 100 10 2
runbook "$work/large.yaml" 1000 5 32

seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
now() { date +%s.%N; }

"$sluice" apply "$work/small.yaml" --yes >/dev/null   # warm up
for round in 1 2 3; do
    start=$(now)
    seq 1000 | xargs -P 2 -I{} sh -c true
    floor=$(seconds "$start" "$(now)")
    start=$(now)
    "$sluice" apply "$work/small.yaml" --yes >/dev/null
    applied=$(seconds "$start" "$(now)")
    awk -v f="$floor" -v a="$applied" -v r="$round" 'BEGIN {
        printf "apply: round %d: 1,000 host-steps at parallel 2: sluice %.2f s (%.2f ms per host-step), floor %.2f s (%.2f ms): %.2fx the floor (goal 1.5x or less)\n", r, a, a, f, f, a / f }'
    subprocess=$("$layers" subprocess 1000)
    runner=$("$layers" runner 1000)
    engine=$("$layers" engine "$work/small.yaml")
    awk -v f="$floor" -v s="$subprocess" -v r="$runner" -v e="$engine" 'BEGIN {
        printf "apply: round %d layers: swift-subprocess alone %.2f s (%.2fx), Sluice'"'"'s runner %.2f s (%.2fx), engine without the store %.2f s (%.2fx)\n", '"$round"', s, s / f, r, r / f, e, e / f }'
done

# Where the rest goes: the same run with the store in memory (/dev/shm), so without the fsync
# that makes each step.started durable before its command starts.
if [ -d /dev/shm ]; then
    start=$(now)
    SLUICE_STORE=$(mktemp -u /dev/shm/sluice-bench-XXXXXX.sqlite) "$sluice" apply "$work/small.yaml" --yes >/dev/null
    applied=$(seconds "$start" "$(now)")
    rm -f /dev/shm/sluice-bench-*
    awk -v a="$applied" 'BEGIN { printf "apply: the same with the store in /dev/shm (no fsync, not durable; for comparison only): %.2f s (%.2f ms per host-step)\n", a, a }'
fi

/usr/bin/time -f '%e %M' -o "$work/time" "$sluice" apply "$work/large.yaml" --yes >/dev/null
read -r elapsed kilobytes <"$work/time"
echo "apply: 1,000 targets x 5 steps at parallel 32: ${elapsed} s, peak memory $((kilobytes / 1024)) MB (goal: 100 MB or less)"
