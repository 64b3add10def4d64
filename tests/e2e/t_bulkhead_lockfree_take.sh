#!/bin/bash
# With max_connections = 0 a process takes its slots without the entry lock
# once it has an owner record (bw_bulkhead.h, "Lock-free take"), and keeps
# that record at count 0 between connects. status must still show what is
# active: after many connect/close cycles, with connections held, in a fork
# child (another owner), and after SIGKILL (the dead owner's slots reclaimed).
# It checks the counts only: it would pass as well if every take went
# through the lock; test_bulkhead_lockfree's races are what prove the
# lock-free take and give-back themselves.
. "$(dirname "$0")/lib.sh"
require_shim
start_server P "$SUPPORT/bw_faultd" --max-seconds 200 echo
CFG=$T/bw.ini
write_config "$CFG" <<EOF2
[global]
state_dir = $T
[destination echo]
host = 127.0.0.1
port = $P
EOF2
cat >"$T/hold.py" <<'PY'
import os, socket, sys, time
port, t = int(sys.argv[1]), sys.argv[2]
def conn():
    s = socket.socket(); s.connect(("127.0.0.1", port)); return s
for _ in range(300):            # kept record: taken and given back each time
    conn().close()
held = [conn() for _ in range(3)]
open(t + "/parent", "w").close()
while not os.path.exists(t + "/fork"):
    time.sleep(0.02)
if os.fork() == 0:              # a child: another owner, its own record
    mine = [conn() for _ in range(2)]
    for s in held:              # closing inherited sockets gives nothing back
        s.close()
    with open(t + "/child.tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(t + "/child.tmp", t + "/child")
    time.sleep(60)
    os._exit(0)
time.sleep(60)
PY
active() {
    timeout 20 "$BW_CLI" status -c "$CFG" --json |
        "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["destinations"][0]["active"])'
}
waitfile() { for ((j = 0; j < 400; j++)); do [ -e "$1" ] && return; sleep 0.025; done; fail "no $1"; }
BREAKWATER_CONFIG=$CFG LD_PRELOAD="$BW_PRELOAD" "$PYTHON3" "$T/hold.py" "$P" "$T" &
parent=$!; BW_PIDS+=($parent)
waitfile "$T/parent"
assert_eq "active after 300 cycles, 3 held" 3 "$(active)"
touch "$T/fork"
waitfile "$T/child"
BW_PIDS+=("$(cat "$T/child")")
assert_eq "active with the fork child's 2" 5 "$(active)"
kill -9 $parent; wait $parent 2>/dev/null
assert_eq "active after SIGKILL of the parent" 2 "$(active)"
kill -9 "$(cat "$T/child")"
for ((j = 0; j < 200; j++)); do [ "$(active)" = 0 ] && break; sleep 0.05; done
assert_eq "active after the child is killed too" 0 "$(active)"
note "status right through lock-free takes, kept records, a fork child and SIGKILL"
