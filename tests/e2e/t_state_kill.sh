#!/bin/bash
# SIGKILL of a slot holder at random points (SPEC section 6): 30 times, a
# process looping connect/close under max_connections = 1 is killed with
# SIGKILL 0-50 ms after it first got through. Each next holder must get the
# slot (the dead one's is reclaimed, its lock recovered); at the end a fresh
# process connects, and status shows no connection active after it closed.
. "$(dirname "$0")/lib.sh"
CLIENTS=$(cd "$(dirname "$0")/clients" && pwd)
require_shim
start_server P "$SUPPORT/bw_faultd" --max-seconds 200 echo
CFG=$T/bw.ini
write_config "$CFG" <<EOF
[global]
state_dir = $T
[destination echo]
host = 127.0.0.1
port = $P
max_connections = 1
bulkhead_errno = ECONNABORTED
EOF
cat >"$T/loop.py" <<'PY'
import os, socket, sys, time
port, ready = int(sys.argv[1]), sys.argv[2]
end = time.time() + 10
while time.time() < end:
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"x")
        s.recv(1)
        if ready:
            open(ready, "w").close()
            ready = None
    except OSError:
        pass
    s.close()
PY
for ((i = 0; i < 30; i++)); do
    rm -f "$T/ready"
    # Not through the shim function: $! must be the python process itself.
    BREAKWATER_CONFIG=$CFG LD_PRELOAD="$BW_PRELOAD" "$PYTHON3" "$T/loop.py" "$P" "$T/ready" &
    pid=$!; BW_PIDS+=($pid)
    for ((j = 0; j < 200; j++)); do [ -e "$T/ready" ] && break; sleep 0.025; done
    [ -e "$T/ready" ] || fail "holder $i never got a connection through (slot or lock leaked)"
    sleep "0.0$(printf '%02d' $((RANDOM % 51)))"
    kill -9 $pid
    wait $pid 2>/dev/null
done
note "30 holders killed with SIGKILL at random points; each next one got the slot"
got=$(BREAKWATER_CONFIG=$CFG shim timeout 20 "$PYTHON3" "$CLIENTS/state_conn.py" 127.0.0.1:$P*3 | tr '\n' ' ')
assert_eq "fresh process" "ok ok ok " "$got"
out=$(timeout 20 "$BW_CLI" status -c "$CFG" --json) || fail "status failed after the kills"
assert_eq "active after the kills" 0 "$(echo "$out" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["destinations"][0]["active"])')"
note "a fresh process connects; status shows 0 active"
