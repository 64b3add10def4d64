#!/bin/bash
# run.sh [PATTERN] - runs every tests/e2e/t_*.sh (or those matching PATTERN),
# each under a time limit, and prints one closing line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${BUILD:=$(cd "$here/../.." && pwd)/build}"; export BUILD
pass=0; fail=0; failed=""
for t in "$here"/t_*.sh; do
    name=$(basename "$t" .sh)
    [ $# -gt 0 ] && [[ $name != *$1* ]] && continue
    start=$EPOCHREALTIME
    log=$(mktemp)
    timeout -k 5 ${BW_E2E_TIMEOUT:-240} bash "$t" >"$log" 2>&1; rc=$?
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "ok   $name (${secs}s)"
    else
        fail=$((fail + 1)); failed="$failed $name"
        echo "FAIL $name (exit $rc, ${secs}s)"; tail -n 40 "$log" | sed 's/^/     | /'
    fi
    rm -f "$log"
done
[ -n "$failed" ] && echo "failed:$failed"
echo "e2e: $pass passed, $fail failed"
[ $fail -eq 0 ]
