#!/bin/bash
# t_tls_handshake.sh - a failed TLS handshake is a failed connect for the
# breaker (tls_handshake_failures, issue 16 stage 1), for each library's
# handshake call: curl (SSL_connect), python3 (SSL_do_handshake), wget
# (gnutls_handshake). Two ways to fail: a certificate the client rejects, and
# plain HTTP on the port (wget: only the latter; it checks certificates after
# the handshake). The TCP connect itself succeeded, so each failed
# connection is one success and one failure in the window: with
# breaker_failure_rate = 50 and breaker_min_calls = 4 two of them open the
# breaker, and the third connect is rejected. For breaker_consecutive_failures
# the failure takes the place of its connect's success: three failed
# handshakes in a row open a breaker set to 3. With tls_handshake_failures =
# off the breaker stays closed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/tls_lib.sh"

tls_server TLSP "$T/rec.tsv"
start_server PLAIN "$SUPPORT/bw_httpd" --max-seconds 200

client() {   # client NAME URL: one request that must fail; prints how (exit status, error)
    case $1 in
    curl) curl -s -o /dev/null --http1.1 "$2"; echo $? ;;
    python) py_https - "$2" | tr ' ' _ ;;
    wget) local out rc   # exit 4 either way: tell a refusal by its message
          out=$(wget -nv -O /dev/null --tries=1 "$2" 2>&1); rc=$?
          printf '%s\n' "$out" >&2
          case $out in *"Connection refused"*) echo refused ;; *) echo $rc ;; esac ;;
    esac
}

# story LABEL CLIENT PORT URL CALL: two handshake failures open the breaker.
story() {
    local label=$1 cl=$2 port=$3 url=$4 call=$5 cfg="$T/$1.ini" rc1 rc2 rc3
    tls_config "$cfg" "$port" "breaker_consecutive_failures = 0" "breaker_min_calls = 4" \
        "breaker_failure_rate = 50" "breaker_open_ms = 60000"
    export BREAKWATER_CONFIG=$cfg BREAKWATER_LOG=info
    rc1=$(shim client "$cl" "$url" 2>>"$T/$label.err")
    rc2=$(shim client "$cl" "$url" 2>>"$T/$label.err")
    assert_eq "$label: breaker after two failed handshakes" open "$(breaker_of "$cfg" "$port")"
    rc3=$(shim client "$cl" "$url" 2>>"$T/$label.err")
    unset BREAKWATER_CONFIG; export BREAKWATER_LOG=warn
    [ "$rc1" != 0 ] && [ "$rc1" = "$rc2" ] || fail "$label: handshakes did not fail alike ($rc1, $rc2)"
    [ "$rc3" != "$rc1" ] || fail "$label: third connect not rejected (exit $rc3, as before)"
    assert_eq "$label: handshake failures logged by $call" 2 \
        "$(grep -c "testsrv 127.0.0.1:$port TLS handshake failed ($call): a failed connect" "$T/$label.err")"
    assert_eq "$label: rejected" 1 "$(grep -c 'rejected: breaker open' "$T/$label.err")"
    note "$label: exits $rc1 $rc2, then $rc3 (rejected by the breaker)"
    rm -f "$T"/breakwater-*
}

# consecutive LABEL CLIENT PORT URL: breaker_consecutive_failures = 3 (the rate
# rule out of reach) opens on the third failed handshake, not before, and the
# fourth connect is rejected. The TCP connects all succeed: unless a handshake
# failure takes the place of its connect's success, the run never passes one.
consecutive() {
    local label=$1 cl=$2 port=$3 url=$4 cfg="$T/$1.ini" states="" rc
    tls_config "$cfg" "$port" "breaker_consecutive_failures = 3" "breaker_min_calls = 100" \
        "breaker_window_size = 100" "breaker_open_ms = 60000"
    export BREAKWATER_CONFIG=$cfg BREAKWATER_LOG=info
    for _ in 1 2 3; do
        shim client "$cl" "$url" >/dev/null 2>>"$T/$label.err"
        states="$states $(breaker_of "$cfg" "$port")"
    done
    rc=$(shim client "$cl" "$url" 2>>"$T/$label.err")
    unset BREAKWATER_CONFIG; export BREAKWATER_LOG=warn
    assert_eq "$label: breaker after each failed handshake" " closed closed open" "$states"
    assert_eq "$label: opened by the run" 1 \
        "$(grep -c 'breaker open: 3 consecutive failures' "$T/$label.err")"
    assert_eq "$label: fourth connect rejected" 1 "$(grep -c 'rejected: breaker open' "$T/$label.err")"
    note "$label: breaker$states after three failed handshakes, then rejected (exit $rc)"
    rm -f "$T"/breakwater-*
}

# The certificate is made here: no client trusts it.
story curl-cert curl "$TLSP" "https://127.0.0.1:$TLSP/" SSL_connect
story python-cert python "$TLSP" "https://127.0.0.1:$TLSP/" SSL_do_handshake
# (wget checks the certificate after a successful gnutls_handshake: that is
# no handshake failure, and is not counted.)
# Plain HTTP on the port: the server answers the ClientHello with a 400.
story curl-plain curl "$PLAIN" "https://127.0.0.1:$PLAIN/" SSL_connect
story python-plain python "$PLAIN" "https://127.0.0.1:$PLAIN/" SSL_do_handshake
story wget-plain wget "$PLAIN" "https://127.0.0.1:$PLAIN/" gnutls_handshake

# Consecutive-failure rules: each library's handshake call.
consecutive curl-run curl "$TLSP" "https://127.0.0.1:$TLSP/"
consecutive python-run python "$TLSP" "https://127.0.0.1:$TLSP/"
consecutive wget-run wget "$PLAIN" "https://127.0.0.1:$PLAIN/"

# Off: the same failures leave the breaker closed.
tls_config "$T/off.ini" "$TLSP" "breaker_consecutive_failures = 0" "breaker_min_calls = 4" \
    "breaker_failure_rate = 50" "tls_handshake_failures = off"
for i in 1 2 3; do
    rc=$(BREAKWATER_CONFIG="$T/off.ini" shim client curl "https://127.0.0.1:$TLSP/" 2>>"$T/off.err")
    assert_eq "off: curl run $i fails on the certificate" 60 "$rc"
done
assert_eq "off: breaker" closed "$(breaker_of "$T/off.ini" "$TLSP")"
assert_eq "off: nothing logged" 0 "$(grep -c '^breakwater\[' "$T/off.err")"

# A trusted certificate: the handshake succeeds, nothing counted against it.
tls_config "$T/ok.ini" "$TLSP" "breaker_consecutive_failures = 1"
for i in 1 2 3; do
    BREAKWATER_CONFIG="$T/ok.ini" shim curl -sf -o /dev/null --http1.1 --cacert "$CERT" \
        "https://127.0.0.1:$TLSP/bytes/10" || fail "ok: curl run $i failed"
done
assert_eq "ok: breaker" closed "$(breaker_of "$T/ok.ini" "$TLSP")"

# A program without libssl or GnuTLS that still reaches the shim's exports
# (by dlsym) gets a clean failure, ENOSYS, and one error line; no crash.
cat >"$T/nolib.c" <<'C'
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    int (*conn)(void *) = (int (*)(void *))dlsym(RTLD_DEFAULT, "SSL_connect");
    int (*hs)(void *) = (int (*)(void *))dlsym(RTLD_DEFAULT, "gnutls_handshake");
    if (!conn || !hs) { puts("not exported"); return 0; }
    errno = 0;
    int a = conn(NULL);
    int ea = errno;
    errno = 0;
    int b = hs(NULL);
    printf("SSL_connect %d %s, gnutls_handshake %d %s\n", a, strerror(ea), b, strerror(errno));
    return 0;
}
C
cc -o "$T/nolib" "$T/nolib.c" -ldl || fail "cannot build nolib.c"
assert_eq "no libssl: plain run" "not exported" "$("$T/nolib")"
assert_eq "no libssl: under the shim" \
    "SSL_connect -1 Function not implemented, gnutls_handshake -59 Function not implemented" \
    "$(shim "$T/nolib" 2>"$T/nolib.err")"
assert_eq "no libssl: error lines" 2 "$(grep -c 'error: .* called, but no .* is loaded: failing the call' "$T/nolib.err")"
echo ok
