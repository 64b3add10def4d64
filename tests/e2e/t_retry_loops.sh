#!/bin/bash
# t_retry_loops.sh - event loops and timeouts get connect retries (issue 12):
# against a server that starts listening 1.5 s after the program is ready,
# with retries = 8 and backoffs of 100 ms doubling to 500 ms (no jitter), each
# of these connects under the shim, and is refused without it:
#   python3 socket.create_connection, blocking and with timeout=5 (echo);
#   asyncio.wait_for(open_connection(), 5) (echo); aiohttp GET (HTTP);
#   node net.connect (echo) and fetch (HTTP); Java's java.net.http.HttpClient.
# Under the shim each row asserts the program's own success (its reply), that
# it waited for the server (connected >= 1 s after it asked), and that
# `breakwater status` counts retries to that very address; without the shim
# it asserts the refusal (the server there is 5 s late, so a slow start of the
# program cannot make that run pass).
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
CL=$RETRY_CLIENTS
command -v node >/dev/null || fail "node missing (tests/deps.sh test installs it)"
command -v java >/dev/null || fail "java missing (tests/deps.sh test installs it)"
"$PYTHON3" -c 'import aiohttp' 2>/dev/null || fail "python3-aiohttp missing (tests/deps.sh test installs it)"
retry_cfg "$T/late.ini" "retries = 8" "backoff_initial_ms = 100" "backoff_max_ms = 500" \
    "jitter = none" "breaker = off" "retry_budget_percent = 0"

# late_server KIND MS: a server on a new port (set in PORT) that starts
# listening MS from now: "echo" (bw_faultd late: refuses until then) or "http"
# (bw_httpd, started then on a port nobody holds meanwhile).
late_server() {
    if [ "$1" = echo ]; then
        start_server PORT "$SUPPORT/bw_faultd" --max-seconds 60 late "$2"
    else
        PORT=$(free_port)
        bg bash -c "sleep $(awk -v m="$2" 'BEGIN { print m / 1000 }'); exec '$SUPPORT/bw_httpd' -p $PORT --max-seconds 60" >/dev/null
    fi
}

# row NAME KIND SHIM(0|1) CMD...: runs CMD (in its arguments @PORTFILE@ becomes
# the path of a port file PF) under the shim with late.ini or without it; once
# CMD has written PF.ready, starts a late KIND server (1.5 s late under the
# shim, 5 s without) and writes its port into PF; leaves CMD's output in
# $T/NAME.out, its stderr in $T/NAME.err, and the port in PORT.
row() {
    local name=$1 kind=$2 pre=$3 i pid; shift 3
    local pf=$T/$name.port
    local cmd=("${@//@PORTFILE@/$pf}")
    if [ "$pre" = 1 ]; then
        BREAKWATER_CONFIG=$T/late.ini LD_PRELOAD=$BW_PRELOAD timeout 60 "${cmd[@]}" >"$T/$name.out" 2>"$T/$name.err" &
    else
        env -u LD_PRELOAD timeout 60 "${cmd[@]}" >"$T/$name.out" 2>"$T/$name.err" &
    fi
    pid=$!
    for ((i = 0; i < 600; i++)); do [ -e "$pf.ready" ] && break; sleep 0.05; done
    [ -e "$pf.ready" ] || { kill $pid; cat "$T/$name.err" >&2; fail "$name: not ready in 30 s"; }
    late_server "$kind" "$([ "$pre" = 1 ] && echo 1500 || echo 5000)"
    echo "$PORT" >"$pf.tmp" && mv "$pf.tmp" "$pf"
    wait $pid
}

# check NAME KIND CMD...: the plain run is refused; the shim run succeeds after
# waiting for the server, with retries to its port in status.
check() {
    local name=$1 kind=$2 want out ms retries; shift 2
    row "$name.plain" "$kind" 0 "$@"
    out=$(cat "$T/$name.plain.out")
    [[ $out =~ ^fail\ .*(ECONNREFUSED|ConnectException) ]] ||
        { cat "$T/$name.plain.err" >&2; fail "$name without the shim: expected a refusal, got '$out'"; }
    row "$name.shim" "$kind" 1 "$@"
    out=$(cat "$T/$name.shim.out")
    want=$([ "$kind" = echo ] && echo ping || echo status=200)
    [[ $out =~ ^ok\ ms=([0-9]+)\ $want$ ]] ||
        { cat "$T/$name.shim.err" >&2; fail "$name under the shim: expected 'ok ms=N $want', got '$out'"; }
    ms=${BASH_REMATCH[1]}
    [ "$ms" -ge 1000 ] || fail "$name under the shim: connected after $ms ms, before the server listened (1500 ms)"
    grep '^breakwater\[' "$T/$name.shim.err" >&2 && fail "$name: the shim logged"
    retries=$(status_sum "$T/late.ini" retries "$PORT")
    [ "$retries" -gt 0 ] || fail "$name under the shim: status shows $retries retries to 127.0.0.1:$PORT"
    note "$name: without the shim '$(cat "$T/$name.plain.out")'; under it '$out', $retries retries"
}

check python-blocking echo "$PYTHON3" "$CL/loops.py" socket 0 @@PORTFILE@
check python-timeout=5 echo "$PYTHON3" "$CL/loops.py" socket 5 @@PORTFILE@
check asyncio echo "$PYTHON3" "$CL/loops.py" asyncio 5 @@PORTFILE@
check aiohttp http "$PYTHON3" "$CL/loops.py" aiohttp 10 @@PORTFILE@
check node-net echo node "$CL/loops_node.js" net @PORTFILE@
check node-fetch http node "$CL/loops_node.js" fetch @PORTFILE@
command -v javac >/dev/null || fail "javac missing (tests/deps.sh test installs it)"
(cd "$T" && javac -d "$T" "$CL/RetryConnect.java") || fail "javac RetryConnect.java failed"
check java-httpclient http java -cp "$T" RetryConnect @PORTFILE@ http
echo ok
