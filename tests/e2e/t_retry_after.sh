#!/bin/bash
# t_retry_after.sh - Retry-After (issue 15): a 503 or 429 carrying
# Retry-After, read where breaker_http_status is set, opens that address's
# breaker for the time the server named (seconds or an HTTP-date), capped by
# retry_after_max_ms; then the next call goes through. The config keeps the
# ordinary rules from opening it (breaker_consecutive_failures = 100,
# breaker_open_ms = 30000), so what opens and closes it is the server's word.
. "$(dirname "$0")/lib.sh"
require_shim
start_server PORT "$PYTHON3" "$(dirname "$0")/clients/retry_after_server.py"
cfg() {   # NAME EXTRA...
    local n=$1; shift
    { printf '[global]\nstate_dir = %s/%s\n[destination api]\nhost = 127.0.0.1\nport = %s\n' "$T" "$n" "$PORT"
      printf 'retries = 0\nbreaker_http_status = 500-599\nbreaker_consecutive_failures = 100\n'
      printf 'breaker_open_ms = 30000\nbreaker_open_max_ms = 30000\n'
      local l; for l in "$@"; do echo "$l"; done; } | write_config "$T/$n.ini"
    mkdir -p "$T/$n"
}
# get NAME PATH: curl under config NAME; prints the HTTP code (000 when refused).
get() { BREAKWATER_CONFIG="$T/$1.ini" shim curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
            "http://127.0.0.1:$PORT$2" 2>>"$T/$1.err"; }
state() { "$BW_CLI" status -c "$T/$1.ini" --json | "$PYTHON3" -c '
import json, sys
print(" ".join(a["breaker"] for x in json.load(sys.stdin)["destinations"] for a in x["addresses"]))'; }
# until_ok NAME [T0]: ms from T0 (default: now) until a GET /ok answers 200
# (polled every 50 ms, at most 6 s).
until_ok() {
    local t0=${2:-$EPOCHREALTIME} i
    for ((i = 0; i < 120; i++)); do
        [ "$(get "$1" /ok)" = 200 ] && break
        sleep 0.05
    done
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }'
}

# Without the shim: the next call after a 503 goes through at once.
assert_eq "plain: 503" 503 "$(env -u LD_PRELOAD curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/busy")"

for path in busy busydate slow; do
    cfg "$path"
    t0=$EPOCHREALTIME
    assert_eq "$path: the program sees the response itself" "$([ $path = slow ] && echo 429 || echo 503)" \
        "$(BREAKWATER_LOG=warn get "$path" "/$path")"
    assert_eq "$path: breaker open after Retry-After" open "$(state "$path")"
    assert_eq "$path: the next call is refused at once" 000 "$(get "$path" /ok)"
    ms=$(until_ok "$path" "$t0")
    note "$path: Retry-After 2 s; the first call went through $ms ms after the request"
    ((ms >= 1800 && ms <= 5000)) || fail "$path: the breaker let calls through $ms ms after the request, Retry-After said 2 s"
    assert_eq "$path: closed again by the probe" closed "$(state "$path")"
    grep -q "breaker open: the server asked to retry after [0-9]* ms (Retry-After)" "$T/$path.err" ||
        { cat "$T/$path.err" >&2; fail "$path: no Retry-After log line"; }
done

# A 429 is counted apart from failures: rate_limited in status (table and
# --json) and breakwater_rate_limited_total in metrics; a 503 is not one.
# counters NAME: "rate_limited/failures" of the address, from status --json.
counters() { "$BW_CLI" status -c "$T/$1.ini" --json | "$PYTHON3" -c '
import json, sys
a = [a for x in json.load(sys.stdin)["destinations"] for a in x["addresses"]][0]
print("%d/%d" % (a["rate_limited"], a["failures"]))'; }
assert_eq "429 with Retry-After: counted as rate limited, not as a failure" 1/0 "$(counters slow)"
assert_eq "503: not rate limited" 0/0 "$(counters busy)"
cfg throttle
for i in 1 2 3; do assert_eq "429 without Retry-After ($i)" 429 "$(get throttle /throttle)"; done
assert_eq "three 429s counted" 3/0 "$(counters throttle)"
assert_eq "429 without Retry-After: breaker stays closed (500-599 judged)" closed "$(state throttle)"
"$BW_CLI" status -c "$T/throttle.ini" | grep -q "127.0.0.1:$PORT breaker closed,.* rate_limited 3$" ||
    { "$BW_CLI" status -c "$T/throttle.ini" >&2; fail "status table: no 'rate_limited 3'"; }
assert_eq "metrics: breakwater_rate_limited_total" 3 \
    "$("$BW_CLI" metrics -c "$T/throttle.ini" | sed -n "s/^breakwater_rate_limited_total{destination=\"api\",address=\"127.0.0.1:$PORT\"} //p")"
note "429s counted apart: slow $(counters slow), throttle $(counters throttle) (rate_limited/failures)"

# retry_after_max_ms caps it: 2 s asked, 300 ms kept.
cfg cap "retry_after_max_ms = 300"
get cap /busy >/dev/null
ms=$(until_ok cap)
((ms <= 1000)) || fail "retry_after_max_ms = 300: still open after $ms ms"
note "capped at 300 ms: through after $ms ms"

# retry_after = off: the 503 is only a failure like any other (1 of 100).
cfg off "retry_after = off"
get off /busy >/dev/null
assert_eq "retry_after = off: breaker stays closed" closed "$(state off)"
assert_eq "retry_after = off: the next call goes through" 200 "$(get off /ok)"
echo "ok"
