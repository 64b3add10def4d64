# state_conn.py - a small client for the state tests. Each argument is one
# connect: HOST:PORT (IPv6 as [::1]:PORT), optionally followed by "*N" to
# repeat it. Prints one line per connect: "ok" after an echo round trip, or
# "err ERRNO". Options: --hold (keep successful connections open until stdin
# closes, after printing "held N"), --until-err ERRNO (stop repeating once
# that errno comes back).
import socket, sys

def parse(arg):
    n = 1
    if "*" in arg:
        arg, k = arg.rsplit("*", 1)
        n = int(k)
    host, port = arg.rsplit(":", 1)
    return host.strip("[]"), int(port), n

def ping(s):
    """One echo round trip on connected socket s: "ok", or what came back."""
    s.sendall(b"ping")
    got = b""
    while len(got) < 4:
        b = s.recv(4 - len(got))
        if not b:
            break
        got += b
    return "ok" if got == b"ping" else "bad echo %r" % got

def main():
    args = sys.argv[1:]
    hold = "--hold" in args
    until = None
    if "--until-err" in args:
        until = int(args[args.index("--until-err") + 1])
    targets = [a for i, a in enumerate(args)
               if not a.startswith("--") and (i == 0 or args[i - 1] != "--until-err")]
    kept = []
    for t in targets:
        host, port, n = parse(t)
        for _ in range(n):
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(10)
            try:
                s.connect((host, port))
                print(ping(s), flush=True)
                if hold:
                    kept.append(s)
                else:
                    s.close()
            except OSError as e:
                print("err", e.errno, flush=True)
                s.close()
                if until is not None and e.errno == until:
                    break
    if hold:
        print("held", len(kept), flush=True)
        sys.stdin.read()
        for s in kept:
            s.close()

if __name__ == "__main__":
    main()
