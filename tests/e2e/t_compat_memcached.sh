#!/bin/bash
# libmemcached's tools against memcached: memccp/memccat store and read back a
# value (identical with and without the shim); memcstat with nothing listening
# fails without the shim; under it (its start-up line, from memcstat itself)
# memcached is started only after memcstat's first connect, which is retried
# until memcached answers (retries counted in the shared state).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/compat_lib.sh"
command -v memcached >/dev/null && command -v memcstat >/dev/null ||
    fail "memcached/libmemcached-tools missing (tests/deps.sh test installs them)"
require_shim
compat_config
user=(); [ "$(id -u)" = 0 ] && user=(-u root)
P=$(free_port)
plain memcstat --servers="127.0.0.1:$P" >"$T/plain.out" 2>&1 &&
    fail "memcstat succeeded with nothing listening"
serve_after_connect "$P" memcached "${user[@]}" -l 127.0.0.1 -p "$P" -U 0
under memcstat --servers="127.0.0.1:$P" >"$T/stat.out" 2>"$T/stat.err" ||
    { cat "$T/stat.err" "$T/bw.log" >&2; fail "memcstat under the shim failed"; }
grep -q 'pid:' "$T/stat.out" || fail "memcstat printed no stats: $(head -c 300 "$T/stat.out")"
pid=$(started_in memcstat)
retried_from "$pid" "$P"
n=$(assert_retried "$P")
head -c 5000 /dev/urandom | base64 -w0 >"$T/value"
under memccp --servers="127.0.0.1:$P" "$T/value" || fail "memccp under the shim failed"
assert_eq "value read back (no shim)" "$(cat "$T/value")" "$(plain memccat --servers="127.0.0.1:$P" value)"
assert_eq "value read back (shim)" "$(cat "$T/value")" "$(under memccat --servers="127.0.0.1:$P" value)"
note "memcstat (pid $pid) retried ($n) into memcached started after its first connect; memccp/memccat round trip intact"
