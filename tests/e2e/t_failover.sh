#!/bin/bash
# t_failover.sh - routing around a dead address of a name (issue 15). In a
# private mount namespace, /etc/hosts gives svc.bwtest two addresses: the
# first, 127.0.0.2, has no listener (refused); the second, 127.0.0.3, serves
# HTTP. (Both are loopback; the two share as long a prefix with the source
# address, so the resolver keeps the file's order.)
#  - java HttpURLConnection only ever tries the first address: without the
#    shim every call fails; under the shim every call succeeds (the retry
#    goes to the sibling, and once the dead address's breaker is open the
#    first attempt does), with failover = off the calls fail;
#  - curl, python urllib and requests try each address themselves; under the shim,
#    once the breaker is open, their connects no longer reach 127.0.0.2;
#  - an IP the program names itself is never substituted;
#  - 4 addresses of which 3 are dead, failover_max_ejected_percent = 50: at
#    most half of the name's addresses are routed around.
. "$(dirname "$0")/lib.sh"
require_shim
command -v javac >/dev/null || fail "javac missing"
command -v unshare >/dev/null || fail "unshare missing"
PORT=$(free_port)
cp "$(dirname "$0")/clients/Failover.java" "$T/"
(cd "$T" && javac Failover.java) || fail "javac failed"

cat >"$T/srv.py" <<'EOF'
import http.server, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H)
threading.Timer(110, srv.shutdown).start()
print("port %s" % sys.argv[2], flush=True)
srv.serve_forever()
EOF
start_server live "$PYTHON3" "$T/srv.py" 127.0.0.3 "$PORT"
start_server live5 "$PYTHON3" "$T/srv.py" 127.0.0.5 "$PORT"

printf '127.0.0.1 localhost\n127.0.0.2 svc.bwtest\n127.0.0.3 svc.bwtest\n' >"$T/hosts2"
cfg() {   # NAME HOST EXTRA...
    local n=$1 h=$2; shift 2
    mkdir -p "$T/$n"
    { printf '[global]\nstate_dir = %s/%s\n[destination svc]\nhost = %s\nport = %s\n' "$T" "$n" "$h" "$PORT"
      printf 'breaker_consecutive_failures = %s\nbreaker_open_ms = 60000\nbreaker_open_max_ms = 60000\n' "${CONSEC:-2}"
      local l; for l in "$@"; do echo "$l"; done; } | write_config "$T/$n.ini"
}
# inns HOSTS CMD...: CMD in a private mount namespace whose /etc/hosts is HOSTS.
inns() {
    local h=$1; shift
    unshare -m bash -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$h" "$@"
}
# per_addr NAME: "ADDR:attempts/failed" of each address in status: the calls
# its breaker saw (window_calls) and how many of them failed.
per_addr() {
    "$BW_CLI" status -c "$T/$1.ini" --json | "$PYTHON3" -c '
import json, sys
for x in json.load(sys.stdin)["destinations"]:
    for a in sorted(x["addresses"], key=lambda a: a["address"]):
        print("%s:%d/%d" % (a["address"].split(":")[0], a["window_calls"],
                            round(a["failure_rate"] * a["window_calls"])))' | tr '\n' ' '
}
# status_rejected NAME ADDR: rejected_breaker of that address.
status_rejected() {
    "$BW_CLI" status -c "$T/$1.ini" --json | "$PYTHON3" -c '
import json, sys
print(sum(a["rejected_breaker"] for x in json.load(sys.stdin)["destinations"]
          for a in x["addresses"] if a["address"] == sys.argv[1]))' "$2"
}
URL="http://svc.bwtest:$PORT/"
assert_eq "the private hosts file answers in its order" "127.0.0.2 127.0.0.3" \
    "$(inns "$T/hosts2" getent ahostsv4 svc.bwtest | awk '$2 == "STREAM" { printf "%s%s", s, $1; s = " " }')"

# java: without the shim every call fails.
inns "$T/hosts2" env -u LD_PRELOAD java -cp "$T" Failover "$URL" 4 >"$T/java.plain"
assert_eq "java without the shim" 4 "$(grep -c '^fail' "$T/java.plain")"
# ... under the shim every call succeeds.
cfg java svc.bwtest
inns "$T/hosts2" env BREAKWATER_CONFIG="$T/java.ini" LD_PRELOAD="$BW_PRELOAD" BREAKWATER_LOG=info \
    java -cp "$T" Failover "$URL" 6 >"$T/java.out" 2>"$T/java.err"
note "java under the shim: $(tr '\n' ' ' <"$T/java.out"); $(per_addr java)"
assert_eq "java under the shim: every call" 6 "$(grep -c '^ok 200' "$T/java.out")"
# (the JVM's sockets are IPv6: the addresses are IPv4-mapped)
grep -Eq "svc \[::ffff:127\.0\.0\.2\]:$PORT: failover to \[::ffff:127\.0\.0\.3\]:$PORT, another address of svc.bwtest" "$T/java.err" ||
    { cat "$T/java.err" >&2; fail "java: no failover line at info"; }
# Each routing around is counted (breakwater_failovers_total) and is an event.
nfo=$("$BW_CLI" metrics -c "$T/java.ini" | sed -n 's/^breakwater_failovers_total{destination="svc"} //p')
[ "${nfo:-0}" -ge 1 ] || fail "java: breakwater_failovers_total is '${nfo:-}'"
"$BW_CLI" events -c "$T/java.ini" --json | "$PYTHON3" -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin if json.loads(l)["kind"] == "failover"]
assert len(ev) == int(sys.argv[1]), (len(ev), sys.argv[1])
e = ev[0]
assert (e["destination"], e["address"], e["to_address"]) == ("svc", "127.0.0.2:" + sys.argv[2], "127.0.0.3:" + sys.argv[2]), e
' "$nfo" "$PORT" || fail "java: failover events do not match breakwater_failovers_total ($nfo)"
# The dead address saw only the attempts before its breaker opened.
d=$(per_addr java | grep -o "127.0.0.2:[0-9]*/[0-9]*")
assert_eq "java: attempts on the dead address" "127.0.0.2:2/2" "$d"
# getaddrinfo now lists the address with the open breaker last (canonical name kept first).
order=$(inns "$T/hosts2" env BREAKWATER_CONFIG="$T/java.ini" LD_PRELOAD="$BW_PRELOAD" "$PYTHON3" -c '
import socket, sys
r = socket.getaddrinfo("svc.bwtest", int(sys.argv[1]), socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_CANONNAME)
print(" ".join(a[4][0] for a in r), r[0][3])' "$PORT")
assert_eq "getaddrinfo: the open breaker's address last" "127.0.0.3 127.0.0.2 svc.bwtest" "$order"
# ... and with failover = off they fail.
cfg javaoff svc.bwtest "failover = off" "retries = 0"
inns "$T/hosts2" env BREAKWATER_CONFIG="$T/javaoff.ini" LD_PRELOAD="$BW_PRELOAD" \
    java -cp "$T" Failover "$URL" 4 >"$T/javaoff.out" 2>&1
assert_eq "java, failover = off: every call fails" 4 "$(grep -c '^fail' "$T/javaoff.out")"

# curl and python try every address themselves; under the shim, after the
# breaker opened, none of their connects goes to the dead address any more.
cfg curl svc.bwtest "retries = 0"
for i in 1 2 3 4 5 6; do
    inns "$T/hosts2" env BREAKWATER_CONFIG="$T/curl.ini" LD_PRELOAD="$BW_PRELOAD" \
        curl -s --max-time 5 "$URL" >>"$T/curl.out" || fail "curl call $i failed"
done
assert_eq "curl: 6 answers" 6 "$(grep -c '^ok$' "$T/curl.out")"
assert_eq "curl: attempts on the dead address" "127.0.0.2:2/2" "$(per_addr curl | grep -o "127.0.0.2:[0-9]*/[0-9]*")"
cfg py svc.bwtest "retries = 0"
inns "$T/hosts2" env BREAKWATER_CONFIG="$T/py.ini" LD_PRELOAD="$BW_PRELOAD" "$PYTHON3" -c '
import sys, urllib.request
for i in range(6):
    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())' "$URL" >"$T/py.out"
assert_eq "python: 6 answers" 6 "$(grep -c '^ok$' "$T/py.out")"
assert_eq "python: attempts on the dead address" "127.0.0.2:2/2" "$(per_addr py | grep -o "127.0.0.2:[0-9]*/[0-9]*")"

# python requests (urllib3 tries each address in turn too).
cfg req svc.bwtest "retries = 0"
inns "$T/hosts2" env BREAKWATER_CONFIG="$T/req.ini" LD_PRELOAD="$BW_PRELOAD" "$PYTHON3" -c '
import sys, requests
for i in range(6):
    print(requests.get(sys.argv[1], timeout=5).text.strip())' "$URL" >"$T/req.out"
assert_eq "requests: 6 answers" 6 "$(grep -c '^ok$' "$T/req.out")"
assert_eq "requests: attempts on the dead address" "127.0.0.2:2/2" "$(per_addr req | grep -o "127.0.0.2:[0-9]*/[0-9]*")"

# An IP the program chose itself is never substituted.
cfg ip "127.0.0.2, 127.0.0.3" "retries = 0"
inns "$T/hosts2" env BREAKWATER_CONFIG="$T/ip.ini" LD_PRELOAD="$BW_PRELOAD" \
    java -cp "$T" Failover "http://127.0.0.2:$PORT/" 4 >"$T/ip.out" 2>&1
assert_eq "an IP literal: never substituted" 4 "$(grep -c '^fail' "$T/ip.out")"

# 4 addresses, 3 of them dead, failover_max_ejected_percent = 50: with two
# breakers open (forced by the operator), a call that starts on one is routed
# to the live address (2 of 4 ejected: 50 %); with the third open too (75 %),
# it is not: the call fails fast, as without failover.
{ echo "127.0.0.1 localhost"; for a in 2 5 4 6; do echo "127.0.0.$a four.bwtest"; done; } >"$T/hosts4"
cfg four four.bwtest "retries = 0" "failover_max_ejected_percent = 50"
four() { inns "$T/hosts4" env BREAKWATER_CONFIG="$T/four.ini" LD_PRELOAD="$BW_PRELOAD" BREAKWATER_LOG=debug \
             java -cp "$T" Failover "http://four.bwtest:$PORT/" 1 2>"$T/four.err"; }
# One call that starts at each dead address makes its state (it fails: retries = 0).
for a in 2 4 6; do
    { echo "127.0.0.1 localhost"; echo "127.0.0.$a four.bwtest"; } >"$T/hosts.$a"
    assert_eq "nothing open yet: 127.0.0.$a fails the call" "fail ConnectException" \
        "$(inns "$T/hosts.$a" env BREAKWATER_CONFIG="$T/four.ini" LD_PRELOAD="$BW_PRELOAD" \
               java -cp "$T" Failover "http://four.bwtest:$PORT/" 1 2>&1)"
done
"$BW_CLI" force -c "$T/four.ini" "127.0.0.2:$PORT" open >/dev/null || fail "force .2"
"$BW_CLI" force -c "$T/four.ini" "127.0.0.4:$PORT" open >/dev/null || fail "force .4"
r=$(four); assert_eq "2 of 4 ejected: routed to the live address" "ok 200" "$r"
"$BW_CLI" force -c "$T/four.ini" "127.0.0.6:$PORT" open >/dev/null || fail "force .6"
assert_eq "3 of 4 ejected (75 % > 50 %): not routed around" "fail ConnectException" "$(four)"
assert_eq "... refused by the breaker, not the network" 1 \
    "$(status_rejected four "127.0.0.2:$PORT")"
echo "ok"
