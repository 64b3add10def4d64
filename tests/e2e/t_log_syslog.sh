#!/bin/bash
# log = syslog: lines reach the system logger with the right priority, and
# the shim keeps no descriptor of its own open afterwards. The test plays the
# logger: it listens on /dev/log, which it needs to be free (no syslog daemon
# on the machine) and writable (root).
. "$(dirname "$0")/lib.sh"

# A skip would count as a pass: it fails instead, saying why.
if [ -e /dev/log ] || [ "$(id -u)" != 0 ]; then
    fail "cannot run: /dev/log belongs to a running logger here, or not root"
fi
start_server PORT "$SUPPORT/bw_faultd" echo

# The logger: prints each datagram it receives, for at most 20 s.
"$PYTHON3" - "$T/syslog.out" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
s.settimeout(0.2)
end = time.time() + 20
with open(sys.argv[1], "w") as out:
    print("ready", file=out, flush=True)
    while time.time() < end and not os.path.exists(sys.argv[1] + ".stop"):
        try:
            out.write(s.recv(4096).decode(errors="replace") + "\n"); out.flush()
        except socket.timeout:
            pass
os.unlink("/dev/log")
PY
logger=$!
BW_PIDS+=("$logger")
for _ in $(seq 100); do grep -q ready "$T/syslog.out" 2>/dev/null && break; sleep 0.05; done

write_config "$T/bw.ini" <<CFG
[global]
state_dir = $T
log = syslog
[destination dead]
host = 127.0.0.1
port = 1
retries = 0
breaker_consecutive_failures = 2
CFG
out=$(BREAKWATER_LOG= BREAKWATER_CONFIG="$T/bw.ini" shim "$PYTHON3" -c '
import os, socket, sys
for _ in range(3):
    try: socket.create_connection(("127.0.0.1", 1))
    except OSError: pass
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.close()
print(sorted(os.readlink("/proc/self/fd/" + f) for f in os.listdir("/proc/self/fd")
             if os.path.exists("/proc/self/fd/" + f) and "socket" in os.readlink("/proc/self/fd/" + f)))
' "$PORT" 2>"$T/err")
touch "$T/syslog.out.stop"
wait "$logger" 2>/dev/null
assert_eq "sockets left open by the shim" "[]" "$out"
assert_eq "stderr with log = syslog" "" "$(cat "$T/err")"
# <12> = facility user (1) * 8 + warning (4)
grep -q '^<12>.*breakwater\[[0-9]*\]: warn: dead 127.0.0.1:1 breaker open: 2 consecutive failures' "$T/syslog.out" ||
    fail "no breaker line at the logger: $(cat "$T/syslog.out")"
note "syslog got: $(grep breakwater "$T/syslog.out" | head -1)"
