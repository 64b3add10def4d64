# http_requests.py get|post URL - one request with python's requests; prints
# "PID STATUS" or "PID fail EXCEPTION".
import os, sys
import requests
op, url = sys.argv[1], sys.argv[2]
try:
    if op == "post":
        r = requests.post(url, data=b"x" * 100, timeout=20)
    else:
        r = requests.get(url, timeout=20)
    print(os.getpid(), r.status_code)
except Exception as e:
    print(os.getpid(), "fail", type(e).__name__)
