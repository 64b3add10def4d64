#!/bin/bash
# t_breaker_io.sh - breaker_io_errors (issue 4): connections reset by the
# server (bw_faultd reset) after a successful connect count as failures. The
# connect is a success and the reset a failure, so with a window of 4 calls and
# breaker_failure_rate = 50 the breaker opens after the second reset (2 of 4
# calls failed) and the next connects are rejected (ECONNABORTED). With
# breaker_io_errors = off the resets are not counted and nothing opens.
. "$(dirname "$0")/lib.sh"
require_shim
CLIENT="$(dirname "$0")/clients/breaker_checkout.py"
# The reset comes 200 ms after the accept, long after the connect completed: a
# reset racing the connect's completion would be a connect failure, counted
# whatever breaker_io_errors says.
start_server RST "$SUPPORT/bw_faultd" --max-seconds 60 reset 200

# cfg NAME on|off
cfg() {
    dest_config "$T/$1.ini" "$RST" "retries = 0" "breaker_consecutive_failures = 0" \
        "breaker_window_size = 4" "breaker_min_calls = 4" "breaker_failure_rate = 50" \
        "breaker_open_ms = 30000" "breaker_errno = ECONNABORTED" "breaker_io_errors = $2"
    printf '[global]\nstate_dir = %s\n' "$T" >>"$T/$1.ini"
    "$BW_CLI" check "$T/$1.ini" >/dev/null 2>&1 || fail "$1.ini is invalid"
}
run() {
    BREAKWATER_CONFIG="$T/$1.ini" shim timeout 30 "$PYTHON3" "$CLIENT" 5 0 5 r=127.0.0.1:$RST \
        >"$T/$1.out" 2>"$T/$1.err" || fail "$1: client failed"
}
# kinds OUT: per call, "reset" (ECONNRESET or EPIPE), "rej" (103) or the errno.
kinds() {
    awk '!/^#/ { k = $3 == "ok" ? "ok" : ($4 == 104 || $4 == 32) ? "reset" : $4 == 103 ? "rej" : $4
                 printf "%s%s", s, k; s = "," }' "$T/$1.out"
}

env -u LD_PRELOAD timeout 30 "$PYTHON3" "$CLIENT" 2 0 5 r=127.0.0.1:$RST >"$T/plain.out" || fail "plain client failed"
assert_eq "plain: the server resets" "reset,reset" "$(kinds plain)"

cfg on on
run on
assert_eq "breaker_io_errors = on" "reset,reset,rej,rej,rej" "$(kinds on)"
pid=$(sed -n 's/^# pid //p' "$T/on.out")
assert_eq "on: one breaker-open line" 1 \
    "$(grep -Ec "^breakwater\\[$pid\\]: warn: testsrv 127\\.0\\.0\\.1:$RST breaker open: 2 of 4 calls failed \\(50% >= 50%\\); next probe in [0-9]+ ms\$" "$T/on.err")"
assert_eq "on: nothing else logged" 1 "$(grep -c '^breakwater\[' "$T/on.err")"

cfg off off
run off
assert_eq "breaker_io_errors = off" "reset,reset,reset,reset,reset" "$(kinds off)"
grep "^breakwater\\[" "$T/off.err" >&2 && fail "off: logged as above"
echo "ok"
