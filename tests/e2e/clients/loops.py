"""loops.py MODE TIMEOUT TARGET - one python3 connection in the style of MODE,
for the t_deadline_* and t_retry_loops* tests (issue 12).

MODE: socket     socket.create_connection(timeout=TIMEOUT) (0: a blocking
                 socket, no timeout), then "ping" to an echo server
      requests   requests.get("http://127.0.0.1:PORT/status/200", timeout=TIMEOUT)
      asyncio    asyncio.wait_for(asyncio.open_connection(...), TIMEOUT), then
                 "ping" to an echo server
      aiohttp    aiohttp GET /status/200 with ClientTimeout(total=TIMEOUT)
TARGET: PORT, or @FILE: write FILE.ready, then wait (at most 30 s) for FILE to
hold the port (so that a late server's delay counts from when we are ready).
Prints "ok ms=N REPLY" or "fail ms=N EXCEPTION[ errno=NAME]", where ms is the
time of the call alone (not of the interpreter's start); exit status 0 or 1.
"""
import errno
import os
import socket
import sys
import time

mode, timeout, target = sys.argv[1], float(sys.argv[2]), sys.argv[3]
if mode == "requests":
    import requests
elif mode == "aiohttp":
    import aiohttp
import asyncio

if target.startswith("@"):
    path = target[1:]
    open(path + ".ready", "w").close()
    for _ in range(3000):
        if os.path.exists(path):
            break
        time.sleep(0.01)
    port = int(open(path).read())
else:
    port = int(target)
url = "http://127.0.0.1:%d/status/200" % port


def sock_call():
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout or None)
    s.settimeout(5)
    s.sendall(b"ping")
    return s.recv(16).decode()


def requests_call():
    r = requests.get(url, timeout=timeout)
    return "status=%d" % r.status_code


async def asyncio_call():
    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    w.write(b"ping")
    got = await asyncio.wait_for(r.read(16), 5)
    w.close()
    return got.decode()


async def aiohttp_call():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s:
        async with s.get(url) as r:
            await r.read()
            return "status=%d" % r.status


calls = {"socket": sock_call, "requests": requests_call,
         "asyncio": lambda: asyncio.run(asyncio_call()),
         "aiohttp": lambda: asyncio.run(aiohttp_call())}
t0 = time.monotonic()
try:
    reply, err = calls[mode](), None
except Exception as e:          # reported, not raised: the test reads the kind
    reply, err = None, e
ms = int((time.monotonic() - t0) * 1000)
if err is None:
    print("ok ms=%d %s" % (ms, reply))
    sys.exit(0)
# The errno of the exception or of what caused it (aiohttp, requests wrap it).
e, no = err, None
while e is not None and no is None:
    no = getattr(e, "errno", None)
    e = e.__cause__ or e.__context__
print("fail ms=%d %s%s" % (ms, type(err).__name__,
                           " errno=" + errno.errorcode.get(no, str(no)) if no else ""))
sys.exit(1)
