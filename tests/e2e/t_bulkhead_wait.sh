#!/bin/bash
# Waiting for a bulkhead slot (bulkhead_wait_ms), clients/bulkhead_client.c
# under the shim against bw_faultd echo:
# - a blocking connect gets the slot a thread frees 500 ms later (it waited at
#   least that long, far less than its limit);
# - without a free slot it fails with bulkhead_errno after bulkhead_wait_ms;
# - first come first served: of two waiters, the earlier gets the first slot;
# - non-blocking connects in native mode do not wait;
# - 16 threads x 40 connect/echo/close cycles, waiting: all succeed, the
#   server never sees more than 3 at once, and no slot leaks: afterwards
#   exactly 3 connects are admitted and the next is rejected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/bulkhead_lib.sh"

start_server PORT "$SUPPORT/bw_faultd" --max-seconds 200 echo

# A slot freed 500 ms later goes to the waiting connect.
bh_config "$T/wait.ini" "$PORT" "max_connections = 3" "bulkhead_wait_ms = 5000"
bh "$T/wait.ini" "$PORT" conn conn conn later 500 0 conn join echo 3
assert_eq "waiting connect" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ok" "s3 echo ok")" "$(out)"
ms=$(took 3)
note "connect waited ${ms} ms for the slot freed after 500 ms (limit 5000)"
[ "$ms" -ge 450 ] || fail "the waiting connect returned after ${ms} ms, before the slot was freed"
[ "$ms" -lt 4500 ] || fail "the waiting connect took ${ms} ms, as long as its limit"

# No slot comes: rejected after the wait, with bulkhead_errno.
bh_config "$T/expire.ini" "$PORT" "max_connections = 2" "bulkhead_wait_ms = 300" \
    "bulkhead_errno = ETIMEDOUT"
bh "$T/expire.ini" "$PORT" conn conn conn echo 1
assert_eq "wait expires" "$(want "s0 ok" "s1 ok" "s2 ETIMEDOUT" "s1 echo ok")" "$(out)"
ms=$(took 2)
note "rejected after waiting ${ms} ms (bulkhead_wait_ms = 300)"
[ "$ms" -ge 280 ] || fail "rejected after ${ms} ms, before bulkhead_wait_ms = 300"
[ "$ms" -lt 3000 ] || fail "rejected only after ${ms} ms (bulkhead_wait_ms = 300)"

# First come first served (max 1): s1 starts waiting at 0 ms, s2 at 250 ms;
# s0 is closed at 600 ms, s1 at 1000 ms. s1 must be admitted first (output
# order), s2 only once s1 is closed.
bh_config "$T/fifo.ini" "$PORT" "max_connections = 1" "bulkhead_wait_ms = 8000"
bh "$T/fifo.ini" "$PORT" conn bgconn 0 bgconn 250 later 600 0 later 1000 1 join
assert_eq "first come first served" "$(want "s0 ok" "s1 ok" "s2 ok")" "$(out)"
note "waiters: s1 admitted $(took 1) ms after it began, s2 $(took 2) ms after it began 250 ms later (slots freed at 600 and 1000 ms)"
[ "$(took 2)" -ge 650 ] || fail "the second waiter was admitted after $(took 2) ms, before the first gave its slot back"

# Native non-blocking connects never wait, even with bulkhead_wait_ms.
bh_config "$T/native.ini" "$PORT" "max_connections = 1" "bulkhead_wait_ms = 10000" \
    "nonblocking = native"
bh "$T/native.ini" "$PORT" conn nb nb
assert_eq "native does not wait" "$(want "s0 ok" "s1 ECONNREFUSED" "s2 ECONNREFUSED")" "$(out)"
note "native rejections took $(took 1) and $(took 2) ms (bulkhead_wait_ms = 10000)"
[ "$(took 1)" -lt 5000 ] && [ "$(took 2)" -lt 5000 ] || fail "a native connect waited for a slot"

# Stress: 16 threads x 40 cycles through 3 slots, blocking connects waiting;
# then, in the same process, 3 blocking connects are admitted at once and a
# native one is rejected (no leak either way), and a close frees one again.
start_server SPORT "$SUPPORT/bw_faultd" --max-seconds 200 --count-file "$T/count" echo
bh_config "$T/stress.ini" "$SPORT" "max_connections = 3" "bulkhead_wait_ms = 30000" \
    "nonblocking = native"
bh "$T/stress.ini" "$SPORT" stress 16 40 conn conn conn nb echo 0 bye 0 nb
assert_eq "stress" "$(want "stress ok=640 failed=0" "s0 ok" "s1 ok" "s2 ok" "s3 ECONNREFUSED" \
    "s0 echo ok" "s4 started")" "$(out)"
for i in 0 1 2; do
    [ "$(took $i)" -lt 3000 ] || fail "after the stress, connect s$i waited $(took $i) ms: a slot leaked"
done
p=$(peak "$T/count")
note "stress: $(sed -n 's/^# stress took //p' "$T/bh.err"), server peak $p connections"
[ -n "$p" ] && [ "$p" -ge 1 ] && [ "$p" -le 3 ] || fail "the server saw $p connections at once (max_connections = 3)"
