#!/bin/bash
# Property test of Idempotency-Key injection inside TLS (issue 16 stage 3): a
# C client on libssl (clients/tls_prop.c) writes idem_prop's seeded random
# pipelined request streams through SSL_write and SSL_write_ex in random
# splits, on its socket or through a BIO of its own (as curl), with and
# without SSL_MODE_ENABLE_PARTIAL_WRITE and SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
# blocking and non-blocking (SO_SNDBUF 4096 against a slow reader, so
# WANT_WRITE and retries happen). A TLS front relays the plaintext to the raw
# recorder, which must receive the client's stream plus exactly one
# "Idempotency-Key: <uuid4>" line before the blank line of each POST/PATCH
# header block without a key, nothing else (clients/idem_check.py).
# The same through GnuTLS (clients/gnutls_prop.c, gnutls_record_send: one
# record per call, so short returns; GNUTLS_E_AGAIN retried with the same
# arguments). A client that retries with (NULL, 0) instead stops the
# watching of that connection: its stream must still arrive intact (the key
# lines taken out, exactly what it sent).
# TLS_PROP_CONNS scales the runs (default 40 each).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/tls_lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
N=${TLS_PROP_CONNS:-40}
cc -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O2 -o "$T/tls_prop" "$here/clients/tls_prop.c" \
    -lssl -lcrypto || fail "cannot compile tls_prop.c (libssl-dev: tests/deps.sh test)"
cc -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O2 -o "$T/gnutls_prop" "$here/clients/gnutls_prop.c" \
    -lgnutls || fail "cannot compile gnutls_prop.c (libgnutls28-dev: tests/deps.sh test)"

# run LABEL MODE SLOW SEED [CLIENT [RETRY]]: one recorder behind a TLS
# front, one client run, one check.
run() {
    local label=$1 mode=$2 slow=$3 seed=$4 client=${5:-tls_prop} retry=${6:-} rp port
    mkdir -p "$T/$label"
    start_server rp "$PYTHON3" "$here/clients/idem_rec.py" 127.0.0.1 "$T/$label" "$slow" 150
    start_server port "$PYTHON3" "$here/clients/tls_front.py" "$CERT" "$KEY" "$rp" --max-seconds 150
    tls_config "$T/$label.ini" "$port" "idempotency = on"
    BREAKWATER_CONFIG="$T/$label.ini" shim timeout 120 "$T/$client" 127.0.0.1 "$port" "$seed" "$N" \
        "$T/$label" "$mode" $retry >"$T/$label.out" 2>"$T/$label.err" ||
        { cat "$T/$label.err" >&2; fail "$label: client failed"; }
    grep '^breakwater\[' "$T/$label.err" && fail "$label: breakwater logged"
    local res
    if [ "$retry" = null ]; then
        res=$("$PYTHON3" - "$T/$label" "$N" <<'PY'
import re, sys
d, n = sys.argv[1], int(sys.argv[2])
line = re.compile(rb"Idempotency-Key: [0-9a-f-]{36}(\r\n|\n)")
keys = 0
for i in range(1, n + 1):
    recv = open("%s/recv-%d.bin" % (d, i), "rb").read()
    sent = open("%s/sent-%d.bin" % (d, i), "rb").read()
    keys += len(line.findall(recv))
    if line.sub(b"", recv) != sent:
        print("connection %d: stream changed beyond key lines" % i)
        sys.exit(1)
print("checked %d connections intact, %d keys before watching stopped" % (n, keys))
PY
) || fail "$label (seed $seed): $res"
    else
        res=$("$PYTHON3" "$here/clients/idem_check.py" "$T/$label" "$N") || fail "$label (seed $seed): $res"
    fi
    note "$label: $(cat "$T/$label.out"); $res"
}

seed=${TLS_PROP_SEED:-$(date +%s)}
note "seed $seed (TLS_PROP_SEED reproduces a run)"
run block block fast "$seed"
run nonblock nonblock slow $((seed + 1))
grep -q ' want_write [1-9]' "$T/nonblock.out" ||
    fail "no WANT_WRITE seen: the non-blocking run did not exercise retries"
grep -q ' moved [1-9]' "$T/nonblock.out" || fail "no retry from a moved buffer"
grep -q ' partial [1-9]' "$T/nonblock.out" || fail "no partial write seen"
run gnutls-block block fast $((seed + 2)) gnutls_prop same
run gnutls-nonblock nonblock slow $((seed + 3)) gnutls_prop same
grep -q ' again [1-9]' "$T/gnutls-nonblock.out" || fail "no GNUTLS_E_AGAIN seen"
run gnutls-null nonblock slow $((seed + 4)) gnutls_prop null
grep -q ' null [1-9]' "$T/gnutls-null.out" || fail "no (NULL, 0) retry made"
note "idempotency property holds inside TLS over 4 x $N connections"
