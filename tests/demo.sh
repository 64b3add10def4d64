#!/bin/bash
# demo.sh - what `make demo` shows (BUILD = the build directory): a real
# program, curl, against local flaky servers (tests/support/bw_faultd),
#  1. a server that starts listening 0.8 s late: curl fails without
#     breakwater, and succeeds under `breakwater run` thanks to connect retries;
#  2. a dead destination: the circuit breaker opens after failures, the next
#     calls fail fast, and when the server is back a probe closes it.
# Everything runs on 127.0.0.1, in a private temp dir, in about 15 s, and
# nothing is left running.
set -u
: "${BUILD:?BUILD must point at the build directory}"
BW="$BUILD/breakwater"
FAULTD="$BUILD/tests/support/bw_faultd"
for f in "$BW" "$BUILD/libbreakwater.so" "$FAULTD"; do
    [ -e "$f" ] || { echo "demo: $f is not built (run make)" >&2; exit 1; }
done
if ! command -v curl >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "demo: installing curl"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null 2>&1; } ||
            { echo "demo: apt-get install -y curl failed" >&2; exit 1; }
    else
        echo "demo: curl is missing; run as root:" >&2
        echo "  apt-get install -y curl" >&2
        exit 1
    fi
fi

D=$(mktemp -d /tmp/breakwater-demo.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD= PLAIN=; fi
say() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }
msg() { printf '   %s\n' "$*"; }
# shown FILE: the lines breakwater printed, indented.
shown() { sed -n 's/^\(breakwater\[[0-9]*\]: .*\)/   | \1/p' "$1"; }
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

# server VAR MODE...: starts bw_faultd MODE in the background; VAR = its port.
server() {
    local var=$1 out="$D/server.$RANDOM" i p=""; shift
    "$FAULTD" --max-seconds 60 "$@" >"$out" &
    PIDS+=($!)
    for ((i = 0; i < 200; i++)); do
        p=$(sed -n '1s/^port \([0-9][0-9]*\)$/\1/p' "$out")
        [ -n "$p" ] && break
        sleep 0.05
    done
    [ -n "$p" ] || { echo "demo: bw_faultd did not start" >&2; exit 1; }
    printf -v "$var" '%s' "$p"
}

# The late server echoes what it receives. curl's request is shaped so that
# its echo reads as an HTTP response ("HTTP/1.1 200 OK ..."), so curl prints
# back the message it sent.
CURL=(curl -s --max-time 10 -X HTTP/1.1 --request-target '200 OK')

say "1. A server that comes up 0.8 s after its client"
server WEB late 800
msg "bw_faultd late 800 on 127.0.0.1:$WEB: refuses connections for 0.8 s, then echoes."
msg "\$ curl http://127.0.0.1:$WEB/            (without breakwater)"
t0=$EPOCHREALTIME
"${CURL[@]}" --data-binary 'hello' "http://127.0.0.1:$WEB/" >"$D/plain.out" 2>&1
rc=$?
msg "curl exit status $rc after $(ms_since "$t0") ms: $([ $rc = 7 ] && echo "connection refused, the server is not up yet")"

server WEB2 late 800
cat >"$D/demo.ini" <<EOF
[global]
log_level = info
state_dir = $D

; the late web server: up to 6 retries, backoff 100, 200, 400, 400 ... ms
[destination web]
host = 127.0.0.1
port = $WEB2
retries = 6
backoff_initial_ms = 100
backoff_max_ms = 400
jitter = none
EOF
chmod 600 "$D/demo.ini"
msg ""
msg "A fresh late server on port $WEB2, and this config ($D/demo.ini):"
sed -n '/^\[destination web\]/,$p' "$D/demo.ini" | sed 's/^/     /'
msg "\$ breakwater run -c demo.ini -- curl http://127.0.0.1:$WEB2/"
t0=$EPOCHREALTIME
"$BW" run -c "$D/demo.ini" -- "${CURL[@]}" --data-binary 'hello from curl, through breakwater' \
    -w '\n%{time_connect}' "http://127.0.0.1:$WEB2/" >"$D/web.out" 2>"$D/web.err"
rc=$?
took=$(ms_since "$t0")
msg "curl exit status $rc after $took ms; it printed: $(head -n 1 "$D/web.out")"
msg "its connect() returned after $(tail -n 1 "$D/web.out") s: the shim retried the refused attempts"
msg "on curl's own socket until the server listened (info level logs no retry; the"
msg "shared counters show them):"
msg "\$ breakwater status -c demo.ini"
"$BW" status -c "$D/demo.ini" | sed -n "/:$WEB2 /s/^ */     /p"
shown "$D/web.err"
web_rc=$rc
[ $web_rc = 0 ] || echo "demo: curl under breakwater failed (exit $rc)" >&2

say "2. A dead destination and the circuit breaker"
server INV late 5000
cat >>"$D/demo.ini" <<EOF

; a service that is down for 5 s: open the breaker after 3 failed attempts
[destination inventory]
host = 127.0.0.1
port = $INV
retries = 2
backoff_initial_ms = 100
jitter = none
breaker_consecutive_failures = 3
breaker_open_ms = 2000
EOF
sed -n '/^\[destination inventory\]/,$p' "$D/demo.ini" | sed 's/^/     /'
msg "bw_faultd late 5000 on 127.0.0.1:$INV: down for 5 s. One curl every 0.5 s:"
start=$EPOCHREALTIME
closed=0
for ((i = 1; i <= 24; i++)); do
    t0=$EPOCHREALTIME
    "$BW" run -c "$D/demo.ini" -- "${CURL[@]}" --data-binary "order $i" \
        "http://127.0.0.1:$INV/" >"$D/inv.out" 2>"$D/inv.err"
    rc=$?
    took=$(ms_since "$t0")
    at=$(awk -v a="$start" -v b="$t0" 'BEGIN { printf "%4.1f", b - a }')
    if [ $rc = 0 ]; then
        what="ok: $(cat "$D/inv.out")"
    elif grep -q 'probe failed' "$D/inv.err"; then
        what="failed: the breaker's probe was refused, it opens again for longer"
    elif grep -q 'rejected: breaker open' "$D/inv.err"; then
        what="failed fast: rejected by the open breaker"
    else
        what="failed: connection refused (exit $rc)"
    fi
    printf '   t=%ss  call %2d  %5d ms  %s\n' "$at" "$i" "$took" "$what"
    shown "$D/inv.err"
    if [ $rc = 0 ]; then
        closed=$((closed + 1))
        [ $closed -ge 2 ] && break
    fi
    sleep 0.5
done
msg ""
msg "\$ breakwater status -c demo.ini"
"$BW" status -c "$D/demo.ini" | sed -n "/^inventory/,\$p" | sed 's/^/     /'
[ $closed -ge 1 ] || echo "demo: the breaker never let a call through again" >&2

[ $web_rc = 0 ] && [ $closed -ge 1 ] || exit 1
say "Without breakwater, curl failed on the late server; with it, curl got through."
