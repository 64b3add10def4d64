#!/bin/bash
# The bulkhead's limit (max_connections, bulkhead_errno, bulkhead_scope), driven
# by clients/bulkhead_client.c under the shim against bw_faultd echo:
# - max_connections = 3, five concurrent connects: 3 admitted, 2 rejected at
#   once with ECONNREFUSED; the server saw at most 3 at once (exactly 3);
# - a close frees a slot; a rejected connect (its socket kept open) holds none;
# - the same two checks in state = process;
# - every bulkhead_errno choice is what a rejected connect returns;
# - max_connections = 0 is unlimited;
# - bulkhead_scope address vs destination (127.0.0.1 and ::1);
# - a connect that fails (refused, after retries) or is rejected by the breaker
#   gives its slot back at once;
# - in-progress non-blocking connects (native mode, a blackhole server) hold
#   slots; closing one before it completes frees it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/bulkhead_lib.sh"

start_server PORT "$SUPPORT/bw_faultd" --max-seconds 200 --count-file "$T/count" echo
CLOSED=$(free_port)

# Five at once: three admitted, two rejected without waiting.
bh_config "$T/max3.ini" "$PORT" "max_connections = 3"
bh "$T/max3.ini" "$PORT" burst 5 echoall
assert_eq "burst of 5" "$(want "burst ok=3 ECONNREFUSED=2" "echoall ok=3")" "$(out)"
slowest=$(sed -n 's/^# s[0-9]* took \([0-9]*\) ms$/\1/p' "$T/bh.err" | sort -n | tail -n 1)
note "burst: slowest of 5 connects ${slowest} ms"
[ "$slowest" -lt 3000 ] || fail "a connect of the burst took ${slowest} ms: rejections must not wait"
assert_eq "server peak after the burst" 3 "$(peak "$T/count")"

# Sequential: a close frees a slot, a rejected socket left open holds none.
bh "$T/max3.ini" "$PORT" conn conn conn conn conn close 1 conn conn echo 0 echo 5
assert_eq "close frees a slot" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ECONNREFUSED" "s4 ECONNREFUSED" \
    "s5 ok" "s6 ECONNREFUSED" "s0 echo ok" "s5 echo ok")" "$(out)"

# The same in process state.
bh_config "$T/proc.ini" "$PORT" "max_connections = 3"
sed -i 's/^\[global\]$/[global]\nstate = process/' "$T/proc.ini"
bh "$T/proc.ini" "$PORT" burst 5
assert_eq "burst, state = process" "burst ok=3 ECONNREFUSED=2" "$(out)"
bh "$T/proc.ini" "$PORT" conn conn conn conn close 0 conn conn
assert_eq "close, state = process" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ECONNREFUSED" "s4 ok" \
    "s5 ECONNREFUSED")" "$(out)"

# Every bulkhead_errno.
for e in ECONNREFUSED EHOSTUNREACH ENETUNREACH ETIMEDOUT ECONNABORTED; do
    bh_config "$T/errno_$e.ini" "$PORT" "max_connections = 2" "bulkhead_errno = $e"
    bh "$T/errno_$e.ini" "$PORT" conn conn conn
    assert_eq "bulkhead_errno = $e" "$(want "s0 ok" "s1 ok" "s2 $e")" "$(out)"
done

# 0 = unlimited (another server).
start_server PORT6 "$SUPPORT/bw_faultd" -6 --max-seconds 200 echo
bh_config "$T/max0.ini" "$PORT6" "max_connections = 0"
bh "$T/max0.ini" "$PORT6" burst 12 echoall
assert_eq "max_connections = 0" "$(want "burst ok=12" "echoall ok=12")" "$(out)"

# Scope: per address, 127.0.0.1 and ::1 have 2 each; per destination 2 in all.
bh_config "$T/addr.ini" "$PORT6" "max_connections = 2" "bulkhead_scope = address"
bh "$T/addr.ini" "$PORT6" conn conn conn6 conn6 conn conn6 echoall
assert_eq "bulkhead_scope = address" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ok" "s4 ECONNREFUSED" \
    "s5 ECONNREFUSED" "echoall ok=4")" "$(out)"
bh_config "$T/dest.ini" "$PORT6" "max_connections = 2" "bulkhead_scope = destination"
bh "$T/dest.ini" "$PORT6" conn conn6 conn conn6 close 1 conn6
assert_eq "bulkhead_scope = destination" "$(want "s0 ok" "s1 ok" "s2 ECONNREFUSED" \
    "s3 ECONNREFUSED" "s4 ok")" "$(out)"

# A refused connect (its socket still open) gives its slot back at once, with
# and without retries; so does one the breaker rejects after the bulkhead
# admitted it. bulkhead_errno ETIMEDOUT and breaker_errno ECONNABORTED tell the
# three kinds of failure apart from the real ECONNREFUSED.
bh_config "$T/fail.ini" "$PORT, $CLOSED" "max_connections = 1" "bulkhead_errno = ETIMEDOUT" \
    "retries = 0" "breaker = off"
bh "$T/fail.ini" "$PORT" connp "$CLOSED" connp "$CLOSED" connp "$CLOSED" conn conn
assert_eq "refused connects" "$(want "s0 ECONNREFUSED" "s1 ECONNREFUSED" "s2 ECONNREFUSED" \
    "s3 ok" "s4 ETIMEDOUT")" "$(out)"
bh_config "$T/retry.ini" "$PORT, $CLOSED" "max_connections = 1" "bulkhead_errno = ETIMEDOUT" \
    "retries = 2" "backoff_initial_ms = 10" "retry_budget_percent = 0" "breaker = off"
bh "$T/retry.ini" "$PORT" connp "$CLOSED" connp "$CLOSED" conn conn
assert_eq "refused after retries" "$(want "s0 ECONNREFUSED" "s1 ECONNREFUSED" "s2 ok" \
    "s3 ETIMEDOUT")" "$(out)"
bh_config "$T/breaker.ini" "$PORT, $CLOSED" "max_connections = 1" "bulkhead_errno = ETIMEDOUT" \
    "retries = 0" "breaker_consecutive_failures = 1" "breaker_open_ms = 60000" \
    "breaker_errno = ECONNABORTED"
BREAKWATER_LOG=error bh "$T/breaker.ini" "$PORT" connp "$CLOSED" connp "$CLOSED" connp "$CLOSED" conn conn
assert_eq "breaker rejections" "$(want "s0 ECONNREFUSED" "s1 ECONNABORTED" "s2 ECONNABORTED" \
    "s3 ok" "s4 ETIMEDOUT")" "$(out)"

# In-progress connects count: non-blocking connects to a blackhole stay in
# progress and hold their slots; closing one frees it. Native mode, by config
# and by nonblocking = auto after an epoll instance exists.
start_server HOLE "$SUPPORT/bw_faultd" --max-seconds 200 blackhole
bh_config "$T/native.ini" "$HOLE" "max_connections = 3" "nonblocking = native" \
    "bulkhead_errno = ECONNABORTED"
bh "$T/native.ini" "$HOLE" nb nb nb nb close 0 nb nb
assert_eq "in-progress (native)" "$(want "s0 started" "s1 started" "s2 started" "s3 ECONNABORTED" \
    "s4 started" "s5 ECONNABORTED")" "$(out)"
bh_config "$T/auto.ini" "$HOLE" "max_connections = 3" "bulkhead_errno = ECONNABORTED"
bh "$T/auto.ini" "$HOLE" epoll nb nb nb nb sysclose 1 nb nb
assert_eq "in-progress (auto + epoll)" "$(want "s0 started" "s1 started" "s2 started" \
    "s3 ECONNABORTED" "s4 started" "s5 ECONNABORTED")" "$(out)"
# A native connect that fails later (learned from SO_ERROR) frees its slot
# while its socket stays open.
bh_config "$T/nbfail.ini" "$PORT, $CLOSED" "max_connections = 1" "nonblocking = native" \
    "bulkhead_errno = ETIMEDOUT" "breaker = off"
bh "$T/nbfail.ini" "$PORT" nbp "$CLOSED" nbwait 0 conn conn
assert_eq "native failure" "$(want "s0 started" "s0 so_error ECONNREFUSED" "s1 ok" "s2 ETIMEDOUT")" "$(out)"

note "bulkhead limits, errnos, scopes and failed/rejected/in-progress accounting as configured"
