#!/bin/bash
# The state commands of the breakwater tool (SPEC section 3): `status` (table
# and --json, every field checked after a known sequence of connects),
# `metrics` (a strict exposition-format checker, and the values), `force` and
# `reset` (their effect on real connects), exit statuses and messages for
# usage errors, unknown destinations, a missing state file, an invalid config
# and state = process.
. "$(dirname "$0")/lib.sh"
CLIENTS=$(cd "$(dirname "$0")/clients" && pwd)
require_shim
start_server P "$SUPPORT/bw_faultd" -6 --max-seconds 200 echo
DEAD=$(free_port)
DEAD2=$(free_port)
while [ "$DEAD2" = "$DEAD" ] || [ "$DEAD2" = "$P" ]; do DEAD2=$(free_port); done
CFG=$T/bw.ini
write_config "$CFG" <<EOF
[global]
state_dir = $T
[destination echo]
host = 127.0.0.1
port = $P
retries = 0
breaker_errno = ECONNABORTED
max_connections = 7
[destination dead]
host = 127.0.0.1
port = $DEAD
retries = 0
breaker_errno = ECONNABORTED
[destination retry]
host = 127.0.0.1
port = $DEAD2
retries = 2
backoff_initial_ms = 1
backoff_max_ms = 2
EOF
client() { BREAKWATER_CONFIG=$CFG shim timeout 60 "$PYTHON3" "$CLIENTS/state_conn.py" "$@"; }
status_json() { "$BW_CLI" status -c "$CFG" --json; }
# py EXPR: evaluates EXPR with d = the JSON on stdin, dest(n) and addr(n, a).
py() {
    "$PYTHON3" -c '
import json, sys
d = json.load(sys.stdin)
def dest(n): return [x for x in d["destinations"] if x["name"] == n][0]
def addr(n, a): return [x for x in dest(n)["addresses"] if x["address"] == a][0]
print(eval(sys.argv[1]))' "$1"
}
# field DEST ADDR KEY...: the values of the address's keys in status --json.
field() {
    local d=$1 a=$2 e="" k; shift 2
    for k in "$@"; do e="$e addr('$d', '$a')['$k'],"; done
    status_json | py "' '.join(str(x) for x in ($e))"
}

# No program has run with the config yet: exit 1, one line, nothing created.
out=$("$BW_CLI" status -c "$CFG" 2>"$T/err"); rc=$?
assert_eq "status before any program: exit" 1 $rc
assert_eq "status before any program: stdout" "" "$out"
assert_eq "status before any program: stderr lines" 1 "$(wc -l <"$T/err")"
grep -qF "no shared state for $CFG yet (no program has run with it)" "$T/err" ||
    fail "status before any program says: $(cat "$T/err")"
for c in metrics "reset" "force echo open"; do
    "$BW_CLI" $c -c "$CFG" >/dev/null 2>&1; assert_eq "$c before any program: exit" 1 $?
done
ls "$T"/breakwater-* >/dev/null 2>&1 && fail "a state command created the state file"

# 3 round trips to echo, 2 refusals at dead, 1 connect no section matches
# (::1 -> default), 1 refusal at retry with 2 retries.
got=$(client 127.0.0.1:$P*3 127.0.0.1:$DEAD*2 "[::1]:$P" 127.0.0.1:$DEAD2 | tr '\n' ' ')
assert_eq "client results" "ok ok ok err 111 err 111 ok err 111 " "$got"
status_json >"$T/s.json" || fail "status --json failed"
"$PYTHON3" - "$T/s.json" "$CFG" "$P" "$DEAD" "$DEAD2" <<'PY' || fail "status --json content: $(cat "$T/s.json")"
import json, os, sys
d = json.load(open(sys.argv[1]))
cfg, p, dead, dead2 = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
assert d["config"] == os.path.realpath(cfg), d["config"]
names = [x["name"] for x in d["destinations"]]
assert names == ["dead", "default", "echo", "retry"], names
def addr(rec, **want):
    for k, v in want.items():
        assert rec[k] == v, (rec["address"], k, rec[k], v)
zero = dict(retries=0, rejected_breaker=0, retries_denied_budget=0, idempotency_keys=0,
            rate_limited=0)
keys = {"address", "breaker", "failure_rate", "window_calls", "connects", "failures",
        "retries", "rejected_breaker", "retries_denied_budget", "idempotency_keys", "rate_limited"}
for dst in d["destinations"]:
    assert {"name", "active", "max_connections", "rejected_bulkhead", "addresses"} <= set(dst), dst
    assert dst["active"] == 0 and dst["rejected_bulkhead"] == 0, dst
    assert len(dst["addresses"]) == 1, dst
    assert keys <= set(dst["addresses"][0]), dst
    for k in keys - {"address", "breaker", "failure_rate"}:
        assert type(dst["addresses"][0][k]) is int, (k, dst)
    assert type(dst["addresses"][0]["failure_rate"]) is float
by = {x["name"]: x for x in d["destinations"]}
assert by["echo"]["max_connections"] == 7 and by["dead"]["max_connections"] == 0
addr(by["echo"]["addresses"][0], address="127.0.0.1:" + p, breaker="closed", failure_rate=0.0,
     window_calls=3, connects=3, failures=0, **zero)
addr(by["dead"]["addresses"][0], address="127.0.0.1:" + dead, breaker="closed", failure_rate=1.0,
     window_calls=2, connects=2, failures=2, **zero)
addr(by["default"]["addresses"][0], address="[::1]:" + p, breaker="closed", failure_rate=0.0,
     window_calls=1, connects=1, failures=0, **zero)
# One connect() call with two retries: 3 attempts, each a call of the breaker.
addr(by["retry"]["addresses"][0], address="127.0.0.1:" + dead2, breaker="closed",
     failure_rate=1.0, window_calls=3, connects=1, failures=1, retries=2, rejected_breaker=0,
     retries_denied_budget=0, idempotency_keys=0)
assert sum(x["addresses"][0]["connects"] for x in d["destinations"]) == 7
PY
note "status --json: every field as expected after 7 connects"

# The table: one line per destination, one indented line per address.
"$BW_CLI" status -c "$CFG" >"$T/table" || fail "status failed"
grep -qxF "config $CFG" "$T/table" || fail "status: no config line: $(head -3 "$T/table")"
grep -qxF "echo: active 0/7, rejected_bulkhead 0" "$T/table" || fail "status: echo line: $(cat "$T/table")"
grep -qxF "dead: active 0/unlimited, rejected_bulkhead 0" "$T/table" || fail "status: dead line"
grep -qxF "  127.0.0.1:$DEAD breaker closed, failure_rate 1.00, window_calls 2, connects 2, failures 2, retries 0, rejected_breaker 0, retries_denied_budget 0, idempotency_keys 0, rate_limited 0" "$T/table" ||
    fail "status: dead address line: $(cat "$T/table")"
grep -qxF "  [::1]:$P breaker closed, failure_rate 0.00, window_calls 1, connects 1, failures 0, retries 0, rejected_breaker 0, retries_denied_budget 0, idempotency_keys 0, rate_limited 0" "$T/table" ||
    fail "status: default address line: $(cat "$T/table")"

# Output that cannot be written (a full disk): exit 1 and one line saying so.
for cmd in status metrics; do
    rc=0; "$BW_CLI" $cmd -c "$CFG" >/dev/full 2>"$T/err" || rc=$?
    assert_eq "$cmd to a full device: exit" 1 "$rc"
    assert_eq "$cmd to a full device: message" "breakwater: $cmd: cannot write the output" "$(cat "$T/err")"
done

# metrics: valid exposition, and the values.
"$BW_CLI" metrics -c "$CFG" >"$T/metrics" || fail "metrics failed"
"$PYTHON3" "$CLIENTS/prom_check.py" <"$T/metrics" >"$T/check" || fail "metrics invalid: $(cat "$T/check")"
for line in "breakwater_connects_total{destination=\"echo\",address=\"127.0.0.1:$P\",result=\"success\"} 3" \
    "breakwater_connects_total{destination=\"dead\",address=\"127.0.0.1:$DEAD\",result=\"failure\"} 2" \
    "breakwater_connects_total{destination=\"dead\",address=\"127.0.0.1:$DEAD\",result=\"rejected_breaker\"} 0" \
    "breakwater_connects_total{destination=\"default\",address=\"[::1]:$P\",result=\"success\"} 1" \
    "breakwater_retries_total{destination=\"retry\",address=\"127.0.0.1:$DEAD2\"} 2" \
    "breakwater_retries_denied_total{destination=\"retry\",address=\"127.0.0.1:$DEAD2\"} 0" \
    "breakwater_breaker_state{destination=\"echo\",address=\"127.0.0.1:$P\"} 0" \
    "breakwater_breaker_transitions_total{destination=\"dead\",address=\"127.0.0.1:$DEAD\",to=\"open\"} 0" \
    "breakwater_connections_active{destination=\"echo\",address=\"*\"} 0" \
    "breakwater_connections_max{destination=\"echo\",address=\"*\"} 7" \
    "breakwater_idempotency_keys_total{destination=\"echo\",address=\"127.0.0.1:$P\"} 0" \
    "breakwater_http_responses_total{destination=\"echo\",address=\"127.0.0.1:$P\",class=\"2xx\"} 0"; do
    assert_eq "metrics line $line" 1 "$(grep -cxF "$line" "$T/metrics")"
done
note "metrics: $(cat "$T/check") (families, samples), values as expected"

# force open: a connect to a live server is rejected at once with breaker_errno.
assert_eq "force open" "echo 127.0.0.1:$P: breaker forced_open" "$("$BW_CLI" force -c "$CFG" echo open)"
assert_eq "connect while forced open" "err 103" "$(client 127.0.0.1:$P)"
assert_eq "status forced_open" "forced_open 1" "$(field echo 127.0.0.1:$P breaker rejected_breaker)"
"$BW_CLI" metrics -c "$CFG" | grep -qxF "breakwater_breaker_state{destination=\"echo\",address=\"127.0.0.1:$P\"} 3" ||
    fail "metrics: forced open gauge is not 3"
# force closed (by address): admitted through any number of failures.
assert_eq "force closed" "dead 127.0.0.1:$DEAD: breaker forced_closed" \
    "$("$BW_CLI" force -c "$CFG" "127.0.0.1:$DEAD" closed)"
got=$(client 127.0.0.1:$DEAD*10 | sort | uniq -c | tr -s ' ')
assert_eq "forced closed: every connect reaches the dead port" " 10 err 111" "$got"
assert_eq "status forced_closed" "forced_closed 12 0" \
    "$(field dead 127.0.0.1:$DEAD breaker failures rejected_breaker)"
# auto: the window (12 failures) trips at once.
assert_eq "force auto" "dead 127.0.0.1:$DEAD: breaker open" "$("$BW_CLI" force -c "$CFG" dead auto)"
assert_eq "connect after auto" "err 103" "$(client 127.0.0.1:$DEAD)"
"$BW_CLI" metrics -c "$CFG" | grep -qxF "breakwater_breaker_transitions_total{destination=\"dead\",address=\"127.0.0.1:$DEAD\",to=\"forced_closed\"} 1" ||
    fail "metrics: forced_closed transition not counted"
# reset: breaker closed, window empty, connects go out again.
"$BW_CLI" reset -c "$CFG" dead >"$T/reset" || fail "reset dead failed"
assert_eq "reset dead output" "dead 127.0.0.1:$DEAD: breaker closed
dead: retry budget window cleared" "$(cat "$T/reset")"
assert_eq "status after reset" "closed 0 0.0" "$(field dead 127.0.0.1:$DEAD breaker window_calls failure_rate)"
assert_eq "connect after reset" "err 111" "$(client 127.0.0.1:$DEAD)"
# IPv6 DEST syntax, the default destination; then reset by address.
assert_eq "force [::1]" "default [::1]:$P: breaker forced_open" "$("$BW_CLI" force -c "$CFG" "[::1]:$P" open)"
assert_eq "connect to [::1] while forced open" "err 111" "$(client "[::1]:$P")"
assert_eq "reset [::1]" "default [::1]:$P: breaker closed" "$("$BW_CLI" reset -c "$CFG" "[::1]:$P")"
assert_eq "connect to [::1] after reset" "ok" "$(client "[::1]:$P")"
# reset everything.
"$BW_CLI" reset -c "$CFG" >"$T/reset" || fail "reset failed"
assert_eq "reset all: breaker lines" 4 "$(grep -c ': breaker closed$' "$T/reset")"
assert_eq "reset all: budget lines" 4 "$(grep -c ': retry budget window cleared$' "$T/reset")"
assert_eq "all closed after reset" "['closed', 'closed', 'closed', 'closed']" \
    "$(status_json | py '[x["addresses"][0]["breaker"] for x in d["destinations"]]')"
assert_eq "connects after reset" "ok ok " "$(client 127.0.0.1:$P "[::1]:$P" | tr '\n' ' ')"
note "force open/closed/auto and reset act on real connects"

# Unknown DEST; usage errors.
for c in "reset nosuch" "force nosuch open" "force 10.9.9.9:1 open"; do
    "$BW_CLI" $c -c "$CFG" >/dev/null 2>"$T/err"; rc=$?
    assert_eq "$c: exit" 1 $rc
    assert_eq "$c: stderr lines" 1 "$(wc -l <"$T/err")"
    grep -q "no destination or address '[^']*' in the shared state" "$T/err" || fail "$c says: $(cat "$T/err")"
done
for c in "status --bogus" "status -c $CFG extra" "metrics --json" "force -c $CFG echo" \
    "force -c $CFG echo sideways" "reset -c $CFG a b" "force"; do
    "$BW_CLI" $c >/dev/null 2>"$T/err"; rc=$?
    assert_eq "'$c': exit" 2 $rc
    grep -q usage "$T/err" || fail "'$c': no usage line"
done
for c in status metrics reset force; do
    "$BW_CLI" help $c | grep -q "^Usage: breakwater $c" || fail "help $c"
    "$BW_CLI" --help | grep -q "breakwater $c " || fail "--help lacks $c"
done

# An invalid config: exit 1, one line.
printf '[global]\nstate_dir = %s\nbogus = 1\n' "$T" | write_config "$T/bad.ini"
"$BW_CLI" status -c "$T/bad.ini" >/dev/null 2>"$T/err"; rc=$?
assert_eq "invalid config: exit" 1 $rc
assert_eq "invalid config: one line" 1 "$(wc -l <"$T/err")"
grep -q "bad.ini:3: error" "$T/err" || fail "invalid config says: $(cat "$T/err")"

# state = process: nothing shared to show (0); nothing to change (1).
printf '[global]\nstate = process\nstate_dir = %s\n' "$T" | write_config "$T/proc.ini"
out=$("$BW_CLI" status -c "$T/proc.ini"); rc=$?
assert_eq "process: status exit" 0 $rc
[[ $out == *"nothing shared to show"* ]] || fail "process: status says: $out"
assert_eq "process: status --json" True \
    "$("$BW_CLI" status -c "$T/proc.ini" --json | py 'd["destinations"] == [] and d["state"] == "process"')"
"$BW_CLI" metrics -c "$T/proc.ini" >"$T/pm"; assert_eq "process: metrics exit" 0 $?
"$PYTHON3" "$CLIENTS/prom_check.py" <"$T/pm" >/dev/null || fail "process: metrics output invalid"
for c in "reset" "force x open"; do
    "$BW_CLI" $c -c "$T/proc.ini" >/dev/null 2>"$T/err"; rc=$?
    assert_eq "process: $c exit" 1 $rc
    grep -q "state = process" "$T/err" || fail "process: $c says: $(cat "$T/err")"
done

# BREAKWATER_CONFIG is the default FILE, like the library's.
assert_eq "status without -c" "$CFG" "$(BREAKWATER_CONFIG=$CFG "$BW_CLI" status --json | py 'd["config"]')"
# No config at all: the built-in config's state (may or may not exist here).
if [ ! -e /etc/breakwater.ini ]; then
    out=$(env -u BREAKWATER_CONFIG "$BW_CLI" status --json 2>"$T/err"); rc=$?
    if [ $rc -eq 0 ]; then
        assert_eq "builtin status --json" True \
            "$(echo "$out" | py 'd["config"] is None and "-builtin-v" in d["state_file"]')"
    else
        assert_eq "builtin status: exit" 1 $rc
        grep -q "built-in config" "$T/err" || fail "builtin status says: $(cat "$T/err")"
    fi
fi
note "usage errors, unknown DEST, invalid config, state = process, default FILE"
