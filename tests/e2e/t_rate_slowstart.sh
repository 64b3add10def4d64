#!/bin/bash
# t_rate_slowstart.sh - connect_rate and slow_start_ms (issue 15).
#  - connect_rate = 50 (burst 50): 4 processes x 50 blocking connects all
#    succeed, and take at least (200 - 50) / 50 = 3 s together (they wait for
#    tokens within their deadline); without the shim they take well under that;
#    status shares the one bucket: no rejection;
#  - non-blocking connects over the rate fail at once with bulkhead_errno:
#    100 at once, about 50 admitted;
#  - slow_start_ms = 2000: 1 s after the breaker closed, about half of the
#    connects are admitted (the rest fail with breaker_errno, counted as
#    rejected by the breaker); 2.3 s after, all of them.
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
build_retry_client
start_server PORT "$SUPPORT/bw_faultd" --max-seconds 100 echo

write_config "$T/rate.ini" <<EOF
[global]
state_dir = $T
[destination svc]
host = 127.0.0.1
port = $PORT
connect_rate = 50
breaker = off
EOF
# burst CMD...: 4 processes of 50 threads, one blocking connect each; sets OK, MS.
burst() {
    local t0=$EPOCHREALTIME i pids=()
    for i in 1 2 3 4; do
        "$@" "$T/retry_client" -t 50 127.0.0.1 "$PORT" >"$T/burst.$i" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
    MS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
    OK=$(cat "$T"/burst.? | grep -c '^connect ok')
}
burst env -u LD_PRELOAD
note "without the shim: $OK of 200 connected in $MS ms"
assert_eq "plain: all connected" 200 "$OK"
plain_ms=$MS
burst env BREAKWATER_CONFIG="$T/rate.ini" LD_PRELOAD="$BW_PRELOAD"
note "connect_rate = 50: $OK of 200 connected in $MS ms (at least 3000 expected)"
assert_eq "rate: all connected, waiting for tokens" 200 "$OK"
((MS >= 2700)) || fail "200 connects at 50/s (burst 50) took only $MS ms"
((plain_ms < MS)) || fail "the rate did not slow anything: $plain_ms ms without, $MS ms with"
assert_eq "rate: nothing rejected" 0 "$(status_sum "$T/rate.ini" rejected_bulkhead "$PORT")"

# Non-blocking: no waiting; over the rate -> ECONNREFUSED (bulkhead_errno) at once.
sleep 1.1   # the bucket refills
BREAKWATER_CONFIG="$T/rate.ini" shim "$T/retry_client" -n -t 100 127.0.0.1 "$PORT" >"$T/nb.out" 2>&1
ok=$(grep -c 'connect ok\|then=ok$' "$T/nb.out"); refused=$(grep -c 'errno=ECONNREFUSED' "$T/nb.out")
note "non-blocking, 100 at once: $ok connected, $refused refused"
((ok >= 45 && ok <= 70)) || fail "non-blocking at connect_rate = 50: $ok of 100 admitted"
assert_eq "non-blocking: the others refused" 100 $((ok + refused))

# Slow start.
SPORT=$(free_port)
write_config "$T/slow.ini" <<EOF
[global]
state_dir = $T
[destination svc]
host = 127.0.0.1
port = $SPORT
retries = 0
breaker_consecutive_failures = 1
breaker_open_ms = 300
breaker_open_max_ms = 300
slow_start_ms = 2000
EOF
BREAKWATER_CONFIG="$T/slow.ini" shim timeout 30 "$PYTHON3" "$(dirname "$0")/clients/slow_start.py" "$SPORT" \
    >"$T/slow.out" 2>"$T/slow.err" || { cat "$T/slow.err" >&2; fail "slow_start.py failed"; }
note "slow start: $(tr '\n' ' ' <"$T/slow.out")"
ok1=$(sed -n 's/^at=1000 ok=\([0-9]*\) .*/\1/p' "$T/slow.out")
ok2=$(sed -n 's/^at=2300 ok=\([0-9]*\) .*/\1/p' "$T/slow.out")
((ok1 >= 70 && ok1 <= 150)) || fail "1 s into a 2 s slow start: $ok1 of 200 admitted (expected about 110)"
assert_eq "after the slow start: all admitted" 200 "$ok2"
# (the breaker's count also holds the calls it refused while open, before the probe)
rej=$(status_sum "$T/slow.ini" rejected_breaker "$SPORT")
((rej >= 200 - ok1 && rej <= 200 - ok1 + 100)) ||
    fail "slow start's $((200 - ok1)) refusals should be the breaker's: rejected_breaker = $rej"
echo "ok"
