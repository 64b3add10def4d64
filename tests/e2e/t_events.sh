#!/bin/bash
# `breakwater events` (SPEC §9): a breaker tripped by refused connects is
# read back as a transition with its reason, the connects it then rejects as
# one summary per second whose counts add up; a full bulkhead gives a
# saturation event and bulkhead rejections; a config reload and a broken
# reload are events; `--follow` prints new events (from the shim and from
# `force`) within its bound; every `--json` line parses. state = process and
# usage errors are refused.
. "$(dirname "$0")/lib.sh"
CLIENTS=$(cd "$(dirname "$0")/clients" && pwd)
require_shim
start_server P "$SUPPORT/bw_faultd" --max-seconds 200 echo
DEAD=$(free_port)
CFG=$T/bw.ini
write_config "$CFG" <<EOF
[global]
state_dir = $T
[destination dead]
host = 127.0.0.1
port = $DEAD
retries = 0
breaker_consecutive_failures = 3
breaker_open_ms = 60000
breaker_open_max_ms = 60000
breaker_errno = ECONNABORTED
[destination echo]
host = 127.0.0.1
port = $P
retries = 0
max_connections = 1
EOF
client() { BREAKWATER_CONFIG=$CFG shim timeout 60 "$PYTHON3" "$CLIENTS/state_conn.py" "$@"; }
# jq_py EXPR: evaluates EXPR with ev = the list of JSON events on stdin.
jq_py() { "$PYTHON3" -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin]
print(eval(sys.argv[1]))' "$1"; }

# Trip the breaker: 3 refusals, then 3 connects rejected by it.
got=$(client 127.0.0.1:$DEAD*6 2>"$T/client.err" | tr '\n' ' ')
assert_eq "client results" "err 111 err 111 err 111 err 103 err 103 err 103 " "$got"
"$BW_CLI" events -c "$CFG" --json >"$T/ev1.json" || fail "events --json failed"
"$PYTHON3" - "$T/ev1.json" "$DEAD" <<'PY' || fail "events after the trip: $(cat "$T/ev1.json")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
addr = "127.0.0.1:" + sys.argv[2]
for e in ev:
    assert {"seq", "time", "time_ms", "pid", "kind", "message"} <= set(e), e
brk = [e for e in ev if e["kind"] == "breaker"]
assert len(brk) == 1, brk
b = brk[0]
assert (b["destination"], b["address"], b["from"], b["to"], b["reason"]) == \
    ("dead", addr, "closed", "open", "consecutive_failures"), b
assert b["failures"] == 3 and b["threshold"] == 3, b
assert 54000 <= b["open_ms"] <= 66000, b
assert b["message"].startswith("dead %s breaker open: 3 consecutive failures; next probe in " % addr), b
rej = [e for e in ev if e["kind"] == "rejections"]
assert rej and all(e["cause"] == "breaker" and e["address"] == addr for e in rej), rej
assert sum(e["count"] for e in rej) == 3, rej
assert [e["seq"] for e in ev] == sorted(e["seq"] for e in ev), ev
PY
"$BW_CLI" events -c "$CFG" >"$T/ev1.txt" || fail "events failed"
grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z \[[0-9]+\] dead 127\.0\.0\.1:$DEAD breaker open: 3 consecutive failures; next probe in [0-9]+ ms$" "$T/ev1.txt" ||
    fail "events text: $(cat "$T/ev1.txt")"
grep -Eq "\] dead 127\.0\.0\.1:$DEAD rejected 3 connects in this second: breaker open$" "$T/ev1.txt" ||
    note "rejections spread over two seconds: $(grep rejected "$T/ev1.txt")"
note "breaker trip read back: $(grep 'breaker open:' "$T/ev1.txt")"

# A full bulkhead: one connection held, two more refused.
mkfifo "$T/hold.in"
BREAKWATER_CONFIG=$CFG shim timeout 60 "$PYTHON3" "$CLIENTS/state_conn.py" --hold 127.0.0.1:$P \
    <"$T/hold.in" >"$T/hold.out" 2>&1 &
BW_PIDS+=($!)
exec 5>"$T/hold.in"
for ((i = 0; i < 200; i++)); do grep -q '^held 1' "$T/hold.out" && break; sleep 0.05; done
grep -q '^held 1' "$T/hold.out" || fail "holder: $(cat "$T/hold.out")"
got=$(client 127.0.0.1:$P*2 | tr '\n' ' ')
assert_eq "connects past the bulkhead" "err 111 err 111 " "$got"
exec 5>&-
"$BW_CLI" events -c "$CFG" --json | jq_py '(
[(e["kind"], e["address"], e.get("active"), e.get("max")) for e in ev if e["kind"] == "bulkhead_full"] == [("bulkhead_full", "*", 1, 1)] and
sum(e["count"] for e in ev if e["kind"] == "rejections" and e["cause"] == "bulkhead") == 2)' >"$T/bh" ||
    fail "bulkhead events unreadable"
assert_eq "bulkhead_full event and 2 bulkhead rejections" True "$(cat "$T/bh")"

# --follow: started now, it prints what happens next (a reload, a broken
# reload by a running program; an operator's force) within its bound.
"$BW_CLI" events -c "$CFG" --follow --json >"$T/follow.json" 2>"$T/follow.err" &
FOLLOW=$!
BW_PIDS+=($FOLLOW)
before=$("$BW_CLI" events -c "$CFG" | wc -l)
for ((i = 0; i < 100; i++)); do [ "$(wc -l <"$T/follow.json")" -ge "$before" ] && break; sleep 0.05; done
assert_eq "--follow prints the existing events first" "$before" "$(wc -l <"$T/follow.json")"
BREAKWATER_CONFIG=$CFG shim timeout 60 "$PYTHON3" - "$CFG" "$P" <<'PY' 2>"$T/reload.err" || fail "reloading client failed: $(cat "$T/reload.err")"
import socket, sys, time
cfg, port = sys.argv[1], int(sys.argv[2])
def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=10); s.close()
connect()
with open(cfg, "a") as f:
    f.write("[destination extra]\nhost = 127.0.0.9\n")
time.sleep(1.3)
connect()                      # checks the file: reloaded, 3 destinations
with open(cfg, "a") as f:
    f.write("no_such_key = 1\n")
time.sleep(1.3)
connect()                      # broken: the previous config stays
with open(cfg) as f:
    text = f.read()
with open(cfg, "w") as f:        # valid again, for the tool
    f.write(text.replace("no_such_key = 1\n", ""))
PY
t0=$EPOCHREALTIME
"$BW_CLI" force -c "$CFG" dead closed >/dev/null || fail "force failed"
for ((i = 0; i < 100; i++)); do grep -q '"forced_closed"' "$T/follow.json" && break; sleep 0.05; done
ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%d", (b-a)*1000}')
grep -q '"forced_closed"' "$T/follow.json" || fail "--follow did not print the force within 5 s: $(tail -3 "$T/follow.json")"
kill -0 $FOLLOW 2>/dev/null || fail "--follow exited: $(cat "$T/follow.err")"
"$PYTHON3" - "$T/follow.json" "$CFG" "$before" <<'PY' || fail "--follow output: $(tail -n 4 "$T/follow.json")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
new = ev[int(sys.argv[3]):]
kinds = [e["kind"] for e in new]
assert kinds == ["config_reload", "config_error", "breaker"], kinds
assert new[0]["config"] == sys.argv[2] and new[0]["destinations"] == 3, new[0]
assert "no_such_key" in new[1]["error"] and new[1]["message"].endswith("keeping the previous config"), new[1]
assert (new[2]["from"], new[2]["to"], new[2]["reason"]) == ("open", "forced_closed", "forced"), new[2]
PY
kill $FOLLOW
note "--follow: reload, config error and force seen; the force after ${ms} ms (tick 200 ms)"

# Refusals.
printf '[global]\nstate = process\n' | write_config "$T/proc.ini"
"$BW_CLI" events -c "$T/proc.ini" >/dev/null 2>"$T/err"; rc=$?
assert_eq "events with state = process: exit" 1 $rc
grep -q "state = process: events are kept in the shared state only" "$T/err" || fail "state = process: $(cat "$T/err")"
"$BW_CLI" events --bogus >/dev/null 2>&1; assert_eq "events --bogus: exit" 2 $?
note "events: trip, rejections, bulkhead, reloads, follow, JSON verified"
