#!/bin/bash
# socat (TCP client): without the shim a server that is not listening yet
# refuses it; under the shim (start-up line from socat itself) it is retried
# until a server listening 700 ms late accepts, and the bytes come back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/compat_lib.sh"
command -v socat >/dev/null || fail "socat missing (tests/deps.sh test installs it)"
require_shim
compat_config
start_server P "$SUPPORT/bw_faultd" --max-seconds 30 late 5000
printf 'hello-socat' | plain socat -t 2 - "TCP:127.0.0.1:$P" >"$T/plain.out" 2>"$T/plain.err" &&
    fail "socat connected without the shim"
grep -q 'refused' "$T/plain.err" || fail "socat without the shim: $(cat "$T/plain.err")"
start_server P "$SUPPORT/bw_faultd" --max-seconds 30 late 700
out=$(printf 'hello-socat' | under socat -t 2 - "TCP:127.0.0.1:$P") || fail "socat under the shim failed"
assert_eq "echo through socat, server 700 ms late" hello-socat "$out"
pid=$(started_in socat)
retried_from "$pid" "$P"
note "socat (pid $pid): refused without the shim; retried into a server 700 ms late under it"
