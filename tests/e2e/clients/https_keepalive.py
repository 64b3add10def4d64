#!/usr/bin/env python3
"""https_keepalive.py CAFILE PORT - python3 http.client over HTTPS, keep-alive.

On one HTTPSConnection to 127.0.0.1:PORT: GETs of several sizes, POSTs with
bodies, a HEAD, a 404 and a 503; prints status and sha256 of each answer.
"""
import hashlib
import http.client
import ssl
import sys

ctx = ssl.create_default_context(cafile=sys.argv[1])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[2]), context=ctx, timeout=30)
reqs = [("GET", "/bytes/10", None), ("POST", "/a", b"x" * 100), ("GET", "/bytes/300000", None),
        ("HEAD", "/bytes/5000", None), ("POST", "/b", b"y" * 70000), ("GET", "/status/404", None),
        ("GET", "/status/503", None), ("PATCH", "/c", b"{}"), ("GET", "/bytes/1", None)]
for method, path, body in reqs:
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    print(method, path, r.status, len(data), hashlib.sha256(data).hexdigest()[:16])
c.close()
