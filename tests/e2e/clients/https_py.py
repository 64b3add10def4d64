#!/usr/bin/env python3
"""https_py.py CAFILE|- URL [POST_BODY] - one HTTPS request with urllib.

Prints the response body (an error status as "status N"). A failed connect
or handshake prints "error CLASS" and exits 3. CAFILE "-": the system's
trust store (a test certificate is then rejected).
"""
import ssl
import sys
import urllib.error
import urllib.request

cafile, url = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=None if cafile == "-" else cafile)
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
try:
    r = urllib.request.urlopen(urllib.request.Request(url, data=data), context=ctx, timeout=30)
    sys.stdout.buffer.write(r.read())
except urllib.error.HTTPError as e:
    print("status", e.code)
except (urllib.error.URLError, OSError) as e:
    reason = getattr(e, "reason", e)
    print("error", type(reason).__name__)
    sys.exit(3)
