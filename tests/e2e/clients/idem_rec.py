# idem_rec.py - raw stream recorder for the idempotency property test.
#
#   idem_rec.py HOST OUTDIR [slow] [MAX_SECONDS]
#
# Listens on HOST (127.0.0.1 or ::1), prints "port N", and serves one
# connection at a time: every byte received is saved to OUTDIR/recv-I.bin
# (I counts connections from 1), and the connection is closed after the
# client's EOF, so a client that waits for that EOF keeps the numbering in
# step with its own. "slow" reads in small pieces with pauses and a small
# receive buffer, so a client with a small send buffer sees short writes
# and EAGAIN. Exits by itself after MAX_SECONDS (default 120).
import os, random, socket, sys, time

host, outdir = sys.argv[1], sys.argv[2]
slow = len(sys.argv) > 3 and sys.argv[3] == "slow"
deadline = time.time() + (float(sys.argv[4]) if len(sys.argv) > 4 else 120)
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
ls = socket.socket(fam, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if slow:
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ls.bind((host, 0))
ls.listen(8)
ls.settimeout(1)
print("port", ls.getsockname()[1], flush=True)
rnd = random.Random(7)
n = 0
while time.time() < deadline:
    try:
        c, _ = ls.accept()
    except socket.timeout:
        continue
    n += 1
    c.settimeout(max(1, deadline - time.time()))
    data = bytearray()
    try:
        while True:
            b = c.recv(rnd.choice([1, 100, 2048]) if slow else 1 << 20)
            if not b:
                break
            data += b
            if slow and rnd.random() < 0.3:
                time.sleep(0.001)
    except OSError as e:
        print("recorder: connection", n, "error", e, file=sys.stderr, flush=True)
    with open(os.path.join(outdir, "recv-%d.bin" % n), "wb") as f:
        f.write(data)
    c.close()
