#!/bin/bash
# A slot belongs to the socket until its last holder closes it, whichever
# process that is (issue 13):
# - a plain fork() child keeps a socket its parent closed: another process
#   is refused while the child holds it, admitted once it closes it
#   (max_connections = 1; before, the parent's close gave the slot back);
# - a socket handed over with SCM_RIGHTS to a process that outlives the
#   sender: still counted after the sender exited (before, the sender's exit
#   gave it back), free once the receiver closes it;
# - the receiver closes it while the sender lives on without connecting
#   again: another process gets the slot (before, only the sender's next
#   connect looked), and a connect waiting in the queue meanwhile is
#   admitted when it closes (before, it waited out bulkhead_wait_ms).
# Whoever finds the bulkhead full asks the kernel (sock_diag) about the
# sockets holding slots, before it waits or refuses.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/bulkhead_lib.sh"

start_server PORT "$SUPPORT/bw_faultd" --max-seconds 200 echo
bh_config "$T/max1.ini" "$PORT" "max_connections = 1"
bh_config "$T/max2.ini" "$PORT" "max_connections = 2"
bh_config "$T/wait.ini" "$PORT" "max_connections = 2" "bulkhead_wait_ms = 10000"

# bg_bh OUT CFG ARG...: the client in the background, its output in OUT.
bg_bh() {
    local o=$1 cfg=$2; shift 2
    BREAKWATER_CONFIG=$cfg shim timeout 60 "$BH" "$PORT" "$@" >"$o" 2>"$o.err" &
    BW_PIDS+=($!)
}
# wait_line FILE LINE: waits (at most 20 s) until FILE has LINE.
wait_line() {
    local i
    for ((i = 0; i < 400; i++)); do
        grep -qx "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "no '$2' in $1: $(cat "$1" "$1.err" 2>/dev/null)"
}

# fork(): the child holds s0 for 3 s after the parent closed it.
bg_bh "$T/fork.out" "$T/max1.ini" conn forkhold 0 3000 close 0 mark closed sleep 8000
wait_line "$T/fork.out" closed
bh "$T/max1.ini" "$PORT" conn
grep -qx "forkhold child done" "$T/fork.out" && fail "the fork child let go before the check (machine too slow?)"
assert_eq "fork child holds the socket" "s0 ECONNREFUSED" "$(out)"
wait_line "$T/fork.out" "forkhold child done"
bh "$T/max1.ini" "$PORT" conn
assert_eq "fork child closed it" "s0 ok" "$(out)"

# SCM_RIGHTS to a receiver that outlives the sender by 3 s.
BREAKWATER_CONFIG=$T/max2.ini shim timeout 60 "$BH" "$PORT" passlinger 3000 passhelper conn conn \
    pass 0 close 0 >"$T/gone.out" 2>"$T/gone.out.err" || fail "sender: exit $?"
bh "$T/max2.ini" "$PORT" conn conn
grep -qx "helper done" "$T/gone.out" && fail "the receiver let go before the check (machine too slow?)"
assert_eq "sender gone, receiver holds it" "$(want "s0 ok" "s1 ECONNREFUSED")" "$(out)"
wait_line "$T/gone.out" "helper done"
bh "$T/max2.ini" "$PORT" conn conn
assert_eq "receiver closed it" "$(want "s0 ok" "s1 ok")" "$(out)"

# The receiver closes it; the sender lives on, holding s1, connecting no more.
bg_bh "$T/idle.out" "$T/max2.ini" passhelper conn conn pass 0 close 0 passclose mark closed \
    sleep 8000
wait_line "$T/idle.out" closed
bh "$T/max2.ini" "$PORT" conn conn
assert_eq "closed everywhere, sender idle" "$(want "s0 ok" "s1 ECONNREFUSED")" "$(out)"

# A connect that waits in the queue meanwhile is admitted when it closes
# (the sender outlives the wait: its exit would free its own slot, s1).
bg_bh "$T/queue.out" "$T/wait.ini" passhelper conn conn pass 0 close 0 mark passed sleep 2000 \
    passclose sleep 20000
wait_line "$T/queue.out" passed
bh "$T/wait.ini" "$PORT" conn
assert_eq "waiter admitted when the receiver closes" "s0 ok" "$(out)"
note "fork child and SCM_RIGHTS receivers keep slots until the last holder closes; waiter took $(took 0) ms"
