#!/bin/bash
# Property test of Idempotency-Key injection through the real shim: a C client
# (clients/idem_prop.c) writes seeded random pipelined request streams in
# random splits (1-byte writes, large writes, writev, sendmsg, send with
# MSG_DONTWAIT), blocking and non-blocking with SO_SNDBUF 4096 against a slow
# reader, over 127.0.0.1 and ::1. The recorder's raw bytes must be the client's
# stream plus exactly one "Idempotency-Key: <uuid4>" line before the blank
# line of each POST/PATCH header block without a key, nothing else
# (clients/idem_check.py). IDEM_PROP_CONNS scales the runs (default 60 each).
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
N=${IDEM_PROP_CONNS:-60}
cc -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O2 -o "$T/idem_prop" "$here/clients/idem_prop.c" ||
    fail "cannot compile idem_prop.c"
require_shim

# run LABEL HOST MODE SLOW SEED: one recorder, one client run, one check.
run() {
    local label=$1 host=$2 mode=$3 slow=$4 seed=$5 port
    mkdir -p "$T/$label"
    start_server port "$PYTHON3" "$here/clients/idem_rec.py" "$host" "$T/$label" "$slow" 100
    dest_config "$T/$label.ini" "$port" "idempotency = on" "[global]" "state_dir = $T"
    BREAKWATER_CONFIG="$T/$label.ini" shim timeout 90 "$T/idem_prop" "$host" "$port" "$seed" "$N" \
        "$T/$label" "$mode" >"$T/$label.out" 2>"$T/$label.err" ||
        { cat "$T/$label.err" >&2; fail "$label: client failed"; }
    grep '^breakwater\[' "$T/$label.err" && fail "$label: breakwater logged"
    local res
    res=$("$PYTHON3" "$here/clients/idem_check.py" "$T/$label" "$N") || fail "$label (seed $seed): $res"
    note "$label: $(cat "$T/$label.out"); $res"
}

seed=${IDEM_PROP_SEED:-$(date +%s)}
note "seed $seed (IDEM_PROP_SEED reproduces a run)"
run v4-block 127.0.0.1 block fast "$seed"
run v4-nonblock 127.0.0.1 nonblock slow $((seed + 1))
run v6-block ::1 block slow $((seed + 2))
run v6-nonblock ::1 nonblock slow $((seed + 3))
grep -q ' eagain [1-9]' "$T"/v4-nonblock.out "$T"/v6-nonblock.out ||
    fail "no EAGAIN seen: the non-blocking runs did not exercise short writes"
note "idempotency property holds over 4 x $N connections"
