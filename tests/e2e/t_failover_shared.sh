#!/bin/bash
# t_failover_shared.sh - the name -> addresses table of failover lives in the
# shared state (issue 15: "in the shared state so that every process sees
# it"). In private mount namespaces, process A's /etc/hosts gives svc.bwtest
# two addresses, 127.0.0.2 (nothing listens: refused) and 127.0.0.3 (serves
# HTTP); process B's gives it only the dead 127.0.0.2, as a round-robin DNS
# answer or another host file would. B's connects reach the live sibling
# only through what A resolved:
#  - shared state, A resolved first: B's refused attempt is retried on
#    127.0.0.3 (and, with the dead address's breaker open, its first
#    attempt goes there before any real call);
#  - shared state, nobody else resolved, and state = process after A
#    resolved: B knows no sibling and fails, as without failover;
#  - an IP the program chose itself is never substituted, whatever the
#    shared table knows.
. "$(dirname "$0")/lib.sh"
require_shim
command -v unshare >/dev/null || fail "unshare missing"
PORT=$(free_port)
cat >"$T/srv.py" <<'PY'
import http.server, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H)
threading.Timer(110, srv.shutdown).start()
print("port %s" % sys.argv[2], flush=True)
srv.serve_forever()
PY
start_server live "$PYTHON3" "$T/srv.py" 127.0.0.3 "$PORT"
printf '127.0.0.1 localhost\n127.0.0.2 svc.bwtest\n127.0.0.3 svc.bwtest\n' >"$T/hosts.a"
printf '127.0.0.1 localhost\n127.0.0.2 svc.bwtest\n' >"$T/hosts.b"
cfg() {   # NAME EXTRA...: svc.bwtest and its two addresses, one retry
    local n=$1; shift
    mkdir -p "$T/$n"
    { printf '[global]\nstate_dir = %s/%s\n' "$T" "$n"
      local l; for l in "$@"; do echo "$l"; done
      printf '[destination svc]\nhost = svc.bwtest, 127.0.0.2, 127.0.0.3\nport = %s\n' "$PORT"
      printf 'retries = 1\nbackoff_initial_ms = 50\njitter = none\n'
      printf 'breaker_consecutive_failures = 100\nbreaker_open_ms = 60000\nbreaker_open_max_ms = 60000\n'
    } | write_config "$T/$n.ini"
}
# inns HOSTS CMD...: CMD in a private mount namespace whose /etc/hosts is HOSTS.
inns() {
    local h=$1; shift
    unshare -m bash -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$h" "$@"
}
# resolve_a NAME: process A resolves svc.bwtest (getaddrinfo only, no connect).
resolve_a() {
    inns "$T/hosts.a" env BREAKWATER_CONFIG="$T/$1.ini" LD_PRELOAD="$BW_PRELOAD" "$PYTHON3" -c '
import socket, sys
print(" ".join(a[4][0] for a in socket.getaddrinfo("svc.bwtest", int(sys.argv[1]), socket.AF_INET, socket.SOCK_STREAM)))' "$PORT"
}
# get_b NAME URL: process B fetches URL once (python urllib); prints "ok" or "fail ERROR".
get_b() {
    inns "$T/hosts.b" env BREAKWATER_CONFIG="$T/$1.ini" LD_PRELOAD="$BW_PRELOAD" BREAKWATER_LOG=info \
        "$PYTHON3" -c '
import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())
except Exception as e:
    print("fail", type(getattr(e, "reason", e)).__name__)' "$2" 2>>"$T/$1.err"
}
URL="http://svc.bwtest:$PORT/"
assert_eq "B's hosts file knows only the dead address" "127.0.0.2" \
    "$(inns "$T/hosts.b" getent ahostsv4 svc.bwtest | awk '$2 == "STREAM" { print $1 }')"

# Shared state, nobody else resolved the name: B knows no sibling.
cfg alone
assert_eq "shared, B alone: no sibling known, the call fails" "fail ConnectionRefusedError" "$(get_b alone "$URL")"

# Shared state, A resolved first: B's retry goes to the sibling A learned.
cfg shared
assert_eq "A resolves svc.bwtest" "127.0.0.2 127.0.0.3" "$(resolve_a shared)"
assert_eq "shared, after A: B's call succeeds" ok "$(get_b shared "$URL")"
grep -q "svc 127.0.0.2:$PORT: failover to 127.0.0.3:$PORT, another address of svc.bwtest" "$T/shared.err" ||
    { cat "$T/shared.err" >&2; fail "shared: no failover line from B"; }
nfo=$("$BW_CLI" metrics -c "$T/shared.ini" | sed -n 's/^breakwater_failovers_total{destination="svc"} //p')
assert_eq "shared: one failover counted" 1 "${nfo:-0}"

# ... and with the dead address's breaker open, B's first attempt goes to
# the sibling before any real call: no new failure on 127.0.0.2.
"$BW_CLI" force -c "$T/shared.ini" "127.0.0.2:$PORT" open >/dev/null || fail "force open"
failures() { "$BW_CLI" status -c "$T/shared.ini" --json | "$PYTHON3" -c '
import json, sys
print(sum(a["failures"] + a["retries"] for x in json.load(sys.stdin)["destinations"]
          for a in x["addresses"] if a["address"] == sys.argv[1]))' "127.0.0.2:$PORT"; }
before=$(failures)
for i in 1 2 3; do assert_eq "shared, breaker open: B's call $i" ok "$(get_b shared "$URL")"; done
assert_eq "shared, breaker open: nothing more reached the dead address" "$before" "$(failures)"

# An IP the program chose itself: never substituted, whatever the table knows.
assert_eq "shared, an IP literal: refused by the open breaker" "fail ConnectionRefusedError" \
    "$(get_b shared "http://127.0.0.2:$PORT/")"

# state = process: what A resolved stays in A; B fails as if alone.
cfg private "state = process"
assert_eq "process state: A resolves svc.bwtest" "127.0.0.2 127.0.0.3" "$(resolve_a private)"
assert_eq "process state, after A: B knows no sibling, the call fails" "fail ConnectionRefusedError" \
    "$(get_b private "$URL")"
note "B (only the dead address in its hosts file) reached the live sibling A resolved, through the shared state; not alone, not under state = process"
echo "ok"
