# state_steps.py STEP... - connects step by step, for tests that change the
# state file between connects. A step is HOST:PORT (one connect with an echo
# round trip; prints "ok" or "err ERRNO"), or wait:FILE (waits, at most 30 s,
# until FILE exists; then prints "resumed"), or touch:FILE (creates FILE,
# holding this process's pid).
import os, socket, sys, time

from state_conn import ping

def connect(target):
    host, port = target.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect((host, int(port)))
        return ping(s)
    except OSError as e:
        return "err %d" % e.errno
    finally:
        s.close()

for step in sys.argv[1:]:
    if step.startswith("wait:"):
        deadline = time.monotonic() + 30
        while not os.path.exists(step[5:]) and time.monotonic() < deadline:
            time.sleep(0.02)
        print("resumed" if os.path.exists(step[5:]) else "timed out", flush=True)
    elif step.startswith("touch:"):
        with open(step[6:], "w") as f:
            f.write("%d\n" % os.getpid())
    else:
        print(connect(step), flush=True)
