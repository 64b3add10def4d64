#!/bin/bash
# PHP's two network stacks under the shim: the curl extension (libcurl, which
# PHP loads with RTLD_DEEPBIND, so it binds straight to libc unless the shim's
# dlopen hook rebinds it) and PHP's own streams (file_get_contents,
# stream_socket_client). For each, in the php process itself:
#  0. the shim is loaded and says it bound curl.so's imports (debug line);
#  1. retries: a server started only after php's first connect is reached,
#     retries counted in the shared state (without the shim: refused);
#  2. breaker: after 3 refused connects the breaker opens (its log line, from
#     php's pid) and a later php fails at once although a server now listens
#     there (without the shim: served);
#  3. bulkhead: max_connections = 2 lets 2 of 3 concurrent connections through
#     (without the shim: all 3);
#  4. Idempotency-Key: one on each POST, none on GETs (without: none).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/compat_lib.sh"
command -v php >/dev/null || fail "php missing (tests/deps.sh test installs php-cli php-curl)"
php -m | grep -qx curl || fail "php's curl extension missing (php-curl)"
require_shim
PHPC=(php "$(dirname "$0")/clients/php_client.php")
start_server HANG "$SUPPORT/bw_faultd" --max-seconds 60 hang
start_server WEB "$SUPPORT/bw_httpd" -r "$T/record" --max-seconds 60
BRK_C=$(free_port); BRK_S=$(free_port)
# compat_config's "late" section (127.0.0.1, any other port: retries), and:
compat_config
cat >>"$T/bw.ini" <<INI
[destination brk]
host = 127.0.0.1
port = $BRK_C, $BRK_S
retries = 0
breaker_consecutive_failures = 3
breaker_open_ms = 60000
[destination hang]
host = 127.0.0.1
port = $HANG
max_connections = 2
[destination web]
host = 127.0.0.1
port = $WEB
idempotency = on
INI
$BW_CLI check "$T/bw.ini" >/dev/null || fail "config rejected"
# php with the shim and the test config (compat_lib.sh), and without.
sphp() { under "${PHPC[@]}" "$@"; }
nphp() { plain "${PHPC[@]}" "$@"; }

# 0. Loaded into php, curl.so rebound.
BREAKWATER_CONFIG=$T/bw.ini BREAKWATER_LOG=debug LD_PRELOAD=$BW_PRELOAD \
    php -r 'curl_init(); echo getmypid(), "\n";' >"$T/pid" || fail "php -r failed"
line=$(grep "^breakwater\[$(cat "$T/pid")\]: debug: .*/curl.so loaded with RTLD_DEEPBIND: [1-9][0-9]* references" "$T/bw.log") ||
    { cat "$T/bw.log" >&2; fail "php did not log curl.so's rebinding"; }
note "${line#*debug: }"

# 1. Retries.
# (The late servers match section "late": 127.0.0.1, any other port.)
for via in curl stream; do
    P=$(free_port)
    serve_after_connect "$P" "$SUPPORT/bw_faultd" --max-seconds 60 -p "$P" echo
    r=$(sphp $via echo 127.0.0.1 "$P")
    assert_eq "$via: server started after php's first connect, under the shim" "ok hello-late" "$r"
    assert_retried "$P" >/dev/null
    start_server P "$SUPPORT/bw_faultd" --max-seconds 60 late 5000
    r=$(nphp $via echo 127.0.0.1 "$P")
    case $r in "fail 7" | "fail 111") ;; *) fail "$via without the shim, server late: '$r'" ;; esac
done
note "retries: curl and streams reach a server started after their first connect"

# 2. Breaker.
for via in curl stream; do
    [ $via = curl ] && p=$BRK_C || p=$BRK_S
    for i in 1 2 3; do sphp $via get "http://127.0.0.1:$p/x" >>"$T/brk.$via"; done
    pid_line=$(grep -m1 "^breakwater\[[0-9]*\]: warn: brk 127.0.0.1:$p breaker open" "$T/bw.log") ||
        { cat "$T/bw.log" "$T/brk.$via" >&2; fail "$via: no breaker-open line after 3 refused connects"; }
    note "$via: $pid_line"
    start_server UP "$SUPPORT/bw_httpd" -p "$p" --max-seconds 60
    assert_eq "$via: served without the shim" "ok 200" "$(nphp $via get "http://127.0.0.1:$p/status/200" | cut -d' ' -f1,2)"
    r=$(sphp $via get "http://127.0.0.1:$p/status/200")
    case $r in "fail 7" | "fail refused") ;; *) fail "$via: breaker open, yet '$r'" ;; esac
done
note "breaker: opened after 3 failures; later requests refused while a server listens"

# 3. Bulkhead.
for via in curl stream; do
    assert_eq "$via: 3 at once without the shim" "ok,ok,ok" "$(nphp $via hold 3 127.0.0.1 "$HANG")"
    r=$(sphp $via hold 3 127.0.0.1 "$HANG")
    case $r in "fail 7,ok,ok" | "fail 111,ok,ok") ;; *) fail "$via: max_connections = 2 gave '$r'" ;; esac
done
note "bulkhead: 2 of 3 concurrent connections admitted, for curl and streams"

# 4. Idempotency-Key.
for via in curl stream; do
    for run in shim plain; do
        [ $run = shim ] && f=sphp || f=nphp
        assert_eq "$via GET ($run)" "ok 200" "$($f $via get "http://127.0.0.1:$WEB/x/$via/$run" | cut -d' ' -f1,2)"
        assert_eq "$via POST ($run)" "ok 200" "$($f $via post "http://127.0.0.1:$WEB/y/$via/$run" body-$via | cut -d' ' -f1,2)"
    done
done
keys=$(awk -F'\t' '{ n = 0; for (i = 7; i <= NF; i++) if ($i ~ /^Idempotency-Key: /) n++;
                     print $3, $4, n }' "$T/record" | sort | tr '\n' ';')
assert_eq "keys per request" \
    "GET /x/curl/plain 0;GET /x/curl/shim 0;GET /x/stream/plain 0;GET /x/stream/shim 0;POST /y/curl/plain 0;POST /y/curl/shim 1;POST /y/stream/plain 0;POST /y/stream/shim 1;" \
    "$keys"
note "Idempotency-Key: one on each POST under the shim, for curl and streams"
