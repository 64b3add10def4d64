#!/bin/bash
# python3 http.client keep-alive: one HTTPConnection, 12 requests in a row
# (GETs of /bytes/N, POSTs with bodies, a 404) on the same socket, with
# idempotency = on in the config. Identical output in all 5 modes; the
# server's record shows each run's 12 requests on one connection (SEQ 1..12);
# under the config, every POST - and nothing else - carried exactly one key.
. "$(dirname "$0")/lib.sh"
start_server PORT "$SUPPORT/bw_httpd" -r "$T/record" --max-seconds 120
BW_CFG=$T/bw.ini; dest_config "$BW_CFG" "$PORT" "idempotency = on"
cat >"$T/ka.py" <<'PY'
# ka.py PORT: 12 requests over one keep-alive connection; prints what it saw.
import hashlib, http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
socks = set()
for i in range(12):
    if i % 3 == 0:
        c.request("GET", "/bytes/%d" % (1000 + 50000 * i))
    elif i % 3 == 1:
        c.request("POST", "/post/%d" % i, body=b"x" * (i * 777),
                  headers={"Content-Type": "application/octet-stream"})
    else:
        c.request("GET", "/status/404")
    r = c.getresponse()
    body = r.read()
    socks.add(id(c.sock))
    print(i, r.status, r.getheader("Content-Length"), hashlib.sha256(body).hexdigest()[:16])
print("sockets used", len(socks))
c.close()
PY
run_modes ka "$PYTHON3" "$T/ka.py" "$PORT"
assert_eq "one socket per run" "sockets used 1" "$(grep '^sockets' "$T/ka.plain.out")"
# 5 runs x 12 requests; every run on its own single connection, SEQ 1..12.
assert_eq "requests recorded" 60 "$(wc -l <"$T/record")"
assert_eq "connections" 5 "$(cut -f1 "$T/record" | sort -u | wc -l)"
bad=$(awk -F'\t' '{ if ($2 != ++seq[$1]) print }' "$T/record" | wc -l)
assert_eq "requests out of sequence" 0 "$bad"
# Keys: the runs 'config' and 'cli_c' (connections 3 and 5) carry one on each POST.
keys=$(awk -F'\t' '{ n = 0; for (i = 7; i <= NF; i++) if ($i ~ /^Idempotency-Key: /) n++;
                     print $1, $3, n }' "$T/record" | sort | uniq -c | awk '{print $1, $2, $3, $4}' | tr '\n' ';')
assert_eq "idempotency keys per (conn, method)" \
    "8 1 GET 0;4 1 POST 0;8 2 GET 0;4 2 POST 0;8 3 GET 0;4 3 POST 1;8 4 GET 0;4 4 POST 0;8 5 GET 0;4 5 POST 1;" \
    "$keys"
note "12 keep-alive requests on one socket in every mode; POSTs keyed under the config"
