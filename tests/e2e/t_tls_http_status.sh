#!/bin/bash
# t_tls_http_status.sh - breaker_http_status inside TLS (issue 16 stage 2):
# the HTTP/1.x response reader runs on the plaintext of SSL_read (curl),
# SSL_read_ex (python3 urllib) and gnutls_record_recv (wget). A server that
# answers 503 over HTTPS opens the breaker after 3 responses with
# breaker_consecutive_failures = 3, and the 4th connect is rejected; without
# the key, with tls = off, or against a server answering 200, it stays
# closed. An HTTP/2 connection (curl --http2 against nginx offering h2 by
# ALPN) is left untouched: not read, said at debug, answers identical.
# Bytes a program looks at with SSL_peek before it reads them are read once:
# a client peeking at each 503 before reading it counts one failure per 503.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/tls_lib.sh"

tls_server P "$T/rec.tsv"
URL="https://127.0.0.1:$P"

one() { https_status "$1" "$URL$2"; }   # one CLIENT PATH

# story LABEL CLIENT PATH EXPECTED CONFIG_LINE...: four GETs, each its own process.
story() {
    local label=$1 cl=$2 path=$3 want=$4 got="" s; shift 4
    tls_config "$T/$label.ini" "$P" "breaker_consecutive_failures = 3" "breaker_open_ms = 60000" "$@"
    for i in 1 2 3 4; do
        s=$(BREAKWATER_CONFIG="$T/$label.ini" shim one "$cl" "$path" 2>>"$T/$label.err")
        got="$got${got:+,}$s"
    done
    assert_eq "$label: answers" "$want" "$got"
    note "$label: $got"
}

for cl in curl python wget; do
    story "$cl-503" $cl /status/503 "503,503,503,refused" "breaker_http_status = 500-599"
    assert_eq "$cl-503: breaker-open line" 1 \
        "$(grep -c "testsrv 127.0.0.1:$P breaker open: 3 consecutive failures" "$T/$cl-503.err")"
    story "$cl-200" $cl /status/200 "200,200,200,200" "breaker_http_status = 500-599"
    rm -f "$T"/breakwater-*
done
story curl-nokey curl /status/503 "503,503,503,503"
story python-off python /status/503 "503,503,503,503" "breaker_http_status = 500-599" "tls = off"
story wget-off wget /status/503 "503,503,503,503" "breaker_http_status = 500-599" "tls = off"
assert_eq "no key / off: nothing logged" 0 "$(cat "$T"/*-nokey.err "$T"/*-off.err | grep -c '^breakwater\[')"

# HTTP/2: nginx offers h2 by ALPN; curl --http2 takes it. Not looked into.
NGINX=/usr/sbin/nginx
[ -x $NGINX ] || fail "nginx missing (tests/deps.sh test installs it)"
NG=$(free_port)
mkdir -p "$T/ng"
cat >"$T/ng/nginx.conf" <<NGX
worker_processes 1;
pid $T/ng/nginx.pid;
error_log $T/ng/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/ng/body; proxy_temp_path $T/ng/proxy;
    fastcgi_temp_path $T/ng/fcgi; uwsgi_temp_path $T/ng/uwsgi; scgi_temp_path $T/ng/scgi;
    server {
        listen 127.0.0.1:$NG ssl http2;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        location / { return 503 "unavailable\n"; }
    }
}
NGX
bg $NGINX -p "$T/ng" -e "$T/ng/error.log" -c "$T/ng/nginx.conf" -g 'daemon off;'
wait_port "$NG"
tls_config "$T/h2.ini" "$NG" "breaker_http_status = 500-599" "breaker_consecutive_failures = 1" \
    "idempotency = on"
H2=(curl -s --http2 --cacert "$CERT" -w '%{http_version} %{http_code}\n' -d x "https://127.0.0.1:$NG/")
BW_CFG="$T/h2.ini" run_modes h2 "${H2[@]}"
assert_eq "h2: the protocol was h2" "2 503" "$(sed -n 2p "$T/h2.plain.out")"
for i in 1 2 3; do
    BREAKWATER_CONFIG="$T/h2.ini" BREAKWATER_LOG=debug shim "${H2[@]}" >>"$T/h2dbg.out" 2>>"$T/h2dbg.err"
done
assert_eq "h2: three 503s answered" 3 "$(grep -c '^2 503$' "$T/h2dbg.out")"
assert_eq "h2: said not looked into" 3 "$(grep -c "testsrv 127.0.0.1:$NG: TLS with ALPN h2: not looked into" "$T/h2dbg.err")"
assert_eq "h2: breaker" closed "$(breaker_of "$T/h2.ini" "$NG")"
# The same server over HTTP/1.1 is read: one 503 opens it.
curl -s --http1.1 --cacert "$CERT" -o /dev/null "https://127.0.0.1:$NG/" &&
    BREAKWATER_CONFIG="$T/h2.ini" shim curl -s --http1.1 --cacert "$CERT" -o /dev/null "https://127.0.0.1:$NG/" 2>/dev/null
assert_eq "h2 server over HTTP/1.1: breaker" open "$(breaker_of "$T/h2.ini" "$NG")"

# SSL_peek: the client peeks at every piece of the response, then reads
# exactly what it peeked. One 503 per run, to a HEAD (a head alone, one TLS
# record: a second reading of it would be a second 503, not a body),
# breaker_consecutive_failures = 2: after one run the breaker is closed (the
# 503 counted once, not twice), after the second open.
cat >"$T/peek.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <openssl/ssl.h>
int main(int argc, char **argv)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { puts("refused"); return 0; }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *s = SSL_new(ctx);
    SSL_set_fd(s, fd);
    if (SSL_connect(s) != 1) { puts("handshake"); return 1; }
    const char req[] = "HEAD /status/503 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    SSL_write(s, req, sizeof req - 1);
    char buf[65536], peek[65536];
    size_t have = 0;
    int peeks = 0;
    for (;;) {
        int n = SSL_peek(s, peek, sizeof peek);
        if (n <= 0)
            break;
        peeks++;
        int r = SSL_read(s, buf + have, n);   /* the same bytes, now taken */
        if (r != n || memcmp(buf + have, peek, (size_t)n) != 0) { puts("peek != read"); return 1; }
        have += (size_t)r;
    }
    printf("%.12s %s\n", buf, peeks > 0 ? "peeked" : "none");
    return 0;
}
C
cc -o "$T/peek" "$T/peek.c" -lssl -lcrypto || fail "cannot build peek.c (libssl-dev)"
tls_config "$T/peek.ini" "$P" "breaker_http_status = 500-599" "breaker_consecutive_failures = 2" \
    "breaker_open_ms = 60000"
assert_eq "peek: first run" "HTTP/1.1 503 peeked" "$(BREAKWATER_CONFIG="$T/peek.ini" shim "$T/peek" "$P")"
assert_eq "peek: breaker after one peeked 503" closed "$(breaker_of "$T/peek.ini" "$P")"
assert_eq "peek: second run" "HTTP/1.1 503 peeked" "$(BREAKWATER_CONFIG="$T/peek.ini" shim "$T/peek" "$P")"
assert_eq "peek: breaker after two" open "$(breaker_of "$T/peek.ini" "$P")"
note "peek: a 503 peeked and read counts once: closed after one, open after two"
echo ok
