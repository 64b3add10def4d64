#!/bin/bash
# Child processes and exec never over-admit nor lose a slot (issue 13):
# - vfork: the child (running on the parent's memory) closes every socket,
#   close_range(3, ~0U) and execs; the parent keeps its records and slots:
#   with max_connections = 2 held, no third is admitted, and closing one
#   gives exactly one back; the same from Python (subprocess uses vfork and
#   close_range in the child) and from an asyncio loop (its non-blocking
#   connects must not turn blocking afterwards); posix_spawn and the
#   program's own clone(CLONE_VM | CLONE_VFORK) likewise;
# - closefrom() gives the slots back; a socket closed by a raw system call
#   (no hook sees it) with the bulkhead full costs no stall: the dead-owner
#   check runs outside the shared lock, by raw system calls;
# - exec: the slots of close-on-exec sockets come back, inherited ones stay
#   taken and the new image gives them back when it closes them, a failed
#   exec takes them again;
# - SCM_RIGHTS: a socket handed to another process keeps its slot until the
#   last holder closes it.
# Every admission is checked exactly (which connect is admitted, which refused).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/bulkhead_lib.sh"

start_server PORT "$SUPPORT/bw_faultd" --max-seconds 200 echo
bh_config "$T/max2.ini" "$PORT" "max_connections = 2"
bh_config "$T/max3.ini" "$PORT" "max_connections = 3"

# vfork from C.
bh "$T/max2.ini" "$PORT" conn conn vfork conn echo 0 echo 1 close 0 conn conn
assert_eq "vfork" "$(want "s0 ok" "s1 ok" "vfork child exit 0" "s2 ECONNREFUSED" \
    "s0 echo ok" "s1 echo ok" "s3 ok" "s4 ECONNREFUSED")" "$(out)"
# The program's own clone(CLONE_VM | CLONE_VFORK): a vfork child as well.
bh "$T/max2.ini" "$PORT" conn conn clone conn echo 0 echo 1 close 0 conn conn
assert_eq "clone(CLONE_VM)" "$(want "s0 ok" "s1 ok" "clone child exit 0" "s2 ECONNREFUSED" \
    "s0 echo ok" "s1 echo ok" "s3 ok" "s4 ECONNREFUSED")" "$(out)"
# posix_spawn (glibc: clone(CLONE_VM) and internal calls only).
bh "$T/max2.ini" "$PORT" conn conn spawn conn close 1 conn conn
assert_eq "posix_spawn" "$(want "s0 ok" "s1 ok" "spawn child exit 0" "s2 ECONNREFUSED" \
    "s3 ok" "s4 ECONNREFUSED")" "$(out)"

# Python's subprocess: 2 held, subprocess.run, then 2 more tried.
cat >"$T/sub.py" <<'PY'
import socket, subprocess, sys
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
subprocess.run(["/bin/true"], check=True)
for _ in range(2):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port)); held.append(s); print("admitted")
    except OSError as e:
        print("rejected", e.errno)
held[0].close()
s = socket.socket(); s.connect(("127.0.0.1", port)); print("after close: admitted")
PY
BREAKWATER_CONFIG=$T/max2.ini shim timeout 60 "$PYTHON3" "$T/sub.py" "$PORT" >"$T/py.out" 2>"$T/py.err" ||
    { cat "$T/py.err" >&2; fail "python subprocess run failed"; }
assert_eq "python subprocess" "$(want "rejected 111" "rejected 111" "after close: admitted")" \
    "$(cat "$T/py.out")"

# asyncio: an event loop with connects in flight starts a subprocess; its
# next non-blocking connects must still return at once (EINPROGRESS), i.e.
# the loop's epoll instance is still known, and no connect counts as failed.
cat >"$T/aio.py" <<'PY'
import asyncio, socket, sys
port = int(sys.argv[1])
async def one():
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"ping\n"); await w.drain(); await r.readline(); w.close(); await w.wait_closed()
async def main():
    for _ in range(5):
        p = await asyncio.create_subprocess_exec("/bin/true")
        await asyncio.gather(one(), one(), p.wait())
    # A connect to a port nobody listens on must return EINPROGRESS, as in
    # any event loop: in wait mode (the epoll instance forgotten) it would
    # block the loop through its retries and fail with ECONNREFUSED.
    s = socket.socket(); s.setblocking(False)
    try:
        s.connect(("127.0.0.1", int(sys.argv[2])))
    except BlockingIOError:
        print("connect returned EINPROGRESS")
    except OSError as e:
        print("connect failed", e.errno)
asyncio.run(main())
print("done")
PY
DEAD=$(free_port)
bh_config "$T/aio.ini" "$PORT,$DEAD" "max_connections = 2" "bulkhead_wait_ms = 20000" \
    "retries = 3" "backoff_initial_ms = 1000" "jitter = none"
BREAKWATER_CONFIG=$T/aio.ini shim timeout 60 "$PYTHON3" "$T/aio.py" "$PORT" "$DEAD" \
    >"$T/aio.out" 2>"$T/aio.err" || { cat "$T/aio.err" >&2; fail "asyncio run failed"; }
grep -q '^breakwater\[' "$T/aio.err" && { cat "$T/aio.err" >&2; fail "asyncio: breakwater logged"; }
assert_eq "asyncio + subprocess" "$(want "connect returned EINPROGRESS" "done")" \
    "$(cat "$T/aio.out")"

# closefrom.
bh "$T/max3.ini" "$PORT" conn conn conn closefrom 0 conn conn conn conn
assert_eq "closefrom" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ok" "s4 ok" "s5 ok" \
    "s6 ECONNREFUSED")" "$(out)"
# A raw close leaves a stale record; with the bulkhead full the next connect
# looks for dead owners (none: this process lives) without a stall or a
# warning, and the stale record goes when its number is handed out again.
bh "$T/max3.ini" "$PORT" conn conn conn rawclose 0 conn conn
assert_eq "raw close, bulkhead full" "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ECONNREFUSED" \
    "s4 ECONNREFUSED")" "$(out)"
# The same with the number left free: the dead-owner check's own read of
# /proc/PID/stat would get it. Through the program's open() hook (before)
# that released the stale record under the shared lock it held: a 2 s stall
# and a warning, then no bulkhead at all. Raw system calls now: no stall, no
# warning; the next socket() takes the number and gives the slot back.
bh "$T/max3.ini" "$PORT" conn conn conn spare rawclosefree 0 conn conn conn
assert_eq "raw close, number free, bulkhead full" "$(want "s0 ok" "s1 ok" "s2 ok" \
    "s3 ECONNREFUSED" "s4 ok" "s5 ECONNREFUSED")" "$(out)"

# exec: close-on-exec sockets give their slots back, inherited ones keep theirs.
bh "$T/max2.ini" "$PORT" conn conn cloexec 0 cloexec 1 exec conn conn conn
assert_eq "exec, close-on-exec" "$(want "s0 ok" "s1 ok" "s0 ok" "s1 ok" "s2 ECONNREFUSED")" "$(out)"
bh "$T/max2.ini" "$PORT" conn conn cloexec 0 exec conn conn
assert_eq "exec, one inherited" "$(want "s0 ok" "s1 ok" "s0 ok" "s1 ECONNREFUSED")" "$(out)"
# The new image adopts what it inherited: closing it there gives the slot back.
bh "$T/max2.ini" "$PORT" conn conn exec inherited echo 0 close 0 conn conn close 1 conn conn
assert_eq "exec, inherited then closed" "$(want "s0 ok" "s1 ok" "inherited 2" "s0 echo ok" \
    "s2 ok" "s3 ECONNREFUSED" "s4 ok" "s5 ECONNREFUSED")" "$(out)"
bh "$T/max2.ini" "$PORT" conn conn cloexec 0 cloexec 1 execfail conn close 0 conn conn
assert_eq "failed exec" "$(want "s0 ok" "s1 ok" "execfail ENOENT" "s2 ECONNREFUSED" \
    "s3 ok" "s4 ECONNREFUSED")" "$(out)"

# SCM_RIGHTS: s0 handed to a helper process and closed here keeps its slot
# while the helper holds it; once the helper closes it, the next connect here
# finds it closed everywhere (sock_diag) and the slot is back.
bh "$T/max2.ini" "$PORT" passhelper conn conn pass 0 close 0 conn passclose conn conn
assert_eq "SCM_RIGHTS" "$(want "s0 ok" "s1 ok" "s2 ECONNREFUSED" "helper closed 1" \
    "s3 ok" "s4 ECONNREFUSED")" "$(out)"
# Passed but kept here too: closing it here first, then there, the same.
bh "$T/max2.ini" "$PORT" passhelper conn conn pass 1 passclose conn close 1 conn conn
assert_eq "SCM_RIGHTS, closed there first" "$(want "s0 ok" "s1 ok" "helper closed 1" \
    "s2 ECONNREFUSED" "s3 ok" "s4 ECONNREFUSED")" "$(out)"

note "vfork, clone(CLONE_VM), posix_spawn, python subprocess, asyncio, closefrom, raw close, exec, SCM_RIGHTS: no slot lost or extra"
