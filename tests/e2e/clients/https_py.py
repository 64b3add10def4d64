#!/usr/bin/env python3
"""https_py.py [--status] CAFILE|- URL [POST_BODY] - one HTTPS request with urllib.

Prints the response body (an error status as "status N"); with --status,
only the status code, or "refused" when the connect was refused. A failed
connect or handshake prints "error CLASS" and exits 3. CAFILE "-": the
system's trust store (a test certificate is then rejected).
"""
import ssl
import sys
import urllib.error
import urllib.request

status_only = sys.argv[1] == "--status"
if status_only:
    del sys.argv[1]
cafile, url = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=None if cafile == "-" else cafile)
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
try:
    r = urllib.request.urlopen(urllib.request.Request(url, data=data), context=ctx, timeout=30)
    body = r.read()
    if status_only:
        print(r.status)
    else:
        sys.stdout.buffer.write(body)
except urllib.error.HTTPError as e:
    print(e.code if status_only else "status %d" % e.code)
except (urllib.error.URLError, OSError) as e:
    reason = getattr(e, "reason", e)
    if status_only and isinstance(reason, ConnectionRefusedError):
        print("refused")
    else:
        print("error", type(reason).__name__)
    sys.exit(3)
