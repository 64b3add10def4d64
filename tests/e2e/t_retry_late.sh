#!/bin/bash
# t_retry_late.sh - connect retries rescue real programs from a server that
# starts listening 700 ms after them (issue 3), and leave epoll programs alone:
#  - curl, python3 (blocking socket; settimeout, i.e. non-blocking inside
#    connect), java: fail (ECONNREFUSED) without the shim, succeed under it
#    and exchange data with the server; strace shows the retries on one fd;
#  - node (libuv: non-blocking connect, then epoll): fails without the shim;
#    under it the retries run inside libuv's own epoll_wait (issue 12), on
#    the one descriptor libuv registered, and it connects.
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
PY="$RETRY_CLIENTS/retry_connect.py"
LATE_MS=700

# A private config for the local servers, any port (the JVM reads it before
# the server's port is known); 8 retries with backoffs 100, 200, 400, 400...
# ms span well over LATE_MS.
{
    printf '[global]\nstate_dir = %s\n' "$T"
    printf '[destination late]\nhost = 127.0.0.1, ::1\n'
    printf 'retries = 8\nbackoff_initial_ms = 100\nbackoff_max_ms = 400\njitter = none\n'
    printf 'breaker = off\n'
} | write_config "$T/late.ini"
# late [MS]: starts a server listening MS (LATE_MS) late; sets PORT. Runs
# that must fail use a longer delay, so that a slow start of the program
# cannot make them pass.
late() { start_server PORT "$SUPPORT/bw_faultd" --max-seconds 30 late "${1:-$LATE_MS}"; }
# ---- curl. The late server echoes; the request is shaped so that its echo
# reads as an HTTP response ("HTTP/1.1 200 OK ...") whose body is ours.
CURL=(curl -sS --max-time 10 -X HTTP/1.1 --request-target '200 OK' --data-binary hello-late
      -w ' %{http_code} %{time_connect}')
late 5000
env -u LD_PRELOAD "${CURL[@]}" "http://127.0.0.1:$PORT/" >"$T/curl.plain" 2>&1
assert_eq "curl without the shim exits 7 (could not connect)" 7 "$?"
late
traced "$T/late.ini" "$T/curl.st" \
    "${CURL[@]}" "http://127.0.0.1:$PORT/" >"$T/curl.out" 2>"$T/curl.err" ||
    { cat "$T/curl.err" >&2; fail "curl under the shim failed"; }
read -r body code tconn <"$T/curl.out"
assert_eq "curl under the shim: body and status" "hello-late 200" "$body $code"
n=$(conns "$T/curl.st" "$PORT" | wc -l)
[ "$n" -ge 2 ] && [ "$n" -le 9 ] || fail "curl: $n connect() calls, expected 2..9"
same_fd_with_unspec "$T/curl.st" "$PORT" "$n"
note "curl: $n attempts, connected after ${tconn}s (server late by ${LATE_MS} ms)"
awk -v t="$tconn" 'BEGIN { exit !(t >= 0.1) }' || fail "curl connected after ${tconn}s, sooner than one backoff"

# ---- python3, blocking socket and settimeout (non-blocking inside connect).
for mode in blocking timeout=10; do
    late 5000
    env -u LD_PRELOAD "$PYTHON3" "$PY" 127.0.0.1 "$PORT" "$mode" >"$T/py.plain" 2>&1
    assert_eq "python3 $mode without the shim" "fail errno=ECONNREFUSED" "$(sed 's/ ms=.*//' "$T/py.plain")"
    late
    traced "$T/late.ini" "$T/py.st" \
        "$PYTHON3" "$PY" 127.0.0.1 "$PORT" "$mode" >"$T/py.out" 2>"$T/py.err" ||
        { cat "$T/py.out" "$T/py.err" >&2; fail "python3 $mode under the shim failed"; }
    assert_eq "python3 $mode under the shim" "ok echo=ping" "$(sed 's/ ms=[0-9]*//' "$T/py.out")"
    n=$(conns "$T/py.st" "$PORT" | wc -l)
    [ "$n" -ge 2 ] && [ "$n" -le 9 ] || fail "python3 $mode: $n connect() calls, expected 2..9"
    same_fd_with_unspec "$T/py.st" "$PORT" "$n"
    ms=$(sed -E 's/.*ms=([0-9]+).*/\1/' "$T/py.out")
    [ "$ms" -ge 100 ] || fail "python3 $mode connected after $ms ms, sooner than one backoff"
    note "python3 $mode: $n attempts, connected after $ms ms"
done

# ---- java (java.net.Socket). The server starts once the JVM is up.
command -v javac >/dev/null || fail "javac missing (tests/deps.sh test installs it)"
cp "$RETRY_CLIENTS/RetryConnect.java" "$T/" && (cd "$T" && javac RetryConnect.java) || fail "javac failed"
# java_run NAME DELAY ENV...: runs the client with ENV, starts the late server when
# it is ready, and leaves its output in $T/NAME.out.
java_run() {
    local name=$1 delay=$2 i; shift 2
    rm -f "$T/$name.port" "$T/$name.port.ready"
    env "$@" timeout 60 java -cp "$T" RetryConnect "$T/$name.port" >"$T/$name.out" 2>"$T/$name.err" &
    local jpid=$!
    for ((i = 0; i < 600; i++)); do [ -e "$T/$name.port.ready" ] && break; sleep 0.05; done
    [ -e "$T/$name.port.ready" ] || { kill $jpid; fail "java did not start in 30 s"; }
    late "$delay"
    echo "$PORT" >"$T/$name.port.tmp" && mv "$T/$name.port.tmp" "$T/$name.port"
    wait $jpid
}
java_run java_plain 5000 -u LD_PRELOAD
assert_eq "java without the shim" "fail ConnectException: Connection refused" "$(cat "$T/java_plain.out")"
java_run java_shim "$LATE_MS" BREAKWATER_CONFIG="$T/late.ini" LD_PRELOAD="$BW_PRELOAD"
[ "$(cat "$T/java_shim.out")" = "ok echo=ping" ] || { cat "$T/java_shim.out" "$T/java_shim.err" >&2; fail "java under the shim failed"; }
note "$(sed -n "s/^# //p" "$T/java_shim.err")"
retries=$("$BW_CLI" status -c "$T/late.ini" --json | "$PYTHON3" -c '
import json, sys
d = json.load(sys.stdin)
print(sum(a["retries"] for x in d["destinations"] for a in x["addresses"] if a["address"].endswith(":'"$PORT"'")))')
[ "$retries" -ge 1 ] || fail "java: status shows $retries retries to port $PORT"
note "java: $retries retries"

# ---- node: libuv connects non-blocking and waits in epoll_wait; the shim
# hides each refusal from it and retries on the same descriptor in that wait.
command -v node >/dev/null || fail "node missing (tests/deps.sh test installs it)"
NODE_JS='const s = require("net").connect(+process.argv[1], "127.0.0.1");
s.on("connect", () => { console.log("connected"); s.end(); });
s.on("error", e => console.log("error " + e.code));'
late 5000
env -u LD_PRELOAD node -e "$NODE_JS" "$PORT" >"$T/node.plain" 2>&1
assert_eq "node without the shim" "error ECONNREFUSED" "$(cat "$T/node.plain")"
late
traced "$T/late.ini" "$T/node.st" node -e "$NODE_JS" "$PORT" >"$T/node.out" 2>"$T/node.err"
assert_eq "node under the shim" "connected" "$(cat "$T/node.out")"
N=$(conns "$T/node.st" "$PORT" | wc -l)
[ "$N" -ge 2 ] || fail "node: $N connect() calls, expected retries"
same_fd_with_unspec "$T/node.st" "$PORT" "$N"
grep -q '^breakwater\[' "$T/node.err" && { cat "$T/node.err" >&2; fail "node: the shim logged"; }
note "node: connected after $N attempts"
echo "ok"
