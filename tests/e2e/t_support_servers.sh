#!/bin/bash
# Self-test of the fault servers other tests rely on (no shim involved): each
# bw_faultd mode does what its comment promises on this kernel, and the count
# file reports open connections and their peak.
. "$(dirname "$0")/lib.sh"
F=$SUPPORT/bw_faultd
cat >"$T/probe.py" <<'PY'
# probe HOST PORT TIMEOUT [PAYLOAD]: prints the outcome of one connect (+ echo).
import socket, sys
host, port, tmo = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam)
s.settimeout(tmo)
try:
    s.connect((host, port))
    if len(sys.argv) > 4:
        s.sendall(sys.argv[4].encode())
        print("reply", s.recv(1000).decode(errors="replace").split("\r\n")[0])
    else:
        print("connected")
except OSError as e:
    print(type(e).__name__)
PY
probe() { timeout 20 "$PYTHON3" "$T/probe.py" "$@"; }

start_server P "$F" -6 --max-seconds 100 echo
assert_eq "echo v4" "reply hi" "$(probe 127.0.0.1 "$P" 5 hi)"
assert_eq "echo v6" "reply hi" "$(probe ::1 "$P" 5 hi)"
start_server P "$F" -6 --max-seconds 100 blackhole
assert_eq "blackhole v4" "TimeoutError" "$(probe 127.0.0.1 "$P" 1)"
assert_eq "blackhole v6" "TimeoutError" "$(probe ::1 "$P" 1)"
start_server P "$F" --max-seconds 100 reset
assert_eq "reset" "ConnectionResetError" "$(probe 127.0.0.1 "$P" 5 hi)"
start_server P "$F" --max-seconds 100 --count-file "$T/count" hang
assert_eq "hang" "TimeoutError" "$(probe 127.0.0.1 "$P" 1 hi)"
start_server P "$F" --max-seconds 100 http 503
assert_eq "http" "reply HTTP/1.1 503 Service Unavailable" \
    "$(probe 127.0.0.1 "$P" 5 $'GET / HTTP/1.1\r\nHost: x\r\n\r\n')"
start_server P "$F" --max-seconds 100 late 1500
assert_eq "late, early" "ConnectionRefusedError" "$(probe 127.0.0.1 "$P" 5)"
sleep 2
assert_eq "late, later" "reply hi" "$(probe 127.0.0.1 "$P" 5 hi)"
note "echo, blackhole, reset, hang, http, late behave as documented"

# Count file: 5 concurrent connections held open, then all closed.
start_server P "$F" --max-seconds 100 --count-file "$T/cnt" echo
"$PYTHON3" - "$P" "$T/cnt" <<'PY'
import socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
def wait_for(want):
    for _ in range(200):
        try:
            if open(path).read().strip() == want: return
        except OSError: pass
        time.sleep(0.05)
    sys.exit("count file never said %r (last %r)" % (want, open(path).read()))
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
wait_for("current 5 peak 5")
for s in socks: s.close()
wait_for("current 0 peak 5")
PY
[ $? -eq 0 ] || fail "count file"
note "count file tracked 5 connections and the peak"
