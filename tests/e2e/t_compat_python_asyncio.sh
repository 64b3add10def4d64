#!/bin/bash
# python3 asyncio: 16 concurrent asyncio.open_connection round trips to the echo
# server. asyncio creates an epoll instance, so the shim runs its non-blocking
# connects in native mode: the program keeps its own (no waiting, no retry).
#  1. Against a live echo server the output is identical in all 5 modes.
#  2. Against a late server (connects refused for 20 s) with retries = 5 in the
#     config, asyncio fails exactly as without the shim (ConnectionRefusedError
#     for every connection); a blocking socket under the same config
#     is retried until the same late server listens - the contrast that shows
#     the native mode, not a missing config, is what kept asyncio untouched.
. "$(dirname "$0")/lib.sh"
start_server PORT "$SUPPORT/bw_faultd" --max-seconds 120 echo
BW_CFG=$T/bw.ini; dest_config "$BW_CFG" "$PORT" "retries = 5"
cat >"$T/aio.py" <<'PY'
# aio.py PORT N: N concurrent open_connection/write/read/close; prints each result.
import asyncio, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
async def one(i):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 20)
    except OSError as e:
        return "%d %s errno %s" % (i, type(e).__name__, e.errno)
    msg = ("asyncio-%d-" % i).encode() * (1 + i * 100)
    w.write(msg)
    await w.drain()
    got = await asyncio.wait_for(r.readexactly(len(msg)), 20)
    w.close()
    await w.wait_closed()
    return "%d ok %d %s" % (i, len(got), got == msg)
async def main():
    for line in await asyncio.gather(*(one(i) for i in range(n))):
        print(line)
asyncio.run(main())
PY
run_modes aio "$PYTHON3" "$T/aio.py" "$PORT" 16
assert_eq "round trips" 16 "$(grep -c ' ok [0-9]* True$' "$T/aio.plain.out")"

# A late server: refused now, listening only after 20 s.
late_cfg=$T/late.ini
run_late() {   # LABEL PRELOAD(0|1): aio.py, 4 connections, against a fresh late server
    local label=$1 pre=$2 lp
    start_server lp "$SUPPORT/bw_faultd" --max-seconds 60 late 20000
    dest_config "$late_cfg" "$lp" "retries = 5" "backoff_initial_ms = 100" "backoff_max_ms = 1000" \
        "breaker = off"
    if [ "$pre" = 1 ]; then
        BREAKWATER_CONFIG=$late_cfg shim timeout 60 "$PYTHON3" "$T/aio.py" "$lp" 4 >"$T/$label.out" 2>"$T/$label.err"
    else
        env -u LD_PRELOAD timeout 60 "$PYTHON3" "$T/aio.py" "$lp" 4 >"$T/$label.out" 2>"$T/$label.err"
    fi
    echo "exit status $?" >>"$T/$label.out"
}
run_late late_plain 0
run_late late_shim 1
assert_eq "late, plain" 4 "$(grep -c ' ConnectionRefusedError errno 111$' "$T/late_plain.out")"
cmp -s "$T/late_plain.out" "$T/late_shim.out" || {
    diff "$T/late_plain.out" "$T/late_shim.out" >&2; fail "asyncio against a late server differs under the shim"; }
note "late server: asyncio fails as without the shim: $(head -n 1 "$T/late_shim.out")"

# The contrast: a blocking connect under the same kind of config is retried.
# (Not a socket with a timeout: CPython sets those non-blocking, and importing
# socket creates an epoll instance (selectors probes for it), so they are in
# native mode too - see COMPAT.md.)
cat >"$T/blocking.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))   # blocking: no timeout
s.settimeout(30)
s.sendall(b"blocking"); print(s.recv(100).decode()); s.close()
PY
# Server listening after 600 ms; attempts at 0, 0.3, 0.9, 2.1 s (no jitter):
# the third or fourth reaches it.
lp2=""; start_server lp2 "$SUPPORT/bw_faultd" --max-seconds 60 late 600
dest_config "$late_cfg" "$lp2" "retries = 5" "backoff_initial_ms = 300" "backoff_max_ms = 1000" \
    "jitter = none" "breaker = off"
BREAKWATER_CONFIG=$late_cfg shim timeout 60 "$PYTHON3" "$T/blocking.py" "$lp2" >"$T/blk.out" 2>"$T/blk.err" ||
    { cat "$T/blk.err" >&2; fail "blocking connect under the shim did not reach the late server"; }
assert_eq "blocking echo" blocking "$(cat "$T/blk.out")"
note "blocking socket, same config: retried until the late server listened"
