#!/usr/bin/env python3
"""tls_front.py - a TLS-terminating relay for the HTTPS end-to-end tests.

    tls_front.py CERT KEY BACKEND_PORT [--alpn P1,P2] [--max-seconds S]

Listens on 127.0.0.1 (the kernel picks the port; the first stdout line is
"port N"), completes a TLS handshake with each client, and relays the
plaintext both ways to 127.0.0.1:BACKEND_PORT (bw_httpd records it there), so
the test sees on the server side exactly the bytes the client's TLS library
was given. A failed handshake (a client that rejects the certificate) only
ends that connection. Exits by itself after S seconds (default 120).
"""
import socket
import ssl
import sys
import threading
import time


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (dst,):
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(ctx, conn, backend):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (OSError, ssl.SSLError):
        conn.close()
        return
    try:
        b = socket.create_connection(("127.0.0.1", backend))
    except OSError:
        tls.close()
        return
    t = threading.Thread(target=pump, args=(b, tls), daemon=True)
    t.start()
    pump(tls, b)
    t.join(60)
    tls.close()
    b.close()


def main():
    args = sys.argv[1:]
    cert, key, backend = args[0], args[1], int(args[2])
    alpn, limit = None, 120.0
    i = 3
    while i < len(args):
        if args[i] == "--alpn":
            alpn = args[i + 1].split(",")
        elif args[i] == "--max-seconds":
            limit = float(args[i + 1])
        i += 2
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    print("port", ls.getsockname()[1], flush=True)
    end = time.monotonic() + limit
    ls.settimeout(0.5)
    while time.monotonic() < end:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        conn.settimeout(None)
        threading.Thread(target=serve, args=(ctx, conn, backend), daemon=True).start()


if __name__ == "__main__":
    main()
