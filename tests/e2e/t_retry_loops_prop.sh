#!/bin/bash
# t_retry_loops_prop.sh - property test of retries inside the program's own
# waits (issue 12): clients/wait_prop.c drives random rounds of poll, ppoll,
# select, pselect, select with one set as write and except set (perl), epoll_wait
# (LT, ET, ONESHOT), epoll_pwait and epoll_pwait2,
# each with a random program timeout (20..300 ms), against a random server
# (refused, listening 30..400 ms late, blackhole, listening) while a pipe is
# written at a random moment. It asserts that no wait outlasts its timeout by
# more than 80 ms, that the pipe's event is never lost or held back more than
# 80 ms, that connect() returns at once, and that the connect's answer is
# consistent: under the shim (retries = 2, backoffs 150 + 300 ms, no jitter) a
# late listener is reached and a refusal is reported only after both
# backoffs; without the shim (the control) both are refused. A shim that
# slept a whole backoff (150 ms) inside a short wait (20..70 ms) overshoots by
# more than 80 ms; one that let a wait run on to the next attempt fails too.
# Both runs use the same seed (printed; BW_PROP_SEED replays one) and run at
# the same time, under SCHED_FIFO when the machine allows it, so that a busy
# machine's scheduling does not count as the shim's lateness.
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -o "$T/wait_prop" \
    "$RETRY_CLIENTS/wait_prop.c" || fail "wait_prop does not compile"
start_server BH "$SUPPORT/bw_faultd" --max-seconds 200 blackhole
retry_cfg "$T/prop.ini" "retries = 2" "backoff_initial_ms = 150" "backoff_max_ms = 300" \
    "jitter = none" "breaker = off" "retry_budget_percent = 0" "connect_timeout_ms = 5000"
rt_prefix
SEED=${BW_PROP_SEED:-$(date +%s%N | cut -c1-12)}
SHIM_ROUNDS=${BW_PROP_ROUNDS:-160}
PLAIN_ROUNDS=$(( SHIM_ROUNDS / 2 ))
PROP=("$T/wait_prop" -B "$BH" -s "$SEED" -b 150,300 -S 80)
env -u LD_PRELOAD timeout 150 "${RT[@]}" "${PROP[@]}" -e plain -n "$PLAIN_ROUNDS" \
    >"$T/plain.out" 2>"$T/plain.err" &
plain_pid=$!
BREAKWATER_CONFIG="$T/prop.ini" shim timeout 150 "${RT[@]}" "${PROP[@]}" -e shim -n "$SHIM_ROUNDS" \
    >"$T/shim.out" 2>"$T/shim.err"
shim_rc=$?
wait $plain_pid
plain_rc=$?
note "control, without the shim: $(tail -n 1 "$T/plain.out")"
note "under the shim: $(tail -n 1 "$T/shim.out")"
note "$(grep '^waits per API' "$T/shim.out")"
[ $plain_rc = 0 ] || { grep VIOLATION "$T/plain.out" | head -n 20 >&2; cat "$T/plain.err" >&2
    fail "the control run without the shim broke a property (exit $plain_rc, seed $SEED)"; }
[ $shim_rc = 0 ] || { grep VIOLATION "$T/shim.out" | head -n 30 >&2; cat "$T/shim.err" >&2
    fail "under the shim: exit $shim_rc, seed $SEED (replay: BW_PROP_SEED=$SEED)"; }
grep -q "rounds=$SHIM_ROUNDS .*violations=0" "$T/shim.out" || fail "the shim run did not finish its rounds"
grep '^breakwater\[' "$T/shim.err" >&2 && fail "the shim logged"
# The shim was there and retried (the late and refused rounds).
retries=$("$BW_CLI" status -c "$T/prop.ini" --json | "$PYTHON3" -c '
import json, sys
d = json.load(sys.stdin)
print(sum(a["retries"] for x in d["destinations"] for a in x["addresses"]))')
note "status: $retries retries in all"
[ "$retries" -gt 0 ] || fail "status shows no retries: the shim did not retry"
echo ok
