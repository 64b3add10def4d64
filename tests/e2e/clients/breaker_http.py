#!/usr/bin/env python3
"""breaker_http.py - an HTTP client making requests on fresh connections.

    breaker_http.py N PORT [METHOD]

Makes N requests METHOD (default GET) /, each on a new http.client connection
to 127.0.0.1:PORT. Prints "# pid PID" first, then one line per request:
"I STATUS" for a response, "I err ERRNO" for a failed connect or request.
The exit status is 0 whatever the requests did.
"""
import http.client
import os
import sys


def main():
    n, port = int(sys.argv[1]), int(sys.argv[2])
    method = sys.argv[3] if len(sys.argv) > 3 else "GET"
    print("# pid %d" % os.getpid(), flush=True)
    for i in range(1, n + 1):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            c.request(method, "/")
            r = c.getresponse()
            r.read()
            print("%d %d" % (i, r.status), flush=True)
        except OSError as e:
            print("%d err %d" % (i, e.errno or 0), flush=True)
        finally:
            c.close()


if __name__ == "__main__":
    main()
