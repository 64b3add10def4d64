#!/bin/bash
# The config at run time: on_config_error = exit, reload on modification,
# BREAKWATER_DISABLE, log = FILE, and the check command's output.
. "$(dirname "$0")/lib.sh"

start_server PORT "$SUPPORT/bw_faultd" echo

# hold PORT N: connects N times to PORT, holding every connection;
# prints "ok" or the errno name of each connect.
hold() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import errno, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
held, out = [], []
for _ in range(n):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port)); held.append(s); out.append("ok")
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
print(" ".join(out))
PY
}

# --- on_config_error = exit: one error line, exit status 78, the program never runs.
write_config "$T/bad-exit.ini" <<CFG
[global]
on_config_error = exit
state_dir = $T
[defaults]
retires = 3
CFG
rc=0
BREAKWATER_CONFIG="$T/bad-exit.ini" shim "$PYTHON3" -c 'print("ran")' >"$T/out" 2>"$T/err" || rc=$?
assert_eq "exit status with on_config_error = exit" 78 "$rc"
assert_eq "program output" "" "$(cat "$T/out")"
grep -q "^breakwater\[[0-9]*\]: error: $T/bad-exit.ini:5: unknown key 'retires'" "$T/err" ||
    fail "no config error line: $(cat "$T/err")"
assert_eq "error lines" 1 "$(grep -c '^breakwater\[' "$T/err")"

# --- passthrough (the default): one error line, the program runs untouched.
sed '/on_config_error/d' "$T/bad-exit.ini" | write_config "$T/bad-pass.ini"
out=$(BREAKWATER_CONFIG="$T/bad-pass.ini" shim "$PYTHON3" -c 'print("ran")' 2>"$T/err")
assert_eq "program output under passthrough" ran "$out"
grep -q "intercepting nothing" "$T/err" || fail "passthrough not said: $(cat "$T/err")"
assert_eq "error lines under passthrough" 1 "$(grep -c '^breakwater\[' "$T/err")"

# --- BREAKWATER_DISABLE=1: nothing is tracked, so a bulkhead of 1 admits all.
write_config "$T/cap.ini" <<CFG
[global]
state_dir = $T
[destination echo]
host = 127.0.0.1
port = $PORT
max_connections = 1
CFG
assert_eq "bulkhead of 1" "ok ECONNREFUSED ECONNREFUSED" \
    "$(BREAKWATER_CONFIG="$T/cap.ini" shim hold "$PORT" 3)"
assert_eq "BREAKWATER_DISABLE=1" "ok ok ok" \
    "$(BREAKWATER_DISABLE=1 BREAKWATER_CONFIG="$T/cap.ini" shim hold "$PORT" 3)"

# swap_config NEW FILE GO: NEW replaces FILE with a modification time 2 s on
# (so that a reload sees a change), then GO tells the program it is there.
swap_config() { chmod 600 "$1"; touch -d '+2 seconds' "$1"; mv "$1" "$2"; touch "$3"; }

# --- reload: a long-running process sees the new file about a second later.
BREAKWATER_CONFIG="$T/cap.ini" shim "$PYTHON3" - "$PORT" "$T/go" >"$T/reload.out" 2>"$T/reload.err" <<'PY' &
import errno, os, socket, sys, time
port, go = int(sys.argv[1]), sys.argv[2]
def burst():
    held, out = [], []
    for _ in range(3):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port)); held.append(s); out.append("ok")
        except OSError as e:
            out.append(errno.errorcode.get(e.errno, "?"))
    for s in held: s.close()
    return " ".join(out)
print("before", burst(), flush=True)
for _ in range(200):                 # wait for the new config (at most 20 s)
    if os.path.exists(go): break
    time.sleep(0.1)
time.sleep(1.2)                      # reload is checked at most once a second
burst()                              # this connect notices the change
print("after", burst(), flush=True)
PY
client=$!
BW_PIDS+=("$client")
for _ in $(seq 100); do grep -q before "$T/reload.out" && break; sleep 0.1; done
sed 's/max_connections = 1/max_connections = 3/' "$T/cap.ini" >"$T/cap.new"
swap_config "$T/cap.new" "$T/cap.ini" "$T/go"
wait "$client" || true
assert_eq "before reload" "before ok ECONNREFUSED ECONNREFUSED" "$(sed -n 1p "$T/reload.out")"
assert_eq "after reload" "after ok ok ok" "$(sed -n 2p "$T/reload.out")"

# --- log = FILE: lines go to the file, not to stderr, and the shim keeps no
# descriptor of its own open (neither the log nor the state file).
write_config "$T/logfile.ini" <<CFG
[global]
state_dir = $T
log = $T/bw.log
log_level = debug
CFG
out=$(BREAKWATER_LOG= BREAKWATER_CONFIG="$T/logfile.ini" shim "$PYTHON3" -c '
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.close()
fds = [os.readlink("/proc/self/fd/" + f) for f in os.listdir("/proc/self/fd")
       if os.path.exists("/proc/self/fd/" + f)]
print([p for p in fds if "bw.log" in p or "breakwater-" in p])
' "$PORT" 2>"$T/err")
assert_eq "descriptors of the shim left open" "[]" "$out"
assert_eq "stderr with log = FILE" "" "$(cat "$T/err")"
grep -q "^breakwater\[[0-9]*\]: debug: connect 127.0.0.1:$PORT -> default" "$T/bw.log" ||
    fail "no debug line in the log file: $(cat "$T/bw.log")"

# --- log = FILE where FILE is a symbolic link: refused (O_NOFOLLOW), the link's
# target stays untouched, one clear line says so on stderr and the lines go there.
: >"$T/victim"
ln -s "$T/victim" "$T/bw-link.log"
sed "s|^log = .*|log = $T/bw-link.log|" "$T/logfile.ini" | write_config "$T/loglink.ini"
out=$(BREAKWATER_LOG= BREAKWATER_CONFIG="$T/loglink.ini" shim "$PYTHON3" -c '
import socket, sys
for _ in range(2):
    socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
print("ok")' "$PORT" 2>"$T/err")
assert_eq "program under a symlinked log" ok "$out"
assert_eq "bytes written through the symlink" 0 "$(stat -c %s "$T/victim")"
assert_eq "refusal lines" 1 "$(grep -c "error: log file $T/bw-link.log is a symbolic link (refused); logging to stderr" "$T/err")"
grep -q "^breakwater\[[0-9]*\]: debug: connect 127.0.0.1:$PORT -> default" "$T/err" ||
    fail "log lines did not fall back to stderr: $(head -c 300 "$T/err")"

# --- log = FILE changed by a reload while the program runs: lines before it
# go to the first file, lines after it to the second, none to stderr.
sed "s|^log = .*|log = $T/first.log|" "$T/logfile.ini" | write_config "$T/logmove.ini"
BREAKWATER_LOG= BREAKWATER_CONFIG="$T/logmove.ini" shim "$PYTHON3" - "$PORT" "$T/go2" \
    >"$T/logmove.out" 2>"$T/logmove.err" <<'PY' &
import os, socket, sys, time
port, go = int(sys.argv[1]), sys.argv[2]
socket.create_connection(("127.0.0.1", port)).close()
print("before", flush=True)
for _ in range(200):                 # wait for the new config (at most 20 s)
    if os.path.exists(go): break
    time.sleep(0.1)
time.sleep(1.2)                      # reload is checked at most once a second
socket.create_connection(("127.0.0.1", port)).close()   # notices the change
socket.create_connection(("127.0.0.1", port)).close()   # under the new one
print("after", flush=True)
PY
client=$!
BW_PIDS+=("$client")
for _ in $(seq 100); do grep -q before "$T/logmove.out" && break; sleep 0.1; done
sed "s|^log = .*|log = $T/second.log|" "$T/logfile.ini" >"$T/logmove.new"
swap_config "$T/logmove.new" "$T/logmove.ini" "$T/go2"
wait "$client" || fail "the program whose log moved failed: $(cat "$T/logmove.err")"
assert_eq "program output" "before after" "$(tr '\n' ' ' <"$T/logmove.out" | sed 's/ $//')"
assert_eq "stderr when the log moves" "" "$(cat "$T/logmove.err")"
assert_eq "connect lines in the first file" 1 "$(grep -c ": debug: connect 127.0.0.1:$PORT -> default" "$T/first.log")"
n2=$(grep -c ": debug: connect 127.0.0.1:$PORT -> default" "$T/second.log" 2>/dev/null)
[ "${n2:-0}" -ge 1 ] || fail "no connect line in the second log file after the reload: $(cat "$T/second.log" 2>&1)"

# --- check: exit status and FILE:LINE lines.
rc=0
"$BW_CLI" check "$T/bad-pass.ini" >"$T/out" 2>"$T/err" || rc=$?
assert_eq "check of a bad file" 1 "$rc"
grep -qx "$T/bad-pass.ini:4: error: unknown key 'retires' in \[defaults\]; did you mean 'retries'?" "$T/err" ||
    fail "check output: $(cat "$T/err")"
"$BW_CLI" check "$T/cap.ini" >/dev/null || fail "check of a good file failed"
rc=0
"$BW_CLI" check a b >/dev/null 2>&1 || rc=$?
assert_eq "check usage error" 2 "$rc"
note "on_config_error, passthrough, DISABLE, reload, log file, log file moved by a reload and check verified"
