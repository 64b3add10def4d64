#!/bin/bash
# valgrind.sh - memcheck over the normal build of the shim ($BUILD, as `make
# test` passes it): tests/e2e/clients/vg_client.c (connect, refused with
# retries, a breaker-open rejection, an HTTP POST with idempotency on, dup,
# dup2, fdopen/fclose, a non-blocking connect, pass-through sockets) under
# LD_PRELOAD in three setups (shared state, process state, no config at all),
# curl POSTing by hostname (resolver hooks, idempotency) in the first two, and
# the CLI's `check` of conf/breakwater.ini. Each run is
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# with no suppression file: nothing needed one (glibc's dl and resolver
# internals raise no error in these runs), and none may hide the shim. A
# "definitely lost" block or any memory error fails the run. Prints one line
# per run and a closing "valgrind: N passed, N failed".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${BUILD:=$ROOT/build}"; export BUILD
npass=0; nfail=0
finish() { echo "valgrind: $npass passed, $nfail failed"; [ "$nfail" -eq 0 ]; exit; }
if ! command -v valgrind >/dev/null; then
    echo "FAIL valgrind is not installed (tests/deps.sh test installs it)"; nfail=1; finish
fi
. "$ROOT/tests/e2e/lib.sh"
unset BREAKWATER_CONFIG   # each run sets its own
# lib.sh's fail exits at once; here it also counts and prints the closing line.
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); finish; }
require_shim
[ -x "$SUPPORT/bw_httpd" ] || fail "$SUPPORT/bw_httpd not built"
gcc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -O1 -g -o "$T/vg_client" \
    "$ROOT/tests/e2e/clients/vg_client.c" || fail "cannot build vg_client"

VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --num-callers=30)

# vg LABEL PRELOAD CMD...: CMD under memcheck (at most 120 s) with PRELOAD
# (may be empty) as LD_PRELOAD. Valgrind adds its own preloads to that list for
# the program it runs; the log is kept apart from the program's own stderr so
# that a report cannot hide in it. Sets rc.
vg() {
    local label=$1 pre=$2 start secs; shift 2
    start=$EPOCHREALTIME
    LD_PRELOAD=$pre timeout -k 5 120 "${VG[@]}" --log-file="$T/$label.vg" "$@" \
        >"$T/$label.out" 2>"$T/$label.err"
    rc=$?
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
    if [ $rc -eq "${VG_WANT_RC:-0}" ] && [ ! -s "$T/$label.vg" ]; then
        npass=$((npass + 1)); echo "ok   valgrind $label (${secs}s)"
    else
        nfail=$((nfail + 1)); echo "FAIL valgrind $label (exit $rc, ${secs}s)"
        cat "$T/$label.out" "$T/$label.err" "$T/$label.vg" | head -n 80 | sed 's/^/     | /'
    fi
}

start_server HTTP "$SUPPORT/bw_httpd" -6 -r "$T/record" --max-seconds 200
REFUSED=$(free_port); BROKEN=$(free_port)
for state in shared process; do
    mkdir -p "$T/state-$state"
    write_config "$T/$state.ini" <<INI
[global]
state = $state
state_dir = $T/state-$state

[destination web]
host = localhost, 127.0.0.1, ::1
port = $HTTP
idempotency = on
max_connections = 4

[destination refused]
host = 127.0.0.1
port = $REFUSED
retries = 2
backoff_initial_ms = 1
backoff_max_ms = 2

[destination broken]
host = 127.0.0.1
port = $BROKEN
retries = 0
breaker_consecutive_failures = 2
breaker_errno = ECONNABORTED
breaker_open_ms = 60000
breaker_open_max_ms = 60000
INI
    BREAKWATER_CONFIG=$T/$state.ini vg "client_$state" "$BW_LIB" \
        "$T/vg_client" "$HTTP" "$REFUSED" "$BROKEN"
    BREAKWATER_CONFIG=$T/$state.ini vg "curl_$state" "$BW_LIB" \
        curl -sS --fail -o /dev/null -d hello "http://localhost:$HTTP/vg/3"
done
# The built-in defaults: no section, so the breaker's rejection comes with the
# default ECONNREFUSED, not ECONNABORTED: that one check of the client fails
# on purpose, so exit 1 is expected.
VG_WANT_RC=1 vg client_builtin "$BW_LIB" "$T/vg_client" "$HTTP" "$REFUSED" "$(free_port)"
if [ "$(grep -c '^FAIL' "$T/client_builtin.out")" != 1 ] ||
   ! grep -q '^FAIL rejected by the open breaker' "$T/client_builtin.out"; then
    nfail=$((nfail + 1)); echo "FAIL client_builtin: other checks of the client failed"
    sed 's/^/     | /' "$T/client_builtin.out"
fi

# Every POST of the configured runs (2 by vg_client, 1 by curl, twice) got a key.
keys=$(grep -c $'\tPOST\t/vg/[123]\t.*\tIdempotency-Key: ' "$T/record")
if [ "$keys" = 6 ]; then
    npass=$((npass + 1)); echo "ok   valgrind runs injected 6 Idempotency-Keys"
else
    nfail=$((nfail + 1)); echo "FAIL valgrind runs: $keys Idempotency-Keys recorded, expected 6"
fi

vg cli_check "" "$BW_CLI" check "$ROOT/conf/breakwater.ini"
finish
