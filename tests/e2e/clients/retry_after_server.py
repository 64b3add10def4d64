#!/usr/bin/env python3
"""retry_after_server.py - an HTTP/1.1 server on 127.0.0.1 for t_retry_after.

    retry_after_server.py

Prints "port N" first. GET /busy answers 503 with "Retry-After: 2";
/busydate the same with an HTTP-date 2 s ahead; /slow 429 with
"Retry-After: 2"; /throttle 429 without Retry-After; anything else 200
"ok". Exits after 120 s.
"""
import email.utils
import http.server
import threading
import time


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/busy":
            code, ra = 503, "2"
        elif self.path == "/busydate":
            code, ra = 503, email.utils.formatdate(time.time() + 2, usegmt=True)
        elif self.path == "/slow":
            code, ra = 429, "2"
        elif self.path == "/throttle":
            code, ra = 429, None
        else:
            code, ra = 200, None
        body = b"ok\n" if code == 200 else b"busy\n"
        self.send_response(code)
        if ra:
            self.send_header("Retry-After", ra)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("port %d" % srv.server_address[1], flush=True)
threading.Timer(120, srv.shutdown).start()
srv.serve_forever()
