#!/bin/bash
# t_retry_nonblock.sh - the `nonblocking` key (issue 3), python3 against a
# server that listens 1.5 s late, strace counting the attempts:
#  - wait: a settimeout connect (non-blocking inside CPython) and a plain
#    setblocking(False) connect_ex both complete inside connect(), retried
#    on the same descriptor, and succeed;
#  - native: both see the refusal as without the shim, after one attempt;
#  - auto, no epoll instance: as wait.
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
PY="$RETRY_CLIENTS/retry_connect.py"

for nb in wait native auto; do
    retry_cfg "$T/$nb.ini" "nonblocking = $nb" "retries = 8" "backoff_initial_ms = 100" \
        "backoff_max_ms = 400" "jitter = none" "breaker = off"
done
# run NAME MODE [DELAY]: python3 MODE against a fresh server DELAY (1500) ms late,
# counted from the server's start: python under strace on a busy machine once
# took over 700 ms to reach its connect, found the server listening and made
# one attempt; 1.5 s still leaves at most ~6 attempts (backoff 100-400 ms).
# under the shim with $T/NAME.ini; sets OUT (result without ms=) and N (attempts).
run() {
    local n=$1 m=$2 port
    start_server port "$SUPPORT/bw_faultd" --max-seconds 30 late "${3:-1500}"
    traced "$T/$n.ini" "$T/$n.$m.st" timeout 30 "$PYTHON3" "$PY" 127.0.0.1 "$port" "$m" \
        >"$T/$n.$m.out" 2>"$T/$n.$m.err"
    grep '^breakwater\[' "$T/$n.$m.err" >&2 && fail "$n $m: the shim logged"
    OUT=$(sed 's/ ms=[0-9]*//' "$T/$n.$m.out")
    N=$(conns "$T/$n.$m.st" "$port" | wc -l)
    note "nonblocking = $n, python3 $m: $(cat "$T/$n.$m.out"); $N attempts"
    [ "$N" -ge 1 ] && same_fd_with_unspec "$T/$n.$m.st" "$port" "$N"
}

for m in timeout=10 nonblocking; do
    # Without the shim: refused (runs that must fail get a server 5 s late,
    # so that a slow start cannot make them pass).
    start_server port "$SUPPORT/bw_faultd" --max-seconds 30 late 5000
    env -u LD_PRELOAD "$PYTHON3" "$PY" 127.0.0.1 "$port" "$m" >"$T/plain.out"
    assert_eq "no shim, $m" "fail errno=ECONNREFUSED" "$(sed 's/ ms=.*//' "$T/plain.out")"

    run wait "$m"
    assert_eq "wait, $m" "ok echo=ping" "$OUT"
    [ "$N" -ge 2 ] && [ "$N" -le 9 ] || fail "wait, $m: $N attempts, expected 2..9"

    run native "$m" 5000
    assert_eq "native, $m: as without the shim" "fail errno=ECONNREFUSED" "$OUT"
    assert_eq "native, $m: attempts" 1 "$N"

    run auto "$m"
    assert_eq "auto (no epoll), $m" "ok echo=ping" "$OUT"
    [ "$N" -ge 2 ] && [ "$N" -le 9 ] || fail "auto, $m: $N attempts, expected 2..9"
done
# The native outcome reached the counters (learned from SO_ERROR).
assert_eq "native: status failures" 2 "$("$BW_CLI" status -c "$T/native.ini" --json |
    "$PYTHON3" -c 'import json,sys; d=json.load(sys.stdin); print(sum(a["failures"] for x in d["destinations"] for a in x["addresses"]))')"
echo "ok"
