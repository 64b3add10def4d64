#!/bin/bash
# An 8 MiB random payload through bw_faultd's echo server, written in chunks of
# random sizes (sendall, send, sendmsg) while a thread reads: the bytes come back
# identical, without the shim and under it in every mode; also over IPv6 and
# through the slice mode (echo written back in 1000-byte pieces).
. "$(dirname "$0")/lib.sh"
start_server PORT "$SUPPORT/bw_faultd" -6 --max-seconds 200 echo
start_server SPORT "$SUPPORT/bw_faultd" --max-seconds 200 slice 1000
BW_CFG=$T/bw.ini; dest_config "$BW_CFG" "$PORT"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$T/payload"
cat >"$T/echo.py" <<'PY'
# Sends the payload in random-sized chunks, reads it back, compares.
import hashlib, random, socket, sys, threading
host, port, path, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
data = open(path, "rb").read()[:size]
s = socket.create_connection((host, port), timeout=60)
got = bytearray()
def reader():
    while len(got) < len(data):
        b = s.recv(random.randint(1, 300000))
        if not b:
            break
        got.extend(b)
t = threading.Thread(target=reader); t.start()
rnd = random.Random(42); i = 0; k = 0
while i < len(data):
    n = rnd.choice([1, 7, 512, 4096, 65536, 300000, rnd.randint(1, 1 << 20)])
    chunk = data[i:i + n]
    if k % 3 == 0: s.sendall(chunk); i += len(chunk)
    elif k % 3 == 1: i += s.send(chunk)
    else: i += s.sendmsg([chunk[:len(chunk) // 2], chunk[len(chunk) // 2:]])
    k += 1
t.join(90)
s.shutdown(socket.SHUT_WR)
rest = s.recv(10)
s.close()
print("sent", len(data), "received", len(got), "identical", bytes(got) == data,
      "eof", rest == b"", hashlib.sha256(got).hexdigest())
PY
run_modes echo4 "$PYTHON3" "$T/echo.py" 127.0.0.1 "$PORT" "$T/payload" 8388608
run_modes echo6 "$PYTHON3" "$T/echo.py" ::1 "$PORT" "$T/payload" 8388608
BW_CFG=$T/slice.ini; dest_config "$BW_CFG" "$SPORT"
run_modes slice "$PYTHON3" "$T/echo.py" 127.0.0.1 "$SPORT" "$T/payload" 1000000
want=$(sha256sum <"$T/payload" | cut -d' ' -f1)
assert_eq "echo result" "sent 8388608 received 8388608 identical True eof True $want" \
    "$(head -n 1 "$T/echo4.plain.out")"
grep -q 'identical True eof True' "$T/slice.plain.out" || fail "slice echo not identical"
note "8 MiB echoed identically over IPv4 and IPv6, 1 MB through 1000-byte slices"
