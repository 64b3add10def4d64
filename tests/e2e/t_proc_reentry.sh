#!/bin/bash
# The waits and epoll_ctl never deadlock a program whose signal handler calls
# them while its own thread is inside them (issue 13): a SIGALRM every 0.5 ms
# runs poll, epoll_ctl(MOD) and getsockopt(SO_ERROR) on two sockets whose
# non-blocking connects are pending (retried inside the waits), while the
# main thread goes round poll, epoll_wait, epoll_ctl and select on them.
# Before the re-entry guard covered them, the handler waited for a lock its
# own thread held (the pending list, the epoll registrations, a record's
# plock): the run never ended. Bounded: 20 s for a 1.5 s run.
. "$(dirname "$0")/lib.sh"
require_shim
CL=$T/reentry_client
cc -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O1 -o "$CL" \
    "$(dirname "$0")/clients/reentry_client.c" || fail "cannot build reentry_client"

DEAD=$(free_port)
printf '[global]\nstate_dir = %s\n[destination dead]\nhost = 127.0.0.1\nport = %s\n%s\n' \
    "$T" "$DEAD" "retries = 100
backoff_initial_ms = 1
backoff_max_ms = 3
jitter = none
retry_budget_percent = 0
breaker = off" | write_config "$T/re.ini"
for run in 1 2; do
    BREAKWATER_CONFIG=$T/re.ini shim timeout 20 "$CL" "$DEAD" 1500 >"$T/re.out" 2>"$T/re.err"
    rc=$?
    [ $rc = 124 ] && fail "run $run hung (a hook called in the signal handler waited for its own thread)"
    [ $rc = 0 ] || { cat "$T/re.err" >&2; fail "run $run: exit $rc"; }
    grep -q '^breakwater\[' "$T/re.err" && { cat "$T/re.err" >&2; fail "breakwater logged"; }
    assert_eq "run $run" "done, handler ran often" "$(cat "$T/re.out")"
    note "run $run: $(grep '^#' "$T/re.err" | sed 's/^# //')"
done
# The connects were pending and retried inside the waits all along.
retries=$("$BW_CLI" status -c "$T/re.ini" --json |
    "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["destinations"][0]["addresses"][0]["retries"])')
[ "${retries:-0}" -ge 50 ] || fail "only ${retries:-no} retries: the waits did not manage the connects"
note "$retries retries made inside the waits"
note "waits and epoll_ctl in a signal handler over the shim's own: no deadlock"
