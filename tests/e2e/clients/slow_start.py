#!/usr/bin/env python3
"""slow_start.py - a breaker that closes again, then ramps (slow_start_ms).

    slow_start.py PORT

PORT has no listener at first: one blocking connect is refused and opens the
breaker (the test's config: breaker_consecutive_failures = 1, retries = 0).
Then this script listens on PORT itself (accepting in a thread), waits out
breaker_open_ms, and connects until the half-open probe closes the breaker.
At 1.0 s and at 2.3 s after that close it makes 200 connects each, as fast as
it can, and prints one line per burst: "at=MS ok=N refused=M".
"""
import errno
import socket
import sys
import threading
import time

port = int(sys.argv[1])


def attempt():
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError as e:
        if e.errno != errno.ECONNREFUSED:
            raise
        return False
    finally:
        s.close()


assert not attempt(), "the port should refuse at first"
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1024)


def accept_loop():
    while True:
        c, _ = srv.accept()
        c.close()


threading.Thread(target=accept_loop, daemon=True).start()
closed = None
for _ in range(100):            # at most 5 s: the probe after breaker_open_ms
    if attempt():
        closed = time.monotonic()
        break
    time.sleep(0.05)
assert closed is not None, "the probe never succeeded"
for at in (1.0, 2.3):
    time.sleep(max(0.0, closed + at - time.monotonic()))
    ok = sum(1 for _ in range(200) if attempt())
    print("at=%d ok=%d refused=%d" % (at * 1000, ok, 200 - ok), flush=True)
