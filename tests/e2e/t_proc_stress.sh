#!/bin/bash
# Issue 13 item 12: the over-admission seen once in t_bulkhead_close under
# load. The one path found by which a process could admit past the limit was
# the dead-owner check calling the shim's own hooked open() under the shared
# lock: a stale record at the number it got was released there, its release
# waited 2 s for the lock this thread held, and the process then ran with no
# bulkhead at all. Liveness is now checked outside the lock by raw system
# calls and a re-entered hook defers its release (t_proc_children checks the
# stale-record case). This bounded stress run looks for any other path: three
# processes of 6 threads each cycle connect, echo, graceful close (the server
# sees each close before the slot comes back, so its count is exact), with
# max_connections = 3, while two CPU hogs run and a fourth process vforks
# and posix_spawns with connections held, in a loop (its closes graceful
# too: a socket closed without reading to EOF, or at exit, may still be
# counted by the server after its slot came back). The server must never
# see more than 3 at once, and afterwards all 3 slots are free.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/bulkhead_lib.sh"

start_server PORT "$SUPPORT/bw_faultd" --max-seconds 200 --count-file "$T/count" echo
bh_config "$T/bw.ini" "$PORT" "max_connections = 3" "bulkhead_wait_ms = 5000"
hogs=()
for h in 1 2; do bg timeout 60 sh -c 'while :; do :; done'; hogs+=($!); done

pids=()
for w in 1 2 3; do
    BREAKWATER_CONFIG=$T/bw.ini shim timeout 120 "$BH" "$PORT" stress 6 40 \
        >"$T/w$w.out" 2>"$T/w$w.err" &
    pids+=($!)
done
# The fourth: children while the others run (its own connects may wait or
# be refused: the others hold the slots).
for i in $(seq 1 15); do
    BREAKWATER_CONFIG=$T/bw.ini shim timeout 60 "$BH" "$PORT" conn vfork conn spawn \
        bye 0 bye 1 >>"$T/churn.out" 2>>"$T/churn.err"
done
for p in "${pids[@]}"; do wait "$p" || fail "a stress worker failed (exit $?)"; done
kill "${hogs[@]}" 2>/dev/null
for w in 1 2 3; do
    grep -q '^stress ok=' "$T/w$w.out" || fail "worker $w: $(cat "$T/w$w.out" "$T/w$w.err")"
    note "worker $w: $(cat "$T/w$w.out")"
done
grep -q '^breakwater\[' "$T"/w*.err "$T/churn.err" && { grep -h '^breakwater\[' "$T"/*.err | head -3 >&2; fail "breakwater logged"; }
p=$(peak "$T/count")
[ -n "$p" ] && [ "$p" -le 3 ] || fail "the server saw $p connections at once with max_connections = 3"
bh "$T/bw.ini" "$PORT" conn conn conn conn
assert_eq "no slot lost" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ECONNREFUSED")" "$(out)"
note "under two CPU hogs: at most $p connections at once (max 3), every slot back"
