#!/bin/bash
# python3 urllib: GET of a 2 MiB body and POSTs of some KiB (Content-Length and
# chunked) to bw_httpd, without and with the shim; results and the server's
# record of each body's length and sha256 must match what was sent.
. "$(dirname "$0")/lib.sh"
start_server PORT "$SUPPORT/bw_httpd" -6 -r "$T/record" --max-seconds 200
BW_CFG=$T/bw.ini; dest_config "$BW_CFG" "$PORT"
head -c 200000 /dev/urandom >"$T/body"
body_sha=$(sha256sum <"$T/body" | cut -d' ' -f1)
cat >"$T/client.py" <<'PY'
# GET /bytes/N and three POSTs; prints what it saw (stable across runs).
import hashlib, json, sys, urllib.request
base, body_file = sys.argv[1], sys.argv[2]
body = open(body_file, "rb").read()
with urllib.request.urlopen(base + "/bytes/2097152", timeout=60) as r:
    print("GET", r.status, hashlib.sha256(r.read()).hexdigest())
def post(path, data, **kw):
    req = urllib.request.Request(base + path, data=data, method="POST", **kw)
    with urllib.request.urlopen(req, timeout=60) as r:
        j = json.loads(r.read())
        print("POST", path, r.status, j["length"], j["sha256"])
post("/post/len", body, headers={"Content-Type": "application/octet-stream"})
post("/post/small", b"a=1&b=2")
post("/post/chunked", iter([body[:70000], body[70000:]]),
     headers={"Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream"})
PY
run_modes py4 "$PYTHON3" "$T/client.py" "http://127.0.0.1:$PORT" "$T/body"
run_modes py6 "$PYTHON3" "$T/client.py" "http://[::1]:$PORT" "$T/body"
want_get=$("$SUPPORT/bw_httpd" --gen 2097152 | sha256sum | cut -d' ' -f1)
assert_eq "GET" "GET 200 $want_get" "$(sed -n 1p "$T/py4.plain.out")"
assert_eq "POST" "POST /post/len 200 200000 $body_sha" "$(sed -n 2p "$T/py4.plain.out")"
assert_eq "POST chunked" "POST /post/chunked 200 200000 $body_sha" "$(sed -n 4p "$T/py4.plain.out")"
# The server's own record: 10 runs x 2 families, each 1 GET + 3 POSTs.
n=$(awk -F'\t' -v s="$body_sha" '$3 == "POST" && $5 == 200000 && $6 == s' "$T/record" | wc -l)
assert_eq "intact 200000-byte POST bodies recorded" 20 "$n"
n=$(awk -F'\t' '$3 == "POST" && $4 == "/post/small" && $5 == 7' "$T/record" | wc -l)
assert_eq "small POST bodies recorded" 10 "$n"
note "server recorded $(wc -l <"$T/record") requests, every body intact"

# Idempotency injection on: bodies and answers must still be intact.
: >"$T/record"
BW_CFG=$T/idem.ini; dest_config "$BW_CFG" "$PORT" "idempotency = on"
BREAKWATER_CONFIG=$BW_CFG shim timeout 120 "$PYTHON3" "$T/client.py" "http://127.0.0.1:$PORT" "$T/body" \
    >"$T/idem.out" 2>"$T/idem.err" || fail "client failed with idempotency on"
head -n 4 "$T/py4.plain.out" | cmp -s - "$T/idem.out" || fail "answers differ with idempotency on"
n=$(awk -F'\t' -v s="$body_sha" '$3 == "POST" && $5 == 200000 && $6 == s' "$T/record" | wc -l)
assert_eq "intact POST bodies with idempotency on" 2 "$n"
# Exactly one key on each of the 3 POSTs, none on the GET.
keys=$(awk -F'\t' '{ n = 0; for (i = 7; i <= NF; i++) if ($i ~ /^Idempotency-Key: /) n++; print $3, n }' \
    "$T/record" | sort | uniq -c | awk '{print $1, $2, $3}' | tr '\n' ';')
assert_eq "keys per method (count method keys)" "1 GET 0;3 POST 1;" "$keys"
note "with idempotency on: one key on each of the 3 POSTs, none on the GET"
