#!/bin/bash
# Config reload frees old configs (issue 13, item 10): a program that sees its
# 6,000-section config reloaded 12 times keeps a flat RSS (before the fix each
# reload of such a file added about 7 MB), a connection made under the first
# config keeps working by that config's policy across all reloads (it is kept
# while the connection is open: tests/sanitize.sh runs this test under ASan,
# which would catch it freed early). A small file is parsed on the connect
# that notices the change, a large one off the connect path; every reload
# logs how long the parse took.
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
gen() { "$PYTHON3" "$T/gen.py" "$1" "$P" "$2" "$T/st" >"$T/bw.new" && chmod 600 "$T/bw.new" && mv "$T/bw.new" "$T/bw.ini"; }
export GEN_PY="$T/gen.py"
cat >"$T/client.py" <<'PY'
import os, socket, sys, time
port, tdir, sections, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
errlog = sys.argv[5]
exec(open(os.environ["GEN_PY"]).read().split("# main")[0])
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
def connect():
    t = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    return s, (time.monotonic() - t) * 1000
def reloads():
    with open(errlog) as f:
        return sum(1 for line in f if ": info: reloaded " in line)
held, _ = connect()             # made under the first config, kept open throughout
for i in range(1, n + 1):
    # Written from here: no subprocess, whose vfork is another issue's business.
    with open(tdir + "/bw.new", "w") as f:
        f.write(config(sections, str(port), "r%d" % i, tdir + "/st"))
    os.chmod(tdir + "/bw.new", 0o600)
    os.rename(tdir + "/bw.new", tdir + "/bw.ini")
    worst = 0
    for _ in range(30):         # reloads are checked at most once a second, on connect
        time.sleep(1.05)
        s, ms = connect()       # this connect starts the reload (or runs it)
        s.close()
        worst = max(worst, ms)
        time.sleep(0.2)
        if reloads() >= i:
            break
    print("reload %d rss_kib %d connect_ms %.1f" % (i, rss(), worst), flush=True)
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

# run SECTIONS RELOADS: the client under the shim; output in $T/out, log in $T/err.
run() {
    gen "$1" r0
    BREAKWATER_LOG=info BREAKWATER_CONFIG="$T/bw.ini" shim timeout 120 "$PYTHON3" "$T/client.py" \
        "$P" "$T" "$1" "$2" "$T/err" >"$T/out" 2>"$T/err" || fail "client failed: $(tail -n 5 "$T/err")"
    sed 's/^/# /' "$T/out"
    assert_eq "reloads logged ($1 sections)" "$2" \
        "$(grep -c "info: reloaded $T/bw.ini: $(($1 + 1)) destinations in [0-9]* ms" "$T/err")"
    assert_eq "connection made under the first config" "held connection: key added" "$(tail -n 1 "$T/out")"
}

# A small file (60 KB) is parsed by the connect that notices the change.
run 1000 3
assert_eq "small file: reloads off the connect path" 0 "$(grep -c 'off the connect path' "$T/err")"
# 6,000 sections (400 KB; about 7 MB parsed): parsed by a thread of the shim's
# own, off the connect path, and every old config freed. The RSS settles
# after a few reloads (configs in flight, malloc arenas); from reload 6 to 12
# it stays flat, where a leak would add 7 MB per reload.
run 6000 12
assert_eq "large file: reloads off the connect path" 12 "$(grep -c 'ms, off the connect path$' "$T/err")"
r6=$(awk '$2 == 6 {print $4}' "$T/out"); r12=$(awk '$2 == 12 {print $4}' "$T/out")
grow=$((r12 - r6))
note "RSS after reload 6: $r6 KiB, after reload 12: $r12 KiB (+$grow KiB); slowest parse:" \
     "$(grep -o 'in [0-9]* ms' "$T/err" | sort -k2 -n | tail -n 1)," \
     "slowest connect: $(awk '$1 == "reload" {print $6}' "$T/out" | sort -n | tail -n 1) ms"
# (A sanitizer run keeps freed memory in quarantine: there the check is ASan's.)
if [ -z "$BW_PRELOAD_PREFIX" ]; then
    [ $grow -lt 10240 ] || fail "RSS grew by $grow KiB over reloads 6 to 12"
fi
