#!/bin/bash
# Bulkhead slots come back exactly when the last descriptor of a connection
# goes, on every path (clients/bulkhead_client.c under the shim, bw_faultd echo):
# - dup() and fcntl(F_DUPFD) copies keep the slot until the last copy closes;
# - close_range (one descriptor, and one call over all), syscall(SYS_close),
#   dup2/dup3 of an unconnected socket over it (the JVM), fclose of an
#   fdopen()ed socket each give it back;
# - a forked child closing its inherited descriptors (close, SYS_close,
#   close_range) gives back none of the parent's slots; a slot the child took
#   itself is reclaimed when the child exits;
# - shared state: a process holding 3 slots blocks another process; a process
#   that exits, or is killed with SIGKILL, without closing leaks none.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/bulkhead_lib.sh"

start_server PORT "$SUPPORT/bw_faultd" --max-seconds 200 echo

# Copies keep the slot (max 1): the connect after closing the original is
# rejected, the one after closing the copy too is admitted.
bh_config "$T/max1.ini" "$PORT" "max_connections = 1"
for d in dup fdup; do
    bh "$T/max1.ini" "$PORT" conn $d 0 close 0 echo 1 conn close 1 conn echo 3
    assert_eq "$d keeps the slot" "$(want "s0 ok" "s1 = $d s0" "s1 echo ok" "s2 ECONNREFUSED" \
        "s3 ok" "s3 echo ok")" "$(out)"
done
# Two copies, closed by different paths: the slot stays until the third goes.
bh "$T/max1.ini" "$PORT" conn dup 0 fdup 0 sysclose 0 conn closerange 1 conn dup2 2 conn
assert_eq "three copies" "$(want "s0 ok" "s1 = dup s0" "s2 = fdup s0" "s3 ECONNREFUSED" \
    "s4 ECONNREFUSED" "s2 dup2 closed" "s5 ok")" "$(out)"

# Each way of closing gives the slot back (max 3: three held, closed, three
# admitted again, the next rejected).
bh_config "$T/max3.ini" "$PORT" "max_connections = 3"
for how in close sysclose closerange fclose dup2 dup3 bye; do
    bh "$T/max3.ini" "$PORT" conn conn conn conn $how 0 $how 1 $how 2 conn conn conn conn echo 6
    got=$(out | grep -v ' closed$')
    assert_eq "$how gives slots back" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ECONNREFUSED" \
        "s4 ok" "s5 ok" "s6 ok" "s7 ECONNREFUSED" "s6 echo ok")" "$got"
done
bh "$T/max3.ini" "$PORT" conn conn conn conn closerangeall conn conn conn conn
assert_eq "one close_range over all" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ECONNREFUSED" \
    "s4 ok" "s5 ok" "s6 ok" "s7 ECONNREFUSED")" "$(out)"

# fork: the child's closes keep the parent's slots; the child's own connect is
# rejected while the parent holds all three.
bh "$T/max3.ini" "$PORT" conn conn conn forkclose conn echo 0 echo 1 echo 2 close 0 conn
assert_eq "fork: child closes" "$(want "s0 ok" "s1 ok" "s2 ok" "child closed 3, s3 ECONNREFUSED" \
    "child exit 0" "s3 ECONNREFUSED" "s0 echo ok" "s1 echo ok" "s2 echo ok" "s4 ok")" "$(out)"
# A slot the child takes and never gives back (it exits) is reclaimed.
bh "$T/max3.ini" "$PORT" conn conn conn close 2 forkclose conn conn
assert_eq "fork: child exits holding a slot" "$(want "s0 ok" "s1 ok" "s2 ok" \
    "child closed 2, s3 ok" "child exit 0" "s3 ok" "s4 ECONNREFUSED")" "$(out)"

# Processes sharing the state: A holds three (alive), B is rejected; A exits
# without closing (SIGTERM), B gets all three; C is killed with SIGKILL holding three,
# D gets all three.
bh_config "$T/shared.ini" "$PORT" "max_connections = 3"
BREAKWATER_CONFIG=$T/shared.ini LD_PRELOAD="$BW_PRELOAD" "$BH" "$PORT" conn conn conn sleep 30000 \
    >"$T/a.out" 2>/dev/null &
apid=$!
BW_PIDS+=($apid)
for ((i = 0; i < 200; i++)); do
    [ "$(grep -c ' ok$' "$T/a.out")" = 3 ] && break
    sleep 0.05
done
assert_eq "process A" "$(want "s0 ok" "s1 ok" "s2 ok")" "$(cat "$T/a.out")"
bh "$T/shared.ini" "$PORT" conn conn
assert_eq "process B while A holds 3" "$(want "s0 ECONNREFUSED" "s1 ECONNREFUSED")" "$(out)"
kill -TERM "$apid"
wait "$apid" 2>/dev/null
bh "$T/shared.ini" "$PORT" conn conn conn conn
assert_eq "process B after A exited" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ECONNREFUSED")" "$(out)"
bh "$T/shared.ini" "$PORT" conn conn conn kill
assert_eq "process C (SIGKILL)" "$(want "s0 ok" "s1 ok" "s2 ok")" "$(out)"
bh "$T/shared.ini" "$PORT" conn conn conn conn
assert_eq "process D after C was killed" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ECONNREFUSED")" "$(out)"
bh "$T/shared.ini" "$PORT" conn conn conn
bh "$T/shared.ini" "$PORT" conn conn conn conn
assert_eq "after a normal exit" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ECONNREFUSED")" "$(out)"
note "slots follow the last descriptor on every close path, across fork and process exit"
