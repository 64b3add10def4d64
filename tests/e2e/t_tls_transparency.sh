#!/bin/bash
# t_tls_transparency.sh - HTTPS clients are byte-identical with and without
# the shim while it reads (and, with idempotency, writes) inside their TLS:
# python3 urllib and http.client keep-alive (libssl via _ssl: SSL_read_ex,
# SSL_write_ex), curl --http1.1 (libssl through curl's own BIO: SSL_read,
# SSL_write) and wget (GnuTLS), five modes each (lib.sh run_modes), 2 MB
# downloads and POSTs. The recording server sees each client's requests.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/tls_lib.sh"

tls_server P "$T/rec.tsv"
URL="https://127.0.0.1:$P"
tls_config "$T/bw.ini" "$P" "breaker_http_status = 500-599" "breaker_consecutive_failures = 0" \
    "idempotency = on"
BW_CFG="$T/bw.ini"

run_modes curl-get bash -c "curl -s --http1.1 --cacert '$CERT' '$URL/bytes/2000000' | sha256sum"
run_modes curl-post bash -c "head -c 300000 /dev/zero | curl -s --http1.1 --cacert '$CERT' --data-binary @- '$URL/post'"
run_modes wget-get bash -c "wget -q -O - --ca-certificate='$CERT' '$URL/bytes/2000000' | sha256sum"
run_modes wget-post wget -q -O - --ca-certificate="$CERT" --post-data=hello "$URL/post"
run_modes py-get bash -c "'$PYTHON3' '$TLS_HERE/https_py.py' '$CERT' '$URL/bytes/2000000' | sha256sum"
run_modes py-post "$PYTHON3" "$TLS_HERE/https_py.py" "$CERT" "$URL/post" "some body"
run_modes py-keepalive "$PYTHON3" "$TLS_HERE/https_keepalive.py" "$CERT" "$P"
want=$("$SUPPORT/bw_httpd" --gen 2000000 | sha256sum)
for c in curl wget py; do
    assert_eq "$c: the 2 MB download is what the server sends" "$want" "$(sed -n 1p "$T/$c-get.plain.out")"
done
assert_eq "keep-alive answers" 9 "$(grep -c '^[A-Z]* /' "$T/py-keepalive.plain.out")"
# The reader followed every response, the HEAD's (no body) too: the two runs
# with the config file saw the keep-alive run's 404 and 503 each.
"$BW_CLI" metrics -c "$T/bw.ini" >"$T/metrics"
cls() { sed -n "s/^breakwater_http_responses_total{.*address=\"127.0.0.1:$P\".*class=\"$1\"} //p; s/^breakwater_http_responses_total{.*class=\"$1\".*address=\"127.0.0.1:$P\".*} //p" "$T/metrics" | head -n 1; }
assert_eq "4xx responses read" 2 "$(cls 4xx)"
assert_eq "5xx responses read" 2 "$(cls 5xx)"
note "responses read inside TLS: 2xx $(cls 2xx), 4xx $(cls 4xx), 5xx $(cls 5xx)"

# The libraries' callers bind to the shim's definitions, versioned references
# (OPENSSL_3.0.0, GNUTLS_3_4) included, python's dlopen'ed _ssl too.
binds() {   # binds LABEL CALLER SYMBOL CMD...: CALLER's SYMBOL bound to the shim?
    local l=$1 caller=$2 sym=$3; shift 3
    rm -f "$T/ld.$l".*
    LD_DEBUG=bindings LD_DEBUG_OUTPUT="$T/ld.$l" shim "$@" >/dev/null 2>&1
    cat "$T/ld.$l".* | grep -q "binding file [^ ]*$caller.* to $BW_LIB \[0\]: normal symbol \`$sym'" ||
        fail "$l: $caller's $sym does not bind to the shim"
}
binds py _ssl SSL_write_ex "$PYTHON3" "$TLS_HERE/https_py.py" "$CERT" "$URL/bytes/10"
binds py _ssl SSL_read_ex "$PYTHON3" "$TLS_HERE/https_py.py" "$CERT" "$URL/bytes/10"
binds py _ssl SSL_do_handshake "$PYTHON3" "$TLS_HERE/https_py.py" "$CERT" "$URL/bytes/10"
binds curl libcurl SSL_write curl -s --http1.1 --cacert "$CERT" "$URL/bytes/10"
binds curl libcurl SSL_read curl -s --http1.1 --cacert "$CERT" "$URL/bytes/10"
binds curl libcurl SSL_connect curl -s --http1.1 --cacert "$CERT" "$URL/bytes/10"
binds wget wget gnutls_record_send wget -q -O /dev/null --ca-certificate="$CERT" "$URL/bytes/10"
binds wget wget gnutls_record_recv wget -q -O /dev/null --ca-certificate="$CERT" "$URL/bytes/10"
binds wget wget gnutls_handshake wget -q -O /dev/null --ca-certificate="$CERT" "$URL/bytes/10"
note "python's _ssl, libcurl and wget bind SSL_*/gnutls_* to the shim"
echo ok
