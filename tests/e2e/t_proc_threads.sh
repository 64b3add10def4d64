#!/bin/bash
# Signal handlers and thread cancellation never hang a program, leak a slot
# or stall the queue (issue 13):
# - close() and connect() from a SIGALRM handler (every 0.5 ms) while the
#   main thread connects and closes in a loop, in and out of the shim: the
#   run ends, and afterwards every slot is free again (max 2: 2 admitted);
#   no connect of the main loop returns EINTR (the handler has SA_RESTART);
#   a handler that sends on the connection whose lock the interrupted write
#   holds passes through instead of waiting for itself forever;
# - a thread cancelled while it waits in the bulkhead queue withdraws its
#   ticket: a connect that may not wait is admitted as soon as a slot frees
#   (a stale ticket ahead of it would refuse it); its cleanup handler may
#   close another tracked connection (no stall, that slot comes back);
# - a thread cancelled in the backoff between two attempts is one breaker
#   failure, not two (breaker_consecutive_failures = 2 stays closed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/bulkhead_lib.sh"

start_server PORT "$SUPPORT/bw_faultd" --max-seconds 200 echo
DEAD=$(free_port)

bh_config "$T/sig.ini" "$PORT" "max_connections = 2"
bh "$T/sig.ini" "$PORT" sigloop 1500 conn conn conn
assert_eq "signal handlers" "$(want "sigloop done" "s0 ok" "s1 ok" "s2 ECONNREFUSED")" "$(out)"
note "$(grep sigloop "$T/bh.err")"
# SA_RESTART: the kernel restarts an interrupted connect, so the main loop
# never sees EINTR (each one, closed while connecting, was also a breaker
# failure: under TSan, whose crash handlers lack SA_RESTART, enough of them
# in a row opened the breaker).
grep -q '^# sigloop .*EINTR=' "$T/bh.err" && fail "sigloop: connect returned EINTR under SA_RESTART"
# Deterministic: the handler sends on the very connection whose write lock
# the interrupted write holds (idempotency on: writes take it); it must pass
# through (sending, or EAGAIN), not wait for itself forever.
start_server SLOW "$SUPPORT/bw_faultd" --max-seconds 200 slow 1
bh_config "$T/sigw.ini" "$SLOW" "idempotency = on"
bh "$T/sigw.ini" "$PORT" sigwrite "$SLOW" || fail "sigwrite: exit $? (124: it hung)"
grep -Eqx 'sigwrite handler (ok|EAGAIN) main partial' "$T/bh.out" ||
    fail "signal handler on a locked connection: $(out)"
# Cancelled in the bulkhead queue; 'nb' connects do not wait (native mode).
bh_config "$T/wait.ini" "$PORT" "max_connections = 2" "bulkhead_wait_ms = 10000" \
    "nonblocking = native"
bh "$T/wait.ini" "$PORT" conn conn cancel 0 300 -1 close 0 nb nb
assert_eq "cancelled waiter" "$(want "s0 ok" "s1 ok" "cancel joined cancelled" "s3 started" \
    "s4 ECONNREFUSED")" "$(out)"
# ... whose cleanup handler closes s1: that slot comes back.
bh "$T/wait.ini" "$PORT" conn conn cancel 0 300 1 nb nb
assert_eq "cancelled waiter closing a connection" "$(want "s0 ok" "s1 ok" \
    "cancel joined cancelled" "s3 started" "s4 ECONNREFUSED")" "$(out)"

# Cancelled in the backoff: one failure, so the breaker (errno EHOSTUNREACH
# here) opens at the next refused connect, s1, not before it (counted twice,
# s1 would be rejected). The opening is logged: at level error, not shown.
bh_config "$T/backoff.ini" "$PORT,$DEAD" "retries = 3" "backoff_initial_ms = 1000" \
    "backoff_max_ms = 1000" "jitter = none" "breaker_consecutive_failures = 2" \
    "breaker_errno = EHOSTUNREACH" "retry_on = refused"
BREAKWATER_LOG=error bh "$T/backoff.ini" "$PORT" cancel "$DEAD" 300 0 connp "$DEAD" connp "$DEAD"
assert_eq "cancelled in backoff" "$(want "cancel joined cancelled" "s1 ECONNREFUSED" \
    "s2 EHOSTUNREACH")" "$(out)"
note "signal handlers and cancellation: no hang, no slot lost, one failure per attempt"
