#!/bin/bash
# t_retry_budget.sh - the retry budget bounds retries under load (issue 3):
# fifty threads of one C process connect at once to a dead port, each with
# retries = 5 (250 retries wanted). With retry_budget_percent = 20 and
# retry_budget_min_per_sec = 1 the window allows max(20% of 50, 1 x 10) = 10
# retries: exactly 60 connect() calls reach the kernel, status shows 10
# retries and a denial for (nearly) every thread. With the budget off
# (percent = 0), all 300 are made.
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
build_retry_client
DEAD=$(free_port)
keys=("retries = 5" "backoff_initial_ms = 20" "jitter = full" "breaker = off")

# run NAME: 50 threads under $T/NAME.ini; sets N (attempts) and MS (slowest).
run() {
    local n=$1 t0=$EPOCHREALTIME
    traced "$T/$n.ini" "$T/$n.st" timeout 60 "$T/retry_client" -t 50 127.0.0.1 "$DEAD" \
        >"$T/$n.out" 2>"$T/$n.err"
    grep '^breakwater\[' "$T/$n.err" >&2 && fail "$n: the shim logged"
    assert_eq "$n: results" "50 refused" \
        "$(grep -c 'connect fail fd=[0-9]* errno=ECONNREFUSED' "$T/$n.out") refused"
    N=$(conns "$T/$n.st" "$DEAD" | wc -l)
    note "$n: $N connect() calls from 50 threads in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}') s"
}

retry_cfg "$T/budget.ini" "${keys[@]}" "retry_budget_percent = 20" "retry_budget_min_per_sec = 1"
run budget
assert_eq "budget: attempts (50 first + 10 retries)" 60 "$N"
assert_eq "budget: status retries" 10 "$(status_sum "$T/budget.ini" retries "$DEAD")"
assert_eq "budget: status connects" 50 "$(status_sum "$T/budget.ini" connects "$DEAD")"
denied=$(status_sum "$T/budget.ini" retries_denied_budget "$DEAD")
# Every thread asks until refused, but for at most 2 that got all 5 of theirs.
[ "$denied" -ge 48 ] && [ "$denied" -le 50 ] || fail "budget: $denied denials, expected 48..50"
note "budget: 10 retries granted, $denied denied"

# Same load, budget off: every thread makes its 6 attempts.
retry_cfg "$T/unlimited.ini" "${keys[@]}" "retry_budget_percent = 0"
run unlimited
assert_eq "no budget: attempts" 300 "$N"
assert_eq "no budget: status retries" 250 "$(status_sum "$T/unlimited.ini" retries "$DEAD")"
echo "ok"
