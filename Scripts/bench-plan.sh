#!/usr/bin/env bash
# Times `sluice plan` and prints its peak memory:
#   10,000 targets x 20 steps with no check commands (goal: 1 s or less, 300 MB or less);
#   1,000 targets with one 50 ms check command each (checks run 16 at a time by default);
#   one file step on a 100,000-line file that changes 5 of its lines, then every 10th line
#   (goal: well under 1 s; the diff alone took 0.6 s and 68 s when it was quadratic), each beside
#   the same plan with the file already up to date and GNU `diff -u` on the same two files.
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

# filebook FILE PATH SOURCE: a runbook with one target and one file step that writes SOURCE to
# PATH (both relative to the runbook).
filebook() {
    printf 'sluice: 1\nid: bench-diff\ntargets:\n  - name: host1\nrollout:\n  stages:\n    - { name: all, parallel: 1 }\n' >"$1"
    printf 'steps:\n  - name: rewrite\n    file: { path: "{{ runbook.dir }}/%s", source: %s }\n' "$2" "$3" >>"$1"
}

# timed COMMAND...: prints "SECONDS KILOBYTES" for COMMAND, its output discarded. GNU time adds a
# first line when the status is not 0 (diff's 1 means "files differ"), so the last line is the one.
timed() {
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null || true
    tail -n 1 "$work/time"
}

mkdir -p "$work/diff/files"
awk 'BEGIN { for (i = 1; i <= 100000; i++) {
    if (i % 12 == 1) print ""; else if (i % 12 == 0) print "}"; else printf "    key_%d = \"value %d\"\n", i, i * 7919 % 100003 } }' >"$work/diff/current.conf"
awk '{ if (NR % 20000 == 10) print $0 " # changed"; else print }' "$work/diff/current.conf" >"$work/diff/files/few.conf"
awk '{ if (NR % 10 == 0) print $0 " # changed"; else print }' "$work/diff/current.conf" >"$work/diff/files/many.conf"
cp "$work/diff/files/few.conf" "$work/diff/same.conf"
filebook "$work/diff/few.yaml" current.conf files/few.conf
filebook "$work/diff/many.yaml" current.conf files/many.conf
filebook "$work/diff/unchanged.yaml" same.conf files/few.conf

"$sluice" plan "$work/diff/few.yaml" >/dev/null || true   # warm up
for variant in "few:5 lines changed" "many:every 10th line changed"; do
    name=${variant%%:*} label=${variant#*:}
    for run in 1 2 3; do
        read -r changed kilobytes < <(timed "$sluice" plan "$work/diff/$name.yaml")
        read -r unchanged _ < <(timed "$sluice" plan "$work/diff/unchanged.yaml")
        read -r gnu _ < <(timed diff -u "$work/diff/current.conf" "$work/diff/files/$name.conf")
        echo "plan: one file step, 100,000-line file, $label, run $run: ${changed} s, peak memory $((kilobytes / 1024)) MB; file already up to date ${unchanged} s; GNU diff -u alone ${gnu} s (goal: well under 1 s)"
    done
done
