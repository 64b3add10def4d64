#!/bin/bash
# t_idempotency_keys.sh - every Idempotency-Key the shim makes is a distinct
# UUIDv4, across keep-alive requests, threads, and a fork() child and its
# parent going on from the same point (keys come from a per-thread ChaCha20
# stream keyed by getrandom; a child must draw a new key, not continue its
# parent's stream). python3 writes pipelined POSTs to a raw recorder.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
require_shim
mkdir -p "$T/rec"
start_server PORT "$PYTHON3" "$here/clients/idem_rec.py" 127.0.0.1 "$T/rec" fast 60
dest_config "$T/k.ini" "$PORT" "idempotency = on" "[global]" "state_dir = $T"

cat >"$T/keys.py" <<'PY'
import os, socket, sys, threading
port, n = int(sys.argv[1]), 10
def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /k HTTP/1.1\r\nHost: k\r\nContent-Length: 0\r\n\r\n" * n)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)   # the recorder's EOF: one connection at a time
    s.close()
conn()
pid = os.fork()
if pid == 0:
    conn()
    os._exit(0)
conn()
os.waitpid(pid, 0)
ts = [threading.Thread(target=conn) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("done")
PY
out=$(BREAKWATER_CONFIG="$T/k.ini" shim timeout 60 "$PYTHON3" "$T/keys.py" "$PORT" 2>"$T/keys.err")
assert_eq "client ran" done "$out"
cat "$T"/rec/recv-*.bin | tr -d '\r' | grep -a -o 'Idempotency-Key: [0-9a-f-]*' | sed 's/^Idempotency-Key: //' >"$T/keys"
assert_eq "keys: one per POST" 70 "$(wc -l <"$T/keys")"
assert_eq "keys: all UUIDv4" 70 \
    "$(grep -c -E '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' "$T/keys")"
assert_eq "keys: all distinct" 70 "$(sort -u "$T/keys" | wc -l)"
note "70 POSTs in 7 connections (parent, fork child, 4 threads): 70 distinct UUIDv4 keys"
echo ok
