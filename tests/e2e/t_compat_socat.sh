#!/bin/bash
# socat (TCP client): without the shim a server that is not listening yet
# refuses it; under the shim (start-up line from socat itself) an echo server
# is started only after socat's first connect, which is retried until it
# accepts (retries counted in the shared state); the bytes come back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/compat_lib.sh"
command -v socat >/dev/null || fail "socat missing (tests/deps.sh test installs it)"
require_shim
compat_config
start_server P "$SUPPORT/bw_faultd" --max-seconds 30 late 5000
printf 'hello-socat' | plain socat -t 2 - "TCP:127.0.0.1:$P" >"$T/plain.out" 2>"$T/plain.err" &&
    fail "socat connected without the shim"
grep -q 'refused' "$T/plain.err" || fail "socat without the shim: $(cat "$T/plain.err")"
P=$(free_port)
serve_after_connect "$P" "$SUPPORT/bw_faultd" --max-seconds 30 -p "$P" echo
out=$(printf 'hello-socat' | under socat -t 2 - "TCP:127.0.0.1:$P") || fail "socat under the shim failed"
assert_eq "echo through socat, server started late" hello-socat "$out"
pid=$(started_in socat)
retried_from "$pid" "$P"
n=$(assert_retried "$P")
note "socat (pid $pid): refused without the shim; retried ($n) into a server started after its first connect"
