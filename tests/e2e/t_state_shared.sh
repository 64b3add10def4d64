#!/bin/bash
# Shared state (SPEC section 7) across processes of one config: a breaker
# tripped by one process rejects another's connects at once; a bulkhead caps
# the sum over processes; a pre-fork server's 4 workers share one breaker
# (failures before it opens stay near the threshold, not 4x); two processes
# share one retry budget.
. "$(dirname "$0")/lib.sh"
CLIENTS=$(cd "$(dirname "$0")/clients" && pwd)
require_shim
start_server P "$SUPPORT/bw_faultd" --max-seconds 200 echo
ports=()
while [ ${#ports[@]} -lt 3 ]; do
    p=$(free_port)
    [[ " ${ports[*]} $P " == *" $p "* ]] || ports+=("$p")
done
DEAD=${ports[0]} FORK=${ports[1]} BUDGET=${ports[2]}
CFG=$T/bw.ini
write_config "$CFG" <<EOF
[global]
state_dir = $T
[destination echo]
host = 127.0.0.1
port = $P
max_connections = 2
bulkhead_errno = ECONNABORTED
[destination dead]
host = 127.0.0.1
port = $DEAD
retries = 0
breaker_consecutive_failures = 3
breaker_open_ms = 60000
breaker_open_max_ms = 60000
breaker_errno = ECONNABORTED
[destination prefork]
host = 127.0.0.1
port = $FORK
retries = 0
breaker_consecutive_failures = 5
breaker_open_ms = 60000
breaker_open_max_ms = 60000
breaker_errno = ECONNABORTED
[destination budget]
host = 127.0.0.1
port = $BUDGET
retries = 3
backoff_initial_ms = 1
backoff_max_ms = 1
retry_budget_percent = 10
retry_budget_min_per_sec = 1
breaker = off
EOF
client() { BREAKWATER_CONFIG=$CFG shim timeout 60 "$PYTHON3" "$CLIENTS/state_conn.py" "$@"; }
field() {   # field DEST KEY: the value for DEST's first address, or DEST's own key
    "$BW_CLI" status -c "$CFG" --json | "$PYTHON3" -c '
import json, sys
d = [x for x in json.load(sys.stdin)["destinations"] if x["name"] == sys.argv[1]][0]
print(d[sys.argv[2]] if sys.argv[2] in d else d["addresses"][0][sys.argv[2]])' "$1" "$2"
}

# 1. Process A trips the breaker; process B, started afterwards, fails fast.
got=$(client 127.0.0.1:$DEAD*20 --until-err 103 | tr '\n' ' ')
assert_eq "A: three refusals, then the breaker" "err 111 err 111 err 111 err 103 " "$got"
assert_eq "B: rejected at once" "err 103" "$(client 127.0.0.1:$DEAD)"
assert_eq "status: breaker open" open "$(field dead breaker)"
assert_eq "status: failures" 3 "$(field dead failures)"
assert_eq "status: rejected_breaker" 2 "$(field dead rejected_breaker)"
note "a breaker tripped by one process rejects another's connects"

# 2. A holds 2 connections (max_connections = 2); B's connect is rejected.
mkfifo "$T/hold"
BREAKWATER_CONFIG=$CFG shim timeout 60 "$PYTHON3" "$CLIENTS/state_conn.py" --hold 127.0.0.1:$P*2 \
    <"$T/hold" >"$T/a.out" &
apid=$!; BW_PIDS+=($apid)
exec 7>"$T/hold"
for ((i = 0; i < 200; i++)); do grep -q '^held' "$T/a.out" && break; sleep 0.05; done
assert_eq "A holds" "ok ok held 2 " "$(tr '\n' ' ' <"$T/a.out")"
assert_eq "status: active 2 of 2" "2 2" "$(field echo active) $(field echo max_connections)"
assert_eq "B: bulkhead full" "err 103" "$(client 127.0.0.1:$P)"
assert_eq "status: rejected_bulkhead" 1 "$(field echo rejected_bulkhead)"
exec 7>&-
wait $apid
assert_eq "B after A closed" "ok" "$(client 127.0.0.1:$P)"
assert_eq "status: active 0" 0 "$(field echo active)"
note "a bulkhead of 2 is shared: the third connection, in another process, is rejected"

# 3. Pre-fork: 4 workers forked by one parent call a dead port, 25 times each.
cat >"$T/prefork.py" <<'PY'
import os, socket, sys
port = int(sys.argv[1])
kids = []
r, w = os.pipe()
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)           # start together: the parent closes w
        real = rejected = 0
        for _ in range(25):
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", port))
            except OSError as e:
                if e.errno == 103: rejected += 1
                else: real += 1
            s.close()
        os.write(1, ("worker %d %d\n" % (real, rejected)).encode())   # one write: lines of 4 processes must not interleave
        os._exit(0)
    kids.append(pid)
os.close(r)
os.close(w)
for k in kids:
    os.waitpid(k, 0)
PY
BREAKWATER_CONFIG=$CFG shim timeout 60 "$PYTHON3" "$T/prefork.py" "$FORK" >"$T/prefork.out"
assert_eq "workers" 4 "$(grep -c '^worker' "$T/prefork.out")"
real=$(awk '{s += $2} END {print s}' "$T/prefork.out")
rej=$(awk '{s += $3} END {print s}' "$T/prefork.out")
assert_eq "every connect ended" 100 $((real + rej))
# One breaker for all: it opens after 5 failures in a row; a few more may be
# in flight in the other workers then, never 4 x 5.
[ "$real" -ge 5 ] && [ "$real" -le 9 ] || fail "pre-fork: $real connects reached the dead port (threshold 5)"
assert_eq "status: failures = the workers' refusals" "$real" "$(field prefork failures)"
assert_eq "status: rejected_breaker" "$rej" "$(field prefork rejected_breaker)"
assert_eq "status: open" open "$(field prefork breaker)"
"$BW_CLI" metrics -c "$CFG" | grep -qxF "breakwater_breaker_transitions_total{destination=\"prefork\",address=\"127.0.0.1:$FORK\",to=\"open\"} 1" ||
    fail "pre-fork: the breaker did not open exactly once"
note "pre-fork: $real of 100 connects reached the dead port before the shared breaker opened"

# 4. One retry budget for two processes: at most max(10% of 60, 1/s x 10 s) = 10.
for n in 1 2; do
    BREAKWATER_CONFIG=$CFG shim timeout 60 "$PYTHON3" "$CLIENTS/state_conn.py" \
        127.0.0.1:$BUDGET*30 >"$T/budget.$n" &
    BW_PIDS+=($!)
done
wait "${BW_PIDS[@]: -2}"
assert_eq "budget: all refused" 60 "$(cat "$T/budget.1" "$T/budget.2" | grep -c '^err 111')"
retries=$(field budget retries)
denied=$(field budget retries_denied_budget)
assert_eq "budget: connects" 60 "$(field budget connects)"
[ "$retries" -ge 1 ] && [ "$retries" -le 10 ] || fail "budget: $retries retries granted (budget 10)"
[ "$denied" -ge 1 ] || fail "budget: no retry denied ($retries granted)"
note "one retry budget across processes: $retries retries granted, $denied denied"
