#!/bin/bash
# t_tls_idempotency.sh - idempotency = on inside TLS (issue 16 stage 3): each
# HTTPS POST (and PATCH) of python3 urllib and http.client keep-alive
# (SSL_write_ex), curl --http1.1 (SSL_write through its BIO) and wget
# (gnutls_record_send) reaches the server with exactly one Idempotency-Key
# line, checked on the server side; GET, HEAD and a POST that carries its own
# key get none; the answers are identical without the shim. tls = off adds
# nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/tls_lib.sh"

REC=$T/rec.tsv
tls_server P "$REC"
URL="https://127.0.0.1:$P"
tls_config "$T/on.ini" "$P" "idempotency = on" "idempotency_methods = POST, PATCH"
tls_config "$T/off.ini" "$P" "idempotency = on" "tls = off"

# keys: "METHOD:KEYS" for each request recorded since line $1 (one per line:
# KEYS counts Idempotency-Key header lines, the value after a colon when it is the client's own).
keys() {
    tail -n +"$1" "$REC" | "$PYTHON3" -c '
import sys
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    ks = [h for h in f[6:] if h.lower().startswith("idempotency-key:")]
    own = [k for k in ks if "client-own" in k]
    print("%s:%d%s" % (f[2], len(ks), ":own" if own else ""))' | paste -sd,
}
mark() { echo $(( $(wc -l <"$REC") + 1 )); }

# client CONFIG LABEL: the same requests from every client, under CONFIG.
clients() {
    local cfg=$1 l=$2
    export BREAKWATER_CONFIG=$cfg
    shim curl -s --http1.1 --cacert "$CERT" -d curl-post "$URL/c1" >"$T/$l.curl1"
    shim curl -s --http1.1 --cacert "$CERT" -H 'Idempotency-Key: client-own' -d own "$URL/c2" >"$T/$l.curl2"
    shim curl -s --http1.1 --cacert "$CERT" "$URL/bytes/100" >"$T/$l.curl3"
    shim wget -q -O "$T/$l.wget1" --ca-certificate="$CERT" --post-data=wget-post "$URL/w1"
    shim wget -q -O "$T/$l.wget2" --ca-certificate="$CERT" "$URL/bytes/100"
    shim "$PYTHON3" "$TLS_HERE/https_py.py" "$CERT" "$URL/p1" py-post >"$T/$l.py1"
    shim "$PYTHON3" "$TLS_HERE/https_keepalive.py" "$CERT" "$P" >"$T/$l.py2"
    unset BREAKWATER_CONFIG
}

m=$(mark); clients /dev/null plain 2>"$T/plain.err"
# (BREAKWATER_CONFIG=/dev/null is refused: the shim passes everything through)
plain=$(keys "$m")
m=$(mark); clients "$T/on.ini" on 2>"$T/on.err"
on=$(keys "$m")
m=$(mark); clients "$T/off.ini" off 2>"$T/off.err"
off=$(keys "$m")
ka="GET:0,POST:1,GET:0,HEAD:0,POST:1,GET:0,GET:0,PATCH:1,GET:0"
assert_eq "on: keys per request" "POST:1,POST:1:own,GET:0,POST:1,GET:0,POST:1,$ka" "$on"
assert_eq "plain: keys per request" "POST:0,POST:1:own,GET:0,POST:0,GET:0,POST:0,${ka//:1/:0}" "$plain"
assert_eq "tls = off: keys per request" "$plain" "$off"
for f in curl1 curl2 curl3 wget1 wget2 py1 py2; do
    cmp -s "$T/plain.$f" "$T/on.$f" || fail "$f: answer differs under the shim"
done
assert_eq "on: nothing logged" 0 "$(grep -c '^breakwater\[' "$T/on.err")"
total=$("$BW_CLI" status -c "$T/on.ini" --json | "$PYTHON3" -c '
import json, sys
print(sum(a["idempotency_keys"] for d in json.load(sys.stdin)["destinations"] for a in d["addresses"]))')
assert_eq "idempotency_keys counted" 6 "$total"
note "on: $on"
echo ok
