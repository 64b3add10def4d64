"""retry_connect.py HOST PORT MODE - one python3 connect, for the t_retry_* tests.

MODE: blocking            socket.connect on a blocking socket
      timeout=SECONDS     settimeout first (CPython then connects non-blocking
                          and waits with poll inside connect())
      nonblocking         setblocking(False): connect_ex, then poll and SO_ERROR
Prints "ok ms=N echo=TEXT" (TEXT: what an echo server sent back for "ping") or
"fail errno=NAME ms=N"; exit status 0 on ok, 1 on fail.
"""
import errno
import select
import socket
import sys
import time

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
t0 = time.monotonic()
err = 0
try:
    if mode == "blocking":
        s.connect((host, port))
    elif mode.startswith("timeout="):
        s.settimeout(float(mode.split("=", 1)[1]))
        s.connect((host, port))
    elif mode == "nonblocking":
        s.setblocking(False)
        err = s.connect_ex((host, port))
        if err == errno.EINPROGRESS:
            p = select.poll()
            p.register(s, select.POLLOUT)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if p.poll(10000) else errno.ETIMEDOUT
    else:
        sys.exit("bad mode " + mode)
except socket.timeout:
    err = errno.ETIMEDOUT
except OSError as e:
    err = e.errno
ms = int((time.monotonic() - t0) * 1000)
if err:
    print("fail errno=%s ms=%d" % (errno.errorcode.get(err, str(err)), ms))
    sys.exit(1)
s.setblocking(True)
s.settimeout(5)
s.sendall(b"ping")
got = s.recv(16)
print("ok ms=%d echo=%s" % (ms, got.decode(errors="replace")))
