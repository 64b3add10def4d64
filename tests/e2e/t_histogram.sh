#!/bin/bash
# The connect-time histogram (breakwater_connect_duration_seconds, one per
# destination, buckets 1 ms .. 30 s) and the breaker gauge in `metrics` and
# `status --json`: connects to a blackholed server that time out after
# 300 ms land between 0.25 s and 1 s, local echo connects under 0.1 s; four
# processes connecting at once lose no observation (atomic adds, no lock);
# the exposition passes the strict checker, histogram rules included;
# breakwater_breaker_state keeps SPEC §3's values (1 open, 4 forced closed);
# breakwater_failovers_total is declared.
. "$(dirname "$0")/lib.sh"
CLIENTS=$(cd "$(dirname "$0")/clients" && pwd)
require_shim
start_server P "$SUPPORT/bw_faultd" --max-seconds 200 echo
start_server HOLE "$SUPPORT/bw_faultd" --max-seconds 200 blackhole
CFG=$T/bw.ini
write_config "$CFG" <<EOF
[global]
state_dir = $T
[destination echo]
host = 127.0.0.1
port = $P
[destination hole]
host = 127.0.0.1
port = $HOLE
retries = 0
connect_timeout_ms = 300
breaker_consecutive_failures = 2
breaker_open_ms = 60000
breaker_open_max_ms = 60000
EOF
client() { BREAKWATER_CONFIG=$CFG shim timeout 60 "$PYTHON3" "$CLIENTS/state_conn.py" "$@"; }

got=$(client 127.0.0.1:$HOLE*2 | tr '\n' ' ')
assert_eq "blackholed connects" "err 110 err 110 " "$got"
pids=()
for i in 1 2 3 4; do client 127.0.0.1:$P*50 >"$T/c$i.out" & pids+=($!); done
wait "${pids[@]}"
for i in 1 2 3 4; do
    assert_eq "echo client $i" 50 "$(grep -c '^ok$' "$T/c$i.out")"
done

"$BW_CLI" metrics -c "$CFG" >"$T/metrics" || fail "metrics failed"
"$PYTHON3" "$CLIENTS/prom_check.py" <"$T/metrics" >"$T/check" || fail "metrics invalid: $(cat "$T/check")"
m() { grep -F "$1" "$T/metrics" | awk '{print $2}'; }
H=breakwater_connect_duration_seconds
assert_eq "hole: le=0.25" 0 "$(m "${H}_bucket{destination=\"hole\",le=\"0.25\"}")"
assert_eq "hole: le=1" 2 "$(m "${H}_bucket{destination=\"hole\",le=\"1\"}")"
assert_eq "hole: le=+Inf" 2 "$(m "${H}_bucket{destination=\"hole\",le=\"+Inf\"}")"
assert_eq "hole: count" 2 "$(m "${H}_count{destination=\"hole\"}")"
awk -v s="$(m "${H}_sum{destination=\"hole\"}")" 'BEGIN{exit !(s >= 0.55 && s < 2)}' ||
    fail "hole: sum $(m "${H}_sum{destination=\"hole\"}") is not 2 x ~0.3 s"
assert_eq "echo: count (4 processes x 50)" 200 "$(m "${H}_count{destination=\"echo\"}")"
assert_eq "echo: le=0.1" 200 "$(m "${H}_bucket{destination=\"echo\",le=\"0.1\"}")"
assert_eq "bucket lines per destination" 15 "$(grep -c "^${H}_bucket{destination=\"echo\"" "$T/metrics")"
grep -qx "# TYPE $H histogram" "$T/metrics" || fail "no histogram TYPE line"
grep -q "^breakwater_failovers_total{destination=\"echo\"} 0$" "$T/metrics" || fail "failovers_total not declared"
assert_eq "breaker gauge, open" 1 "$(m "breakwater_breaker_state{destination=\"hole\",address=\"127.0.0.1:$HOLE\"}")"
assert_eq "breaker gauge, closed" 0 "$(m "breakwater_breaker_state{destination=\"echo\",address=\"127.0.0.1:$P\"}")"
note "hole: $(m "${H}_sum{destination=\"hole\"}") s over 2 connects; echo: 200 connects, $(m "${H}_bucket{destination=\"echo\",le=\"0.001\"}") under 1 ms"

"$BW_CLI" status -c "$CFG" --json >"$T/status.json" || fail "status --json failed"
"$PYTHON3" - "$T/status.json" "$T/metrics" <<'PY' || fail "status --json histogram: $(cat "$T/status.json")"
import json, re, sys
d = json.load(open(sys.argv[1]))
prom = open(sys.argv[2]).read()
for dst in d["destinations"]:
    h = dst["connect_duration_seconds"]
    assert list(h["buckets"]) == ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                                  "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf"], h
    for le, v in h["buckets"].items():
        line = 'breakwater_connect_duration_seconds_bucket{destination="%s",le="%s"} %d' % (dst["name"], le, v)
        assert line in prom, line
    assert h["count"] == h["buckets"]["+Inf"], h
by = {x["name"]: x["connect_duration_seconds"] for x in d["destinations"]}
assert by["echo"]["count"] == 200 and by["hole"]["count"] == 2, by
PY
"$BW_CLI" force -c "$CFG" hole closed >/dev/null || fail "force failed"
"$BW_CLI" metrics -c "$CFG" >"$T/metrics"
assert_eq "breaker gauge, forced closed" 4 "$(m "breakwater_breaker_state{destination=\"hole\",address=\"127.0.0.1:$HOLE\"}")"
note "histograms in metrics and status --json agree; gauge values as SPEC §3"
