#!/usr/bin/env python3
"""breaker_checkout.py - a "checkout" client calling several services in turn.

    breaker_checkout.py ROUNDS PAUSE_MS TIMEOUT_S NAME=HOST:PORT...

Each round calls every service once, in the order given: a fresh TCP connection
(socket.create_connection with TIMEOUT_S, so the connect itself is bounded by
the client as a legacy program would do it), then "NAME ROUND\\n" sent and the
echo read back. One line per call on stdout:

    ROUND NAME ok MICROSECONDS AT_MS
    ROUND NAME err ERRNO MICROSECONDS AT_MS

ERRNO is the numeric errno of the failure (0 for a client timeout without one,
-1 for a wrong echo). MICROSECONDS is the wall time of the whole call, AT_MS
the monotonic clock (CLOCK_MONOTONIC, milliseconds) when it began. The first
line is "# pid PID" (the pid breakwater's log lines carry). PAUSE_MS is slept
after each round. The exit status is 0 whatever the calls did.
"""
import os
import socket
import sys
import time


def call(host, port, timeout, payload):
    t0 = time.monotonic()
    at = int(t0 * 1000)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        res = "ok" if got == payload else "err -1"
    except OSError as e:
        res = "err %d" % (e.errno or 0)
    return res, int((time.monotonic() - t0) * 1e6), at


def main():
    rounds, pause_ms, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    print("# pid %d" % os.getpid(), flush=True)
    services = []
    for spec in sys.argv[4:]:
        name, addr = spec.split("=", 1)
        host, port = addr.rsplit(":", 1)
        services.append((name, host.strip("[]"), int(port)))
    for r in range(1, rounds + 1):
        for name, host, port in services:
            res, us, at = call(host, port, timeout, ("%s %d\n" % (name, r)).encode())
            print("%d %s %s %d %d" % (r, name, res, us, at), flush=True)
        time.sleep(pause_ms / 1000.0)


if __name__ == "__main__":
    main()
