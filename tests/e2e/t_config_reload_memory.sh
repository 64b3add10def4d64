#!/bin/bash
# Config reload frees old configs (issue 13, item 10): a program that sees its
# 4,000-section config reloaded 8 times keeps a flat RSS (before the fix each
# reload of such a file added about 5 MB), a connection made under the first
# config keeps working by that config's policy across all reloads (it is kept
# while the connection is open: tests/sanitize.sh runs this test under ASan,
# which would catch it freed early), and every reload reports how long it held up the connect that ran it.
. "$(dirname "$0")/lib.sh"
require_shim
start_server P "$SUPPORT/bw_faultd" --max-seconds 200 echo
mkdir -m 700 "$T/st"
cat >"$T/gen.py" <<'PY'
import sys
def config(n, port, tag, sdir):
    out = ["[global]", "state_dir = " + sdir, "[destination echo]", "host = 127.0.0.1",
           "port = " + port, "idempotency = on"]
    for i in range(n):
        out += ["[destination d%s_%d]" % (tag, i), "host = h%d.%s.example" % (i, tag),
                "port = %d" % (1000 + i % 50000)]
    return "\n".join(out) + "\n"
# main
print(config(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]))
PY
gen() { "$PYTHON3" "$T/gen.py" 4000 "$P" "$1" "$T/st" >"$T/bw.new" && chmod 600 "$T/bw.new" && mv "$T/bw.new" "$T/bw.ini"; }
gen r0
export GEN_PY="$T/gen.py"
BREAKWATER_LOG=info BREAKWATER_CONFIG="$T/bw.ini" shim timeout 120 "$PYTHON3" - "$P" "$T" 8 <<'PY' >"$T/out" 2>"$T/err" || fail "client failed: $(tail -n 5 "$T/err")"
import os, socket, sys, time
port, tdir, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
exec(open(os.environ["GEN_PY"]).read().split("# main")[0])
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
def connect():
    t = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    return s, (time.monotonic() - t) * 1000
held, _ = connect()             # made under the first config, kept open throughout
for i in range(1, n + 1):
    # Written from here: no subprocess, whose vfork is another issue's business.
    with open(tdir + "/bw.new", "w") as f:
        f.write(config(4000, str(port), "r%d" % i, tdir + "/st"))
    os.chmod(tdir + "/bw.new", 0o600)
    os.rename(tdir + "/bw.new", tdir + "/bw.ini")
    time.sleep(1.05)            # reloads are checked at most once a second
    s, ms = connect()           # this connect runs the reload
    s.close()
    print("reload %d rss_kib %d connect_ms %.1f" % (i, rss(), ms), flush=True)
# Its policy (idempotency on, the methods list) lives in the first config.
held.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
got = b""
while not got.endswith(b"\r\n\r\n"):
    b = held.recv(4096)
    if not b:
        break
    got += b
print("held connection:", "key added" if b"\r\nIdempotency-Key: " in got else repr(got), flush=True)
held.close()
PY
cat "$T/out" | sed 's/^/# /'
assert_eq "reloads logged" 8 "$(grep -c "info: reloaded $T/bw.ini: 4001 destinations in [0-9]* ms" "$T/err")"
assert_eq "connection made under the first config" "held connection: key added" "$(tail -n 1 "$T/out")"
r2=$(awk '$2 == 2 {print $4}' "$T/out"); r8=$(awk '$2 == 8 {print $4}' "$T/out")
grow=$((r8 - r2))
note "RSS after reload 2: $r2 KiB, after reload 8: $r8 KiB (+$grow KiB); slowest reload:" \
     "$(grep -o 'in [0-9]* ms' "$T/err" | sort -k2 -n | tail -n 1)"
# One 4,000-section config is about 5 MB: 6 more reloads leaking would add ~30 MB.
# (A sanitizer run keeps freed memory in quarantine: there the check is ASan's.)
if [ -z "$BW_PRELOAD_PREFIX" ]; then
    [ $grow -lt 4096 ] || fail "RSS grew by $grow KiB over 6 reloads"
fi
