#!/usr/bin/env python3
"""dead_peer.py - a connection whose peer vanishes after the connect.

    dead_peer.py PORT DIR MODE [OWN_USER_TIMEOUT_MS]

Connects (blocking) to 127.0.0.1:PORT, exchanges one echo, writes DIR/ready,
then waits (at most 10 s) for DIR/go, which the test creates once it drops
the peer's packets. MODE "send": sends 4 bytes and blocks in recv; "idle":
blocks in recv without sending (keepalive's case). The socket's own timeout
is 6 s, the guard that stands in for "minutes". With OWN_USER_TIMEOUT_MS the
program sets TCP_USER_TIMEOUT itself first; with DEAD_PEER_DUP set in the
environment it then goes on with a dup of the socket. Prints one line:
    "error ERRNO_NAME ms=M" or "timeout ms=M" or "data ms=M"
"""
import errno
import os
import socket
import sys
import time

port, d, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
if len(sys.argv) > 4:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(sys.argv[4]))
if os.environ.get("DEAD_PEER_DUP"):   # go on with a dup of the socket: the option is the socket's
    copy = os.dup(s.fileno())
    s.close()
    s = socket.socket(fileno=copy)
s.connect(("127.0.0.1", port))
s.sendall(b"ping")
assert s.recv(4) == b"ping"
open(os.path.join(d, "ready"), "w").close()
for _ in range(200):
    if os.path.exists(os.path.join(d, "go")):
        break
    time.sleep(0.05)
s.settimeout(6)
t0 = time.monotonic()
try:
    if mode == "send":
        s.sendall(b"lost")
    got = s.recv(4)
    res = "data"
except OSError as e:
    # socket.timeout is TimeoutError, which an ETIMEDOUT from the kernel is
    # too: only the program's own timeout has no errno.
    if e.errno is None:
        res = "timeout"
    else:
        res = "error " + errno.errorcode.get(e.errno, str(e.errno))
print("%s ms=%d" % (res, (time.monotonic() - t0) * 1000), flush=True)
