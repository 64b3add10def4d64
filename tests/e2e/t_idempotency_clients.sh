#!/bin/bash
# Idempotency-Key injection seen by bw_httpd's record, from real clients under
# the shim (idempotency = on for the server): curl POST gets a UUIDv4 key and
# curl PUT none; python3 http.client on ONE keep-alive connection doing POST,
# POST, GET, PATCH, PUT gets distinct keys on the POSTs and the PATCH only;
# node http.request with a chunked body (two writes, then end) and java
# HttpURLConnection POSTs get keys; every body's sha256 on the server equals the
# client's. A client's own Idempotency-Key stays the only one; uuid7,
# X-Request-Id, sf-string and idempotency_methods = PUT are honoured; a
# TLS-looking or binary first write to an echo server passes through byte for byte.
. "$(dirname "$0")/lib.sh"
CL=$(cd "$(dirname "$0")" && pwd)/clients
command -v curl >/dev/null || fail "curl missing"
command -v node >/dev/null || fail "node missing"
command -v javac >/dev/null || fail "javac missing (tests/deps.sh test installs it)"
require_shim
start_server PORT "$SUPPORT/bw_httpd" -6 -r "$T/record" --max-seconds 200
start_server EPORT "$SUPPORT/bw_faultd" --max-seconds 200 echo
cfg() { local f=$T/$1.ini; shift; dest_config "$f" "$PORT" "idempotency = on" "$@" "[global]" "state_dir = $T"; }
cfg on
cfg v7 "idempotency_key = uuid7"
cfg hdr "idempotency_header = X-Request-Id"
cfg sf "idempotency_format = sf-string"
cfg put "idempotency_methods = PUT"
dest_config "$T/echo.ini" "$EPORT" "idempotency = on" "[global]" "state_dir = $T"

# under CFG CMD...: runs CMD under the shim with config CFG; no breakwater log lines.
under() {
    local c=$1; shift
    BREAKWATER_CONFIG="$T/$c.ini" shim timeout 60 "$@" 2>"$T/err" || { cat "$T/err" >&2; fail "$* failed under the shim"; }
    grep '^breakwater\[' "$T/err" >&2 && fail "$*: breakwater logged"
    return 0
}
# rec TARGET [HEADER]: "METHOD CONN SEQ LEN SHA COUNT VALUES..." of the one request to TARGET.
rec() { "$PYTHON3" "$CL/idem_record.py" "$T/record" "$1" "${2:-Idempotency-Key}" || fail "record of $1"; }
# keyed TARGET METHOD SHA [HEADER [VERSION]]: exactly one valid key; prints its value.
keyed() {
    local r; r=($(rec "$1" "${4:-Idempotency-Key}"))
    assert_eq "$1 method" "$2" "${r[0]}"
    assert_eq "$1 body sha256" "$3" "${r[4]}"
    assert_eq "$1 ${4:-Idempotency-Key} fields" 1 "${r[5]}"
    "$PYTHON3" "$CL/idem_record.py" uuid "${r[6]}" "${5:-4}" || fail "$1: '${r[6]}' is no UUIDv${5:-4}"
    echo "${r[6]}"
}
# unkeyed TARGET METHOD SHA [HEADER]: no such field.
unkeyed() {
    local r; r=($(rec "$1" "${4:-Idempotency-Key}"))
    assert_eq "$1 method" "$2" "${r[0]}"
    assert_eq "$1 body sha256" "$3" "${r[4]}"
    assert_eq "$1 ${4:-Idempotency-Key} fields" 0 "${r[5]}"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
EMPTY=$(printf '' | sha256sum | cut -d' ' -f1)
head -c 70000 /dev/urandom >"$T/body"
B=$(sha "$T/body")

# curl: POST gets a key (IPv4 and ::1), PUT none, a client's own key is kept.
under on curl -sS -o /dev/null --data-binary @"$T/body" "http://127.0.0.1:$PORT/curl-post"
under on curl -sS -o /dev/null -g --data-binary @"$T/body" "http://[::1]:$PORT/curl-post6"
under on curl -sS -o /dev/null -X PUT --data-binary @"$T/body" "http://127.0.0.1:$PORT/curl-put"
under on curl -sS -o /dev/null -H "Idempotency-Key: client-abc-123" --data-binary @"$T/body" \
    "http://127.0.0.1:$PORT/curl-own"
k1=$(keyed /curl-post POST "$B") || exit 1
k2=$(keyed /curl-post6 POST "$B") || exit 1
[ "$k1" != "$k2" ] || fail "curl: the same key twice"
unkeyed /curl-put PUT "$B"
r=($(rec /curl-own)); assert_eq "client's own key" "1 client-abc-123" "${r[5]} ${r[6]}"
note "curl: POST keyed ($k1), ::1 POST keyed, PUT not, the client's own key kept alone"

# python3 http.client: five requests on one keep-alive connection.
cat >"$T/py.py" <<'PY'
import hashlib, http.client, random, sys
rnd = random.Random(5)
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=30)
for i, m in enumerate(["POST", "POST", "GET", "PATCH", "PUT"]):
    body = None if m == "GET" else bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 50000)))
    c.request(m, "/%s%d" % (sys.argv[3], i), body=body)
    r = c.getresponse(); r.read()
    print(m, "/%s%d" % (sys.argv[3], i), hashlib.sha256(body or b"").hexdigest())
PY
under on "$PYTHON3" "$T/py.py" 127.0.0.1 "$PORT" py >"$T/py.out"
keys=()
conn=""
while read -r m t s; do
    r=($(rec "$t"))
    [ -z "$conn" ] && conn=${r[1]}
    assert_eq "$t on the same connection" "$conn" "${r[1]}"
    case $m in
    POST | PATCH) keys+=("$(keyed "$t" "$m" "$s")") || exit 1 ;;
    *) unkeyed "$t" "$m" "$s" ;;
    esac
done <"$T/py.out"
assert_eq "python keys" 3 "${#keys[@]}"
assert_eq "python distinct keys" 3 "$(printf '%s\n' "${keys[@]}" | sort -u | wc -l)"
note "python: POST, POST, GET, PATCH, PUT on connection $conn; 3 distinct keys: ${keys[*]}"

# uuid7: version 7, timestamp within the run.
t0=$(($(date +%s%3N) - 1))
under v7 "$PYTHON3" "$T/py.py" 127.0.0.1 "$PORT" v7 >"$T/v7.out"
t1=$(($(date +%s%3N) + 1))
read -r m t s <"$T/v7.out"
r=($(rec "$t")); assert_eq "uuid7 fields" 1 "${r[5]}"
"$PYTHON3" "$CL/idem_record.py" uuid "${r[6]}" 7 "$t0" "$t1" || fail "uuid7: '${r[6]}' is no UUIDv7 of [$t0, $t1]"
note "uuid7: ${r[6]} within [$t0, $t1] ms"

# X-Request-Id, sf-string, idempotency_methods = PUT.
under hdr curl -sS -o /dev/null --data-binary @"$T/body" "http://127.0.0.1:$PORT/hdr"
keyed /hdr POST "$B" X-Request-Id >/dev/null || exit 1
unkeyed /hdr POST "$B"
under sf curl -sS -o /dev/null --data-binary @"$T/body" "http://127.0.0.1:$PORT/sf"
r=($(rec /sf)); assert_eq "sf-string fields" 1 "${r[5]}"
[[ ${r[6]} =~ ^\"(.*)\"$ ]] || fail "sf-string: '${r[6]}' is not quoted"
"$PYTHON3" "$CL/idem_record.py" uuid "${BASH_REMATCH[1]}" 4 || fail "sf-string: '${r[6]}' holds no UUIDv4"
under put curl -sS -o /dev/null -X PUT --data-binary @"$T/body" "http://127.0.0.1:$PORT/put-put"
under put curl -sS -o /dev/null --data-binary @"$T/body" "http://127.0.0.1:$PORT/put-post"
keyed /put-put PUT "$B" >/dev/null || exit 1
unkeyed /put-post POST "$B"
note "X-Request-Id, sf-string (${r[6]}) and methods = PUT honoured"

# node: chunked body written in two pieces.
cat >"$T/node.js" <<'JS'
const http = require('http'), crypto = require('crypto');
const a = crypto.randomBytes(30000), b = crypto.randomBytes(12345);
const req = http.request({ host: process.argv[2], port: +process.argv[3], path: '/node-chunked',
  method: 'POST' }, (res) => { res.resume(); res.on('end', () =>
  console.log(crypto.createHash('sha256').update(Buffer.concat([a, b])).digest('hex'))); });
req.on('error', (e) => { console.error(e); process.exit(1); });
req.write(a); req.write(b); req.end();
JS
under on node "$T/node.js" 127.0.0.1 "$PORT" >"$T/node.out"
keyed /node-chunked POST "$(cat "$T/node.out")" >/dev/null || exit 1
grep -qi $'\ttransfer-encoding: chunked' "$T/record" || fail "node did not send a chunked body"
note "node: chunked POST keyed, body intact"

# java HttpURLConnection POST.
cat >"$T/IdemPost.java" <<'JAVA'
import java.io.*;
import java.net.*;
import java.security.MessageDigest;
public class IdemPost {
    public static void main(String[] a) throws Exception {
        byte[] body = new byte[123457];
        for (int i = 0; i < body.length; i++) body[i] = (byte) (i * 131 + 17);
        HttpURLConnection p = (HttpURLConnection) new URL(a[0]).openConnection();
        p.setDoOutput(true); p.setRequestMethod("POST");
        p.setConnectTimeout(30000); p.setReadTimeout(30000);
        try (OutputStream o = p.getOutputStream()) { o.write(body); }
        try (InputStream in = p.getInputStream()) { in.readAllBytes(); }
        StringBuilder s = new StringBuilder();
        for (byte x : MessageDigest.getInstance("SHA-256").digest(body)) s.append(String.format("%02x", x));
        System.out.println(s);
    }
}
JAVA
(cd "$T" && javac IdemPost.java) || fail "javac failed"
under on java -cp "$T" IdemPost "http://127.0.0.1:$PORT/java-post" >"$T/java.out"
keyed /java-post POST "$(cat "$T/java.out")" >/dev/null || exit 1
note "java: POST keyed, body intact"

# Echo server: a TLS-looking or binary first write passes through byte for byte;
# a plain POST through the same echo shows its key (the check can see one).
cat >"$T/echo.py" <<'PY'
import socket, sys
port, kind = int(sys.argv[1]), sys.argv[2]
post = b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
data = {"tls": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) * 4 + post,
        "bin": b"\x00\x01PRI * HTTP/2.0\r\n\r\n" + post,
        "http": post}[kind]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
for i in range(0, len(data), 7):
    s.sendall(data[i:i + 7] if i else data[:1])
    if i == 0: s.sendall(data[1:7])
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(65536)
    if not b: break
    got += b
sys.stdout.buffer.write(got)
PY
for k in tls bin; do
    under echo "$PYTHON3" "$T/echo.py" "$EPORT" $k >"$T/echo.$k"
    env -u LD_PRELOAD "$PYTHON3" "$T/echo.py" "$EPORT" $k >"$T/echo.$k.plain"
    cmp -s "$T/echo.$k" "$T/echo.$k.plain" || fail "echo $k: bytes changed under the shim"
done
under echo "$PYTHON3" "$T/echo.py" "$EPORT" http >"$T/echo.http"
grep -aq '^Idempotency-Key: ' "$T/echo.http" || fail "echo: a plain POST got no key"
note "echo: TLS-looking and binary first writes ($(wc -c <"$T/echo.tls") B) byte for byte; a plain POST keyed"

# One blocking sendmsg of 176 buffers (more than one round of the shim takes):
# it still sends them all, POST and PATCH keyed, nothing else changed.
cat >"$T/iov.py" <<'PY'
import re, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
bufs = [b"POST / HTTP/1.1\r\n", b"Content-Length: 100\r\n"] + [b"X-A: 1\r\n"] * 71 + [b"\r\n"] + \
       [b"b"] * 100 + [b"PATCH / HTTP/1.1\r\n", b"\r\n"]
n = s.sendmsg(bufs)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(65536)
    if not b: break
    got += b
keys = re.findall(rb"Idempotency-Key: [0-9a-f-]{36}\r\n", got)
print(len(bufs), "buffers", "sent", n, "of", len(b"".join(bufs)), "keys", len(keys),
      "rest intact", re.sub(rb"Idempotency-Key: [0-9a-f-]{36}\r\n", b"", got) == b"".join(bufs))
PY
under echo "$PYTHON3" "$T/iov.py" "$EPORT" >"$T/iov.out"
assert_eq "sendmsg of 176 buffers" "176 buffers sent 728 of 728 keys 2 rest intact True" "$(cat "$T/iov.out")"
note "a blocking sendmsg of 176 buffers sends all 728 bytes, 2 keys"

# sendfile(2) on a watched connection: a body sent from a file passes unseen
# and the next request is still keyed; request headers sent from a file
# cannot be seen, so watching stops there (no key on what follows); every
# byte arrives as sent.
printf 'hello' >"$T/sf-body"
printf 'POST / HTTP/1.1\r\n\r\n' >"$T/sf-head"
cat >"$T/sf.py" <<'PY'
import re, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
parts = []
def send(b):
    s.sendall(b); parts.append(b)
def send_file(path):
    with open(path, "rb") as f:
        s.sendfile(f); f.seek(0); parts.append(f.read())
send(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
send_file(sys.argv[2])
send(b"PATCH / HTTP/1.1\r\n\r\n")
send_file(sys.argv[3])
send(b"PATCH / HTTP/1.1\r\n\r\n")
s.shutdown(socket.SHUT_WR)
got = b"".join(iter(lambda: s.recv(65536), b""))   # the echo, to its end
key = rb"Idempotency-Key: [0-9a-f-]{36}\r\n"
print("keys", len(re.findall(key, got)), "rest intact", re.sub(key, b"", got) == b"".join(parts))
PY
under echo "$PYTHON3" "$T/sf.py" "$EPORT" "$T/sf-body" "$T/sf-head" >"$T/sf.out"
assert_eq "sendfile on a watched connection" "keys 2 rest intact True" "$(cat "$T/sf.out")"
note "sendfile: a body from a file keeps the stream watched (2 keys), headers from a file end it"
