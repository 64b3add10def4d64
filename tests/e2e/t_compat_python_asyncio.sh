#!/bin/bash
# python3 asyncio: 16 concurrent asyncio.open_connection round trips to the echo
# server.
#  1. Against a live echo server the output is identical in all 5 modes.
#  2. Against a server that listens 1.5 s late, with retries in the config:
#     asyncio is refused without the shim and with nonblocking = native (no
#     retries in status); under the default nonblocking = auto its refusals
#     are retried inside its own epoll_wait and every connection succeeds,
#     with the retries in status (issue 12).
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

# A late server: refused at first, listening only after LATE ms. asyncio
# connects non-blocking and waits in epoll_wait: under the shim (nonblocking =
# auto) each refusal is hidden and retried inside that wait, so asyncio
# connects; without the shim, and with nonblocking = native, it fails.
late_cfg() {   # FILE PORT MODE
    write_config "$1" <<EOF
[global]
state_dir = $T
[destination late]
host = 127.0.0.1
port = $2
retries = 8
backoff_initial_ms = 100
backoff_max_ms = 400
jitter = none
breaker = off
nonblocking = $3
EOF
}
# retries FILE: the retries status counts for the late destination.
retries() {
    "$BW_CLI" status -c "$1" --json | "$PYTHON3" -c '
import json, sys
d = json.load(sys.stdin)
print(sum(a["retries"] for x in d["destinations"] if x["name"] == "late" for a in x["addresses"]))'
}
run_late() {   # LABEL MODE(plain|auto|native) LATE_MS: aio.py, 4 connections, a fresh late server
    local label=$1 mode=$2 lp t0
    start_server lp "$SUPPORT/bw_faultd" --max-seconds 60 late "$3"
    late_cfg "$T/$label.ini" "$lp" "$mode"
    t0=$EPOCHREALTIME
    if [ "$mode" = plain ]; then
        env -u LD_PRELOAD timeout 60 "$PYTHON3" "$T/aio.py" "$lp" 4 >"$T/$label.out" 2>"$T/$label.err"
    else
        BREAKWATER_CONFIG=$T/$label.ini shim timeout 60 "$PYTHON3" "$T/aio.py" "$lp" 4 >"$T/$label.out" 2>"$T/$label.err"
    fi
    echo "exit status $?" >>"$T/$label.out"
    MS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
}
run_late late_plain plain 5000
assert_eq "late, plain: refused" 4 "$(grep -c ' ConnectionRefusedError errno 111$' "$T/late_plain.out")"
run_late late_native native 5000
assert_eq "late, native: refused as without the shim" 4 \
    "$(grep -c ' ConnectionRefusedError errno 111$' "$T/late_native.out")"
assert_eq "late, native: no retries" 0 "$(retries "$T/late_native.ini")"
run_late late_auto auto 1500
assert_eq "late, auto: all 4 connected and echoed" 4 "$(grep -c ' ok [0-9]* True$' "$T/late_auto.out")"
r=$(retries "$T/late_auto.ini")
[ "$r" -ge 4 ] || fail "late, auto: $r retries in status, expected at least one per connection"
((MS >= 1400)) || fail "late, auto: connected after $MS ms, before the server listened"
note "late server: asyncio connected under the shim after $MS ms with $r retries; refused without it"

# A blocking socket under the same kind of config is retried inside connect().
cat >"$T/blocking.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))   # blocking: no timeout
s.settimeout(30)
s.sendall(b"blocking"); print(s.recv(100).decode()); s.close()
PY
lp2=""; start_server lp2 "$SUPPORT/bw_faultd" --max-seconds 60 late 600
late_cfg "$T/blk.ini" "$lp2" auto
BREAKWATER_CONFIG=$T/blk.ini shim timeout 60 "$PYTHON3" "$T/blocking.py" "$lp2" >"$T/blk.out" 2>"$T/blk.err" ||
    { cat "$T/blk.err" >&2; fail "blocking connect under the shim did not reach the late server"; }
assert_eq "blocking echo" blocking "$(cat "$T/blk.out")"
note "blocking socket, same config: retried until the late server listened"
