#!/bin/bash
# t_tls_retry_after.sh - Retry-After inside TLS (issue 16 with issue 15): a
# 503 carrying "Retry-After: 2", read over HTTPS from the plaintext of
# SSL_read (curl), SSL_read_ex (python3) or gnutls_record_recv (wget), opens
# the address's breaker for about 2 s: the next request at once is refused
# by the shim, one after the time goes through. The ordinary rules cannot
# open it (breaker_consecutive_failures = 100). With tls = off the next
# request goes through at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/tls_lib.sh"
start_server BACK "$PYTHON3" "$TLS_HERE/retry_after_server.py"
start_server P "$PYTHON3" "$TLS_HERE/tls_front.py" "$CERT" "$KEY" "$BACK" --max-seconds 200
URL="https://127.0.0.1:$P"

one() { https_status "$1" "$URL$2"; }   # one CLIENT PATH

for cl in curl python wget; do
    tls_config "$T/$cl.ini" "$P" "breaker_http_status = 500-599" "breaker_consecutive_failures = 100" \
        "breaker_open_ms = 30000"
    export BREAKWATER_CONFIG=$T/$cl.ini
    assert_eq "$cl: the 503" 503 "$(shim one $cl /busy 2>>"$T/$cl.err")"
    t0=$EPOCHREALTIME
    assert_eq "$cl: at once after it" refused "$(shim one $cl /ok 2>>"$T/$cl.err")"
    assert_eq "$cl: breaker" open "$(breaker_of "$T/$cl.ini" "$P")"
    got=""
    for ((i = 0; i < 80; i++)); do
        got=$(shim one $cl /ok 2>>"$T/$cl.err")
        [ "$got" = 200 ] && break
        sleep 0.1
    done
    ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
    assert_eq "$cl: after the stated time" 200 "$got"
    [ "$ms" -ge 1500 ] || fail "$cl: through after $ms ms, before the 2 s Retry-After"
    note "$cl: 503 with Retry-After: 2 kept the breaker open for $ms ms"
    rm -f "$T"/breakwater-*
done
unset BREAKWATER_CONFIG

tls_config "$T/off.ini" "$P" "breaker_http_status = 500-599" "breaker_consecutive_failures = 100" "tls = off"
assert_eq "tls = off: 503" 503 "$(BREAKWATER_CONFIG=$T/off.ini shim one curl /busy)"
assert_eq "tls = off: at once after it" 200 "$(BREAKWATER_CONFIG=$T/off.ini shim one curl /ok)"
echo ok
